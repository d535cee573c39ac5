"""Thin Celery tasks of the recordings app: ids in, a service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from audit.context import acting_as

from .services.integrity import recordings_verify_integrity
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
