"""Thin Celery tasks of the recordings app: ids in, a service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from audit.context import acting_as

from .services.integrity import recordings_verify_integrity
from .services.purge.run import DEFAULT_BATCH_SIZE
from .services.purge.run import purge_expired_recordings as run_purge
from .services.purge.verification import orphan_files_sweep
from .services.retention import recordings_retention_recompute


@shared_task(
    name="recordings.tasks.recompute_retention",
    acks_late=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_retention(purpose_id: int, tenant_id: int | None = None) -> dict:
    """After a retention policy changed. Idempotent: a second run finds nothing to change."""
    with acting_as("task:recordings.tasks.recompute_retention"):
        summary = recordings_retention_recompute(purpose_id=purpose_id, tenant_id=tenant_id)
    return {"checked": summary.checked, "changed": summary.changed}


@shared_task(name="recordings.tasks.verify_integrity", acks_late=True, time_limit=6 * 3600)
def verify_integrity() -> dict:
    """Weekly: every active recording still decrypts to the audio that was ingested."""
    with acting_as("task:recordings.tasks.verify_integrity"):
        report = recordings_verify_integrity()
    return {"checked": report.checked, "failures": report.failures}


@shared_task(
    name="recordings.tasks.purge_expired_recordings",
    acks_late=True,
    # Far above a night's purge of a million recordings; Redis' visibility timeout is above it
    # (settings), so a running purge is never delivered to a second worker.
    time_limit=4 * 3600,
    soft_time_limit=4 * 3600 - 300,
)
def purge_expired_recordings(batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """Nightly. Idempotent and restartable: a redelivered or concurrent run purges what is left
    and nothing twice (tenant locks, SKIP LOCKED, one certificate per recording)."""
    with acting_as("task:recordings.tasks.purge_expired_recordings"):
        run = run_purge(batch_size=batch_size, triggered_by="celery beat")
        orphans = orphan_files_sweep()
    return {
        "run": run.pk,
        "status": run.status,
        "purged": run.purged,
        "skipped_held": run.skipped_held,
        "failed": run.failed,
        "orphans_removed": len(orphans),
    }
