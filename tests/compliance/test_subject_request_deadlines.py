"""Daily reminders of data-subject requests' deadlines (GDPR Art. 12(3)): the handler of each open
request due within 7 days, or overdue, is e-mailed once a day (the tenant's day); without a
handler who can still handle it, the tenant's compliance officers are."""

from __future__ import annotations

import time
from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import event_record
from compliance.models import Membership, Role
from compliance.services.memberships import membership_grant, membership_revoke
from compliance.services.subject_request_reminders import (
    subject_request_deadline_remind,
    subject_requests_due_for_reminder,
)
from compliance.services.subject_requests import (
    subject_request_close,
    subject_request_receive,
    subject_request_take,
)
from compliance.tasks import check_request_deadlines, send_request_deadline_reminder

from ..factories import TenantFactory, UserFactory

REMINDED = "subject_request.deadline_reminded"


def receive(tenant, *, days_ago: int, actor=None, kind: str = "access", number="06 12 34 56 78"):
    """A request received `days_ago` days ago (an API's: nobody handles it yet)."""
    return subject_request_receive(
        actor=actor,
        tenant=tenant,
        kind=kind,
        customer_numbers=[number],
        channel="api" if actor is None else "email",
        received_at=timezone.now() - timedelta(days=days_ago),
        requester_name="Jeanne Martin",
    )


def remind_all() -> list[dict]:
    """What the daily task does, each reminder in this process (the worker test sends them)."""
    return [
        subject_request_deadline_remind(request.pk)
        for request, _left in subject_requests_due_for_reminder()
    ]


@pytest.fixture
def olga(cast):
    """A second compliance officer of Acme."""
    user = UserFactory(username="olga")
    membership_grant(actor="test", user=user, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    return user


@pytest.mark.django_db
def test_handlers_of_requests_due_within_a_week_or_overdue_are_mailed(cast, olga):
    overdue = receive(cast.acme, days_ago=40)
    subject_request_take(actor=olga, request=overdue)
    soon = receive(cast.acme, days_ago=26, kind="erasure")  # nobody took it
    receive(cast.acme, days_ago=1, kind="rectification")  # due in a month: not yet
    closed = receive(cast.acme, days_ago=40, kind="portability", actor=cast.alice)
    subject_request_close(
        actor=cast.alice, request=closed, status="refused", refusal_reason="Identity not proven"
    )
    elsewhere = receive(cast.globex, days_ago=35, number="612 34 56 78")

    due = dict(subject_requests_due_for_reminder())
    assert set(due) == {overdue, soon, elsewhere}
    assert due[overdue] < 0 <= due[soon] <= 7

    assert sorted(result["sent"] for result in remind_all()) == [1, 1, 2]
    sent = {message.subject: message for message in mail.outbox}
    assert len(sent) == 3
    to_olga = next(m for m in mail.outbox if f"no. {overdue.pk} " in m.subject)
    assert to_olga.to == ["olga@example.com"]  # the handler only
    assert "overdue by" in to_olga.subject and "Acme Insurance" in to_olga.subject
    assert f"/admin/compliance/subjectrequest/{overdue.pk}/change/" in to_olga.body
    assert f"Due on: {overdue.deadline.isoformat()} (Acme Insurance's day, Europe/Paris)" in (
        to_olga.body
    )
    assert "Received: " in to_olga.body and (" CET" in to_olga.body or " CEST" in to_olga.body)
    assert "olga (you)" in to_olga.body
    to_officers = next(m for m in mail.outbox if f"no. {soon.pk} " in m.subject)
    assert sorted(to_officers.to) == ["alice@example.com", "olga@example.com"]
    assert "due in" in to_officers.subject or "due today" in to_officers.subject
    assert "as a compliance officer of Acme Insurance" in to_officers.body
    assert f"told why by {soon.due_on.isoformat()}" in to_officers.body
    to_erin = next(m for m in mail.outbox if f"no. {elsewhere.pk} " in m.subject)
    assert to_erin.to == ["erin@example.com"]
    assert "Europe/Madrid" in to_erin.body
    # Mail leaves the portal: it names the request, never the subject.
    for message in mail.outbox:
        assert "612345678" not in message.body and "12 34 56" not in message.body
        assert "Jeanne" not in message.body + message.subject

    events = {event.target_id: event for event in AuditEvent.objects.filter(action=REMINDED)}
    assert set(events) == {str(overdue.pk), str(soon.pk), str(elsewhere.pk)}
    assert events[str(overdue.pk)].extra == {
        "day": cast.acme.today().isoformat(),
        "deadline": overdue.deadline.isoformat(),
        "days_left": due[overdue],
        "to": "handler",
        "recipients": ["olga"],
    }
    assert events[str(soon.pk)].extra["to"] == "compliance_officers"
    assert events[str(soon.pk)].extra["recipients"] == ["alice", "olga"]
    assert events[str(elsewhere.pk)].tenant_id == cast.globex.pk


@pytest.mark.django_db
def test_running_twice_a_day_sends_once_and_the_next_day_again(cast):
    overdue = receive(cast.acme, days_ago=40)
    assert [result["sent"] for result in remind_all()] == [1]
    assert remind_all() == []  # the daily scan finds it reminded today
    # A reminder task delivered twice (or sent by two runs) sends once.
    assert subject_request_deadline_remind(overdue.pk) == {"request": overdue.pk, "sent": 0}
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action=REMINDED).count() == 1
    # Yesterday's reminder does not count for today.
    other = receive(cast.acme, days_ago=41, kind="erasure")
    yesterday = cast.acme.today() - timedelta(days=1)
    event_record(action=REMINDED, tenant=cast.acme, target=other, extra={"day": str(yesterday)})
    assert [request for request, _left in subject_requests_due_for_reminder()] == [other]
    assert subject_request_deadline_remind(other.pk)["sent"] == 1


