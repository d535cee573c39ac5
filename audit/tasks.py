"""Thin Celery tasks of the audit app: load, call the service, return a small summary."""

from __future__ import annotations

from celery import shared_task

from .alerts.engine import alert_rules_evaluate
from .context import acting_as
from .verification import audit_chain_verify_and_alert


@shared_task(name="audit.tasks.verify_audit_chain", acks_late=True, time_limit=6 * 3600)
def verify_audit_chain(full: bool = False) -> dict:
    """Nightly: re-hash the events appended since the last signed checkpoint (weekly, with
    `full`: the whole chain); alert when it is broken. The summary names the range re-hashed.
    Idempotent: a redelivered run verifies again and stores another checkpoint."""
    with acting_as("task:audit.tasks.verify_audit_chain"):
        result = audit_chain_verify_and_alert(full=full)
    return result.summary()


@shared_task(name="audit.tasks.evaluate_alert_rules", acks_late=True)
def evaluate_alert_rules() -> dict:
    """Every ALERT_RULES_EVERY_SECONDS: the alert rules over the events appended since their last
    run. Idempotent: a redelivered or overlapping run finds the cursors advanced and raises
    nothing twice."""
    with acting_as("task:audit.tasks.evaluate_alert_rules"):
        return alert_rules_evaluate().summary()
