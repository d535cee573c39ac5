"""Thin Celery tasks of the audit app: load, call the service, return a small summary."""

from __future__ import annotations

from celery import shared_task

from .context import acting_as
from .forwarding.delivery import audit_trails_forward
from .verification import audit_chain_verify_and_alert


@shared_task(name="audit.tasks.verify_audit_chain", acks_late=True, time_limit=6 * 3600)
def verify_audit_chain(full: bool = False) -> dict:
    """Nightly: re-hash the events appended since the last signed checkpoint (weekly, with
    `full`: the whole chain); alert when it is broken. The summary names the range re-hashed.
    Idempotent: a redelivered run verifies again and stores another checkpoint."""
    with acting_as("task:audit.tasks.verify_audit_chain"):
        result = audit_chain_verify_and_alert(full=full)
    return result.summary()


@shared_task(name="audit.tasks.forward_audit_trail", acks_late=True, time_limit=600)
def forward_audit_trail() -> dict:
    """Every SIEM_FORWARD_EVERY_SECONDS: each enabled forwarder that is due sends its tenant's
    new events from its cursor. Safe to run twice at once (a forwarder being served is skipped)
    and to redeliver (the cursor says what was accepted)."""
    with acting_as("task:audit.tasks.forward_audit_trail"):
        results = audit_trails_forward()
    return {"forwarders": [result.summary() for result in results]}
