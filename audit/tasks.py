"""Thin Celery tasks of the audit app: load, call the service, return a small summary."""

from __future__ import annotations

from celery import shared_task

from .context import acting_as
from .services import audit_chain_verify_and_alert


@shared_task(name="audit.tasks.verify_audit_chain", acks_late=True, time_limit=6 * 3600)
def verify_audit_chain(full: bool = False) -> dict:
    """Nightly: recompute the chain from the last signed checkpoint; alert when it is broken.
    Idempotent: a redelivered run verifies again and stores another checkpoint."""
    with acting_as("task:audit.tasks.verify_audit_chain"):
        result = audit_chain_verify_and_alert(full=full)
    return {
        "intact": result.intact,
        "checked": result.checked,
        "last_sequence": result.last_sequence,
        "broken_at": result.broken_at,
        "reason": result.reason,
    }