@pytest.mark.django_db
def test_a_handler_who_left_the_tenant_is_replaced_by_its_officers(cast, olga):
    request = receive(cast.acme, days_ago=40)
    subject_request_take(actor=olga, request=request)
    membership_revoke(actor="test", membership=Membership.objects.get(user=olga))
    assert subject_request_deadline_remind(request.pk)["sent"] == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert AuditEvent.objects.get(action=REMINDED).extra["to"] == "compliance_officers"


@pytest.mark.django_db
def test_a_tenant_without_officers_gets_the_event_and_no_mail(cast):
    lonely = TenantFactory(name="Lonely SARL", slug="lonely", time_zone="UTC")
    request = receive(lonely, days_ago=40)
    assert subject_request_deadline_remind(request.pk)["sent"] == 0
    assert mail.outbox == []
    event = AuditEvent.objects.get(action=REMINDED)
    assert (event.tenant_id, event.extra["recipients"]) == (lonely.pk, [])
    assert remind_all() == []  # not retried all day


@pytest.mark.django_db
def test_the_day_is_the_tenants(cast):
    # At UTC+14 the tenant's day is often the server's tomorrow: the reminder counts in it.
    kiribati = TenantFactory(name="Line Islands", slug="line", time_zone="Pacific/Kiritimati")
    request = receive(kiribati, days_ago=40)
    subject_request_deadline_remind(request.pk)
    assert AuditEvent.objects.get(action=REMINDED).extra["day"] == kiribati.today().isoformat()


class FailingTwiceBackend(EmailBackend):
    """A mail server that drops the connection twice, then accepts (test double for SMTP)."""

    failures = 0

    def send_messages(self, messages):
        if FailingTwiceBackend.failures < 2:
            FailingTwiceBackend.failures += 1
            raise SMTPServerDisconnected("connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.mark.django_db
def test_a_failed_send_is_retried_and_recorded_once(cast, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingTwiceBackend"
    FailingTwiceBackend.failures = 0
    request = receive(cast.acme, days_ago=40)
    result = send_request_deadline_reminder.apply(args=[request.pk])
    assert result.successful(), result.traceback
    assert FailingTwiceBackend.failures == 2
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action=REMINDED).count() == 1


def _wait_for_mail(count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_the_daily_task_reminds_through_a_real_worker_once_a_day(cast, celery_worker):
    overdue = receive(cast.acme, days_ago=40)
    receive(cast.acme, days_ago=26, kind="erasure")
    receive(cast.acme, days_ago=2, kind="rectification")
    assert check_request_deadlines.delay().get(timeout=60) == {"due": 2, "overdue": 1}
    _wait_for_mail(2)
    assert len(mail.outbox) == 2
    assert all(message.to == ["alice@example.com"] for message in mail.outbox)
    assert check_request_deadlines.delay().get(timeout=60) == {"due": 0, "overdue": 0}
    assert send_request_deadline_reminder.delay(overdue.pk).get(timeout=60)["sent"] == 0
    assert len(mail.outbox) == 2
    event = AuditEvent.objects.filter(action=REMINDED).first()
    assert event.actor_username == "task:compliance.tasks.send_request_deadline_reminder"
    assert AuditEvent.objects.filter(action=REMINDED).count() == 2


def test_the_check_runs_daily_on_the_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["check-request-deadlines"]
    assert entry["task"] == "compliance.tasks.check_request_deadlines"
    assert entry["schedule"].hour == {7} and entry["schedule"].minute == {0}
    assert check_request_deadlines.soft_time_limit < check_request_deadlines.time_limit
