"""E-mails to the tenant's compliance officers: a high-severity alert, and an incident 24 hours
before its 72-hour deadline, sent by Celery after the commit and retried when the mail server
fails."""

from __future__ import annotations

import time
from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.utils import timezone

from audit.models import Alert, AlertStatus, AuditEvent, Incident, Severity
from audit.notifications import alert_raised_notify
from audit.tasks import remind_incident_deadlines, send_alert_email, send_incident_reminder

from ..factories import UserFactory, alert_for, incident_for


class FailingTwiceBackend(EmailBackend):
    """A mail server that drops the connection twice, then accepts (test double for SMTP)."""

    failures = 0

    def send_messages(self, messages):
        if FailingTwiceBackend.failures < 2:
            FailingTwiceBackend.failures += 1
            raise SMTPServerDisconnected("connection unexpectedly closed")
        return super().send_messages(messages)


def _wait_for_mail(count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def _wait_for_commit(queryset, timeout: float = 30) -> None:
    """The worker's mail leaves inside its task's transaction: wait for what it commits."""
    deadline = time.monotonic() + timeout
    while not queryset.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_high_severity_alert_is_mailed_to_the_tenants_officers_after_commit(cast, celery_worker):
    UserFactory(username="frank", email="")  # no address: never a recipient
    alert = alert_for(tenant=cast.acme, subject=cast.carol, summary="carol played 300 calls")
    with transaction.atomic():
        alert_raised_notify(alert)
        assert mail.outbox == []  # nothing leaves before the commit
    _wait_for_mail(1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]  # Acme's compliance officer; not erin, not bob
    assert "carol played 300 calls" in message.subject
    assert f"/admin/audit/alert/{alert.pk}/change/" in message.body
    _wait_for_commit(AuditEvent.objects.filter(action="alert.notified"))
    event = AuditEvent.objects.get(action="alert.notified")
    assert event.extra == {"recipients": ["alice"]}
    assert event.tenant_id == cast.acme.pk


@pytest.mark.django_db
def test_a_rolled_back_alert_or_a_lower_severity_sends_nothing(
    cast, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        alert_raised_notify(alert_for(tenant=cast.acme, severity=Severity.MEDIUM))
        alert_raised_notify(alert_for(tenant=cast.acme, severity=Severity.LOW))
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        alert_raised_notify(alert_for(tenant=cast.acme, severity=Severity.HIGH))
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_failed_send_is_retried_and_the_alert_kept(cast, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingTwiceBackend"
    FailingTwiceBackend.failures = 0
    alert = alert_for(tenant=cast.acme)
    result = send_alert_email.apply(args=[alert.pk])
    assert result.successful(), result.traceback
    assert FailingTwiceBackend.failures == 2
    assert len(mail.outbox) == 1
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.NEW
    assert send_alert_email.autoretry_for and send_alert_email.retry_backoff


@pytest.mark.django_db
def test_each_officer_reads_the_alert_in_the_language_they_chose(cast, django_assert_num_queries):
    """The worker has no browser to ask: the language chosen with the header's switcher, kept
    on the account, writes each recipient's copy; one message per language."""
    from audit.notifications import compliance_officers
    from compliance.models import Role
    from compliance.services.memberships import membership_grant
    from kit.mail import language_of
    from signin.languages import language_choose

    gaston = UserFactory(username="gaston", email="gaston@example.com")
    membership_grant(actor="test", user=gaston, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    henri = UserFactory(username="henri", email="henri@example.com")
    membership_grant(actor="test", user=henri, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    language_choose(cast.alice, "es")
    language_choose(gaston, "fr")
    alert = alert_for(tenant=cast.acme, summary="carol played 300 calls")
    # The officers and their languages in one query, whatever their number.
    with django_assert_num_queries(1):
        assert [language_of(user) for user in compliance_officers(cast.acme.pk)] == [
            "es",
            "fr",
            "en",
        ]

    assert send_alert_email.apply(args=[alert.pk]).get() == {"alert": alert.pk, "sent": 3}

    by_recipient = {tuple(message.to): message for message in mail.outbox}
    assert set(by_recipient) == {
        ("alice@example.com",),
        ("gaston@example.com",),
        ("henri@example.com",),
    }
    spanish = by_recipient[("alice@example.com",)]
    assert spanish.subject == "[Custodia] Alerta de gravedad alta: carol played 300 calls"
    assert "Clasifíquela: " in spanish.body
    french = by_recipient[("gaston@example.com",)]
    assert french.subject.startswith("[Custodia] Alerte de gravité élevée")
    english = by_recipient[("henri@example.com",)]  # no choice: LANGUAGE_CODE
    assert english.subject == "[Custodia] High-severity alert: carol played 300 calls"
    assert "Triage it: " in english.body


@pytest.mark.django_db(transaction=True)
def test_officers_are_reminded_once_24_hours_before_an_incidents_deadline(cast, celery_worker):
    now = timezone.now()
    due = incident_for(
        tenant=cast.acme, title="Phished account", aware_at=now - timedelta(hours=50)
    )
    incident_for(tenant=cast.acme, title="Fresh one", aware_at=now - timedelta(hours=10))
    incident_for(
        tenant=cast.acme,
        title="Notified one",
        aware_at=now - timedelta(hours=60),
        authority_notified_at=now - timedelta(hours=1),
    )
    assert remind_incident_deadlines.delay().get(timeout=60) == {"due": 1}
    _wait_for_mail(1)
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]
    assert "Phished account" in mail.outbox[0].subject
    assert "in 22 hours" in mail.outbox[0].subject or "in 21 hours" in mail.outbox[0].subject
    _wait_for_commit(Incident.objects.filter(pk=due.pk, reminder_sent_at__isnull=False))
    due.refresh_from_db()
    assert due.reminder_sent_at is not None
    assert remind_incident_deadlines.delay().get(timeout=60) == {"due": 0}
    # A reminder task delivered twice sends once.
    assert send_incident_reminder.delay(due.pk).get(timeout=60)["sent"] == 0
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="incident.deadline_reminded").count() == 1
    assert Incident.objects.filter(reminder_sent_at__isnull=False).count() == 1


def test_the_reminder_runs_every_15_minutes_on_the_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["remind-incident-deadlines"]
    assert entry == {"task": "audit.tasks.remind_incident_deadlines", "schedule": 900}


@pytest.mark.django_db(transaction=True)
def test_a_high_severity_alert_raised_by_the_rules_is_mailed_and_a_merge_is_not(
    cast, celery_worker
):
    from django.utils import timezone as tz

    from .alerting import evaluate, event, feed

    def probe(minutes: int):
        return event(
            "access.cross_tenant_refused",
            when=tz.now() - timedelta(minutes=minutes),
            user=cast.erin,
            tenant=cast.acme,
            recording=7,
            outcome="denied",
        )

    feed(probe(3))
    evaluate()
    _wait_for_mail(1)
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]  # the probed tenant's compliance officer
    assert Alert.objects.get(rule="cross_tenant").subject_label == "erin"

    feed(probe(1))  # the same person again while the alert is open: merged, not mailed again
    evaluate()
    time.sleep(2)
    assert len(mail.outbox) == 1
    assert Alert.objects.get(rule="cross_tenant").event_count == 2
