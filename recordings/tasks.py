"""Thin Celery tasks of the recordings app: ids in, a service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from audit.context import acting_as

from .services.integrity import recordings_verify_integrity
from .services.purge.run import DEFAULT_BATCH_SIZE
from .services.purge.run import purge_expired_recordings as run_purge
from .services.purge.verification import orphan_files_sweep
from .services.retention import recordings_retention_recompute
from .subject_requests.export import (
    BUILD_TIME_LIMIT_SECONDS,
    subject_export_build,
    subject_exports_expire,
)


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


@shared_task(
    name="recordings.tasks.build_subject_export",
    acks_late=True,
    # A worker killed mid-way has the message delivered again (task_reject_on_worker_lost): the
    # build starts again from nothing. The soft limit lets it clean up and record the failure.
    time_limit=BUILD_TIME_LIMIT_SECONDS,
    soft_time_limit=BUILD_TIME_LIMIT_SECONDS - 300,
)
def build_subject_export(export_id: int) -> dict:
    """The ZIP answering an access or portability request (recordings/subject_requests/export.py).
    Idempotent: a ready export is left as it is, a failed or interrupted one built again."""
    with acting_as("task:recordings.tasks.build_subject_export"):
        export = subject_export_build(export_id=export_id)
    return {
        "export": export.pk,
        "status": export.status,
        "recordings": export.recordings_count,
        "audio_files": export.audio_files,
        "size_bytes": export.size_bytes,
    }


@shared_task(
    name="recordings.tasks.expire_subject_exports",
    acks_late=True,
    time_limit=3600,
    soft_time_limit=3300,
)
def expire_subject_exports() -> dict:
    """Nightly: exports past SUBJECT_EXPORT_DAYS deleted, abandoned builds cleaned up."""
    with acting_as("task:recordings.tasks.expire_subject_exports"):
        summary = subject_exports_expire()
    return {"deleted": summary.deleted, "abandoned": summary.abandoned, "errors": summary.errors}
