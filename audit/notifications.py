"""E-mails to a tenant's compliance officers: a high-severity alert, and an incident 24 hours
before its 72-hour deadline.

Sending is a Celery task sent once the transaction that raised the alert has committed
(`transaction.on_commit`): a mail server that is down never rolls back or loses the alert, and a
failed send is retried with back-off (audit/tasks.py). The officers are found through the user
model's memberships (audit imports no domain app).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kit.mail import mail_in_their_languages
from kit.times import in_tenant_zone

from .incidents import hours_left, is_overdue
from .models import (
    BREACH_NOTIFICATION_HOURS,
    BREACH_REMINDER_HOURS_BEFORE,
    Alert,
    Incident,
    IncidentStatus,
    Severity,
)
from .services import event_record

# compliance.models.Role.COMPLIANCE_OFFICER, by value: audit does not import compliance.
COMPLIANCE_OFFICER = "compliance_officer"


def compliance_officers(tenant_id: int | None) -> list:
    """The active users holding the compliance officer's role in the tenant, with an address."""
    if tenant_id is None:
        return []
    return list(
        get_user_model()
        .objects.filter(
            memberships__tenant_id=tenant_id,
            memberships__role=COMPLIANCE_OFFICER,
            is_active=True,
        )
        .exclude(email="")
        .select_related("language_preference")
        .order_by("username")
    )


def _admin_url(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def alert_raised_notify(alert: Alert) -> None:
    """For the rules engine, where a new alert is created: a high-severity alert is mailed to
    its tenant's compliance officers once the transaction commits."""
    if alert.severity != Severity.HIGH or alert.tenant_id is None:
        return
    from .tasks import send_alert_email

    alert_id = alert.pk
    transaction.on_commit(lambda: send_alert_email.delay(alert_id))


@transaction.atomic
def alert_email_send(alert_id: int) -> dict:
    """Mail one alert to its tenant's compliance officers (a send failure raises, for the task
    to retry); the sending is itself an event."""
    alert = Alert.objects.select_related("tenant").filter(pk=alert_id).first()
    if alert is None:
        return {"alert": alert_id, "sent": 0}
    recipients = compliance_officers(alert.tenant_id)
    if not recipients:
        return {"alert": alert_id, "sent": 0}

    def compose() -> tuple[str, str]:
        subject = "[Custodia] " + _("High-severity alert: %(summary)s") % {"summary": alert.summary}
        body = "\n".join(
            [
                _("A high-severity alert was raised for %(tenant)s.") % {"tenant": alert.tenant},
                "",
                _("What: %(summary)s") % {"summary": alert.summary},
                _("Subject: %(subject)s") % {"subject": alert.subject_label},
                ngettext(
                    "Between %(start)s and %(end)s (%(count)d event).",
                    "Between %(start)s and %(end)s (%(count)d events).",
                    alert.event_count,
                )
                % {
                    "start": in_tenant_zone(alert.window_start, alert.tenant),
                    "end": in_tenant_zone(alert.window_end, alert.tenant),
                    "count": alert.event_count,
                },
                "",
                _("Triage it: %(url)s")
                % {"url": _admin_url(f"/admin/audit/alert/{alert.pk}/change/")},
            ]
        )
        return subject[:200], body

    # Each recipient's copy in the language they chose (kit/mail.py).
    sent = mail_in_their_languages(recipients, compose)
    event_record(
        action="alert.notified",
        tenant=alert.tenant_id,
        target=alert,
        extra={"recipients": [user.get_username() for user in recipients]},
    )
    return {"alert": alert_id, "sent": sent}


def incidents_due_for_reminder(now=None):
    """Open incidents not yet notified to the authority, within 24 hours of their deadline (or
    past it), whose officers have not been reminded."""
    now = now or timezone.now()
    reminder_from = now - timedelta(hours=BREACH_NOTIFICATION_HOURS - BREACH_REMINDER_HOURS_BEFORE)
    return Incident.objects.filter(
        status=IncidentStatus.OPEN,
        authority_notified_at__isnull=True,
        reminder_sent_at__isnull=True,
        aware_at__lte=reminder_from,
    )


@transaction.atomic
def incident_reminder_send(incident_id: int) -> dict:
    """Remind the tenant's compliance officers of one incident's deadline, once: the incident
    is locked, the reminder recorded with the mail sent, and a failed send rolls it back for the
    task to retry."""
    incident = (
        incidents_due_for_reminder()
        .select_for_update(of=("self",))
        .select_related("tenant")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        return {"incident": incident_id, "sent": 0}
    recipients = compliance_officers(incident.tenant_id)
    left = hours_left(incident)

    def compose() -> tuple[str, str]:
        if is_overdue(incident):
            when = ngettext("%(hours)d hour ago", "%(hours)d hours ago", -left) % {"hours": -left}
        else:
            when = ngettext("in %(hours)d hour", "in %(hours)d hours", left) % {"hours": left}
        body = "\n".join(
            [
                _("Personal-data breach: %(title)s (%(nature)s).")
                % {"title": incident.title, "nature": incident.get_nature_display()},
                "",
                _(
                    "The supervisory authority must be notified within 72 hours of becoming "
                    "aware of the breach (GDPR Art. 33(1))."
                ),
                _("Deadline: %(deadline)s (%(when)s).")
                % {"deadline": in_tenant_zone(incident.deadline, incident.tenant), "when": when},
                "",
                _("Incident: %(url)s")
                % {"url": _admin_url(f"/admin/audit/incident/{incident.pk}/change/")},
            ]
        )
        subject = "[Custodia] " + _("Breach notification due %(when)s: %(title)s") % {
            "when": when,
            "title": incident.title,
        }
        return subject[:200], body

    sent = mail_in_their_languages(recipients, compose)
    incident.reminder_sent_at = timezone.now()
    incident.save(update_fields=["reminder_sent_at"])
    event_record(
        action="incident.deadline_reminded",
        tenant=incident.tenant_id,
        target=incident,
        extra={
            "deadline": incident.deadline,
            "recipients": [user.get_username() for user in recipients],
        },
    )
    return {"incident": incident_id, "sent": sent}
