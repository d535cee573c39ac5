"""Thin Celery tasks of the audit app: load, call the service, return a small summary."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from .alerts.engine import alert_rules_evaluate
from .context import acting_as
from .forwarding.delivery import audit_trails_forward
from .notifications import alert_email_send, incident_reminder_send, incidents_due_for_reminder
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


# A mail server that refuses or cannot be reached: retried with exponential back-off (about 1,
# 2, 4 … minutes, at most 30 between tries, for a day). The alert or incident is committed
# before the task is sent, so a failed send loses nothing. Also the retry of compliance's
# reminders of data-subject requests' deadlines (compliance/tasks.py).
MAIL_RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": 60,
    "retry_backoff_max": 1800,
    "retry_jitter": True,
    "max_retries": 48,
}


@shared_task(name="audit.tasks.send_alert_email", acks_late=True, **MAIL_RETRY)
def send_alert_email(alert_id: int) -> dict:
    """Mail a high-severity alert to its tenant's compliance officers."""
    with acting_as("task:audit.tasks.send_alert_email"):
        return alert_email_send(alert_id)


@shared_task(name="audit.tasks.send_incident_reminder", acks_late=True, **MAIL_RETRY)
def send_incident_reminder(incident_id: int) -> dict:
    """Remind the compliance officers of one incident's 72-hour deadline (once: a reminder
    already sent is not sent again)."""
    with acting_as("task:audit.tasks.send_incident_reminder"):
        return incident_reminder_send(incident_id)


@shared_task(name="audit.tasks.remind_incident_deadlines", acks_late=True)
def remind_incident_deadlines() -> dict:
    """Every 15 minutes: a reminder task for each open incident whose deadline is less than 24
    hours away and whose officers have not been reminded."""
    due = list(incidents_due_for_reminder().values_list("pk", flat=True))
    for incident_id in due:
        send_incident_reminder.delay(incident_id)
    return {"due": len(due)}


@shared_task(
    name="audit.tasks.forward_audit_trail", acks_late=True, time_limit=600, soft_time_limit=540
)
def forward_audit_trail() -> dict:
    """Every SIEM_FORWARD_EVERY_SECONDS: each enabled forwarder that is due sends its tenant's
    new events from its cursor. Safe to run twice at once (a forwarder being served is skipped)
    and to redeliver (the cursor says what was accepted)."""
    with acting_as("task:audit.tasks.forward_audit_trail"):
        results = audit_trails_forward()
    return {"forwarders": [result.summary() for result in results]}
