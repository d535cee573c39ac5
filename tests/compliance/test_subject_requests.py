"""Data-subject requests: receipt, the one-month clock, the extension, identity, closing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import RequestStatus, SubjectRequest
from compliance.services.subject_requests import (
    subject_request_close,
    subject_request_extend,
    subject_request_receive,
    subject_request_start_verification,
    subject_request_verify_identity,
    subject_requests_nearly_due,
)
from compliance.subject_request_models import deadline_expression, one_month_after
from kit.refusals import Refused

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 1, 15), date(2026, 2, 15)),
        (date(2026, 12, 31), date(2027, 1, 31)),
        (date(2026, 2, 28), date(2026, 3, 28)),
    ],
)
def test_one_calendar_month_ends_on_the_same_day_or_the_month_end(received, due):
    assert one_month_after(received) == due


def receive(cast, **overrides):
    fields = {
        "actor": cast.alice,
        "tenant": cast.acme,
        "kind": "access",
        "customer_numbers": ["06 12 34 56 78"],
        "channel": "email",
    }
    fields.update(overrides)
    return subject_request_receive(**fields)


def test_received_request_is_due_a_month_later_in_the_tenants_days(cast):
    # 23:30 on 31 January in UTC is already 1 February in Paris: due on 1 March.
    received_at = datetime(2026, 1, 31, 23, 30, tzinfo=ZoneInfo("UTC"))
    request = receive(cast, received_at=received_at)
    assert request.customer_numbers == ["+33612345678"]
    assert request.due_on == date(2026, 3, 1)
    assert request.status == RequestStatus.RECEIVED
    event = AuditEvent.objects.get(action="subject_request.received")
    assert event.target_id == str(request.pk)
    assert event.extra["due_on"] == "2026-03-01"
    # The trail keeps no number (the request names it, the trail refers to the request).
    assert "612345678" not in str(event.extra)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_numbers": ["not a number"]}, "customer_numbers"),
        ({"customer_numbers": [], "subject_reference": ""}, "customer_numbers"),
        ({"kind": "deletion"}, "kind"),
        ({"channel": "pigeon"}, "channel"),
        ({"received_at": timezone.now() + timedelta(days=2)}, "received_at"),
        ({"received_at": datetime(1900, 1, 1, tzinfo=PARIS)}, "received_at"),
        ({"kind": "objection"}, "objection_purpose"),
        ({"kind": "objection", "objection_purpose": "telemarketing"}, "objection_purpose"),
        ({"subject_reference": "x" * 129}, "subject_reference"),
    ],
)
def test_bad_requests_are_refused_naming_the_field_and_nothing_is_written(cast, overrides, field):
    with pytest.raises(Refused) as refused:
        receive(cast, **overrides)
    assert refused.value.field == field
    assert not SubjectRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="subject_request.received").exists()


def test_objection_names_a_legitimate_interest_purpose(cast):
    request = receive(cast, kind="objection", objection_purpose="quality")
    assert request.objection_purpose.code == "quality"


def test_a_second_open_request_of_the_same_kind_for_the_subject_is_flagged(cast):
    first = receive(cast, customer_numbers=["+33612345678", "01 23 45 67 89"])
    again = receive(cast, customer_numbers=["0123456789"])
    other_kind = receive(cast, kind="erasure")
    by_reference = receive(cast, customer_numbers=[], subject_reference="CUST-1")
    same_reference = receive(cast, customer_numbers=[], subject_reference="CUST-1")
    assert again.duplicate_of == first
    assert other_kind.duplicate_of is None
    assert by_reference.duplicate_of is None
    assert same_reference.duplicate_of == by_reference
    # Another tenant's request for the same number is not the same subject's.
    elsewhere = receive(
        cast, actor=cast.erin, tenant=cast.globex, customer_numbers=["+33612345678"]
    )
    assert elsewhere.duplicate_of is None


def test_a_closed_request_is_not_a_duplicate(cast):
    first = receive(cast)
    subject_request_close(
        actor=cast.alice, request=first, status="refused", refusal_reason="Identity not proven"
    )
    assert receive(cast).duplicate_of is None


def test_people_without_the_role_may_not_receive_or_handle_requests(cast):
    with pytest.raises(Refused) as refused:
        receive(cast, actor=cast.bob)
    assert refused.value.status == 403
    request = receive(cast)
    with pytest.raises(Refused):
        subject_request_verify_identity(actor=cast.erin, request=request, method="call_back")


def test_identity_then_in_progress_then_completed(cast):
    request = receive(cast)
    request = subject_request_start_verification(actor=cast.alice, request=request)
    assert request.status == RequestStatus.VERIFYING
    with pytest.raises(Refused) as refused:
        subject_request_close(actor=cast.alice, request=request, status="completed")
    assert "identity" in refused.value.message
    request = subject_request_verify_identity(
        actor=cast.alice, request=request, method="call_back", note="Called +33 6 12 34 56 78"
    )
    assert request.status == RequestStatus.IN_PROGRESS
    assert request.identity_verified_by == cast.alice
    request = subject_request_close(
        actor=cast.alice, request=request, status="completed", outcome="Copy sent"
    )
    assert request.status == RequestStatus.COMPLETED and request.closed_at
    actions = list(
        AuditEvent.objects.filter(target_id=str(request.pk), action__startswith="subject_request")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [
        "subject_request.received",
        "subject_request.status_changed",
        "subject_request.identity_verified",
        "subject_request.closed",
    ]
    with pytest.raises(Refused):
        subject_request_close(
            actor=cast.alice, request=request, status="refused", refusal_reason="x"
        )


@pytest.mark.parametrize("status", ["refused", "partial"])
def test_a_refusal_needs_its_reason(cast, status):
    request = subject_request_verify_identity(
        actor=cast.alice, request=receive(cast), method="id_document"
    )
    with pytest.raises(Refused) as refused:
        subject_request_close(actor=cast.alice, request=request, status=status, refusal_reason=" ")
    assert refused.value.field == "refusal_reason"
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS


def test_extension_within_the_first_month(cast):
    request = receive(cast, received_at=timezone.now() - timedelta(days=10))
    first_deadline = request.deadline
    request = subject_request_extend(
        actor=cast.alice,
        request=request,
        months=2,
        reason="Recordings spread over three recorders",
        told_on=cast.acme.today(),
    )
    assert request.extended_months == 2
    assert request.deadline == one_month_after(first_deadline, 2)
    with pytest.raises(Refused) as refused:
        subject_request_extend(
            actor=cast.alice, request=request, months=1, reason="more", told_on=cast.acme.today()
        )
    assert refused.value.field == "months"


def test_extension_after_the_first_month_is_refused(cast):
    request = receive(cast, received_at=timezone.now() - timedelta(days=40))
    with pytest.raises(Refused) as refused:
        subject_request_extend(
            actor=cast.alice, request=request, months=1, reason="late", told_on=cast.acme.today()
        )
    assert "first month" in refused.value.message
    request.refresh_from_db()
    assert request.extended_months == 0


@pytest.mark.parametrize(
    ("reason", "told_days_ago", "field"),
    [("", 0, "reason"), ("Complex", -1, "told_on"), ("Complex", 20, "told_on")],
)
def test_extension_needs_a_reason_told_in_time(cast, reason, told_days_ago, field):
    request = receive(cast, received_at=timezone.now() - timedelta(days=5))
    with pytest.raises(Refused) as refused:
        subject_request_extend(
            actor=cast.alice,
            request=request,
            months=1,
            reason=reason,
            told_on=cast.acme.today() - timedelta(days=told_days_ago),
        )
    assert refused.value.field == field


def test_nearly_due_and_overdue_requests(cast):
    overdue = receive(cast, received_at=timezone.now() - timedelta(days=40))
    soon = receive(cast, received_at=timezone.now() - timedelta(days=26), kind="erasure")
    receive(cast, kind="rectification")
    found = dict(subject_requests_nearly_due(within_days=7))
    assert set(found) == {overdue, soon}
    assert found[overdue] < 0 <= found[soon] <= 7


@pytest.mark.parametrize(
    ("due", "months"),
    [
        (date(2026, 1, 31), 1),
        (date(2026, 1, 31), 2),
        (date(2027, 12, 31), 2),
        (date(2028, 1, 30), 1),  # a leap year's February
        (date(2026, 5, 15), 0),
    ],
)
def test_the_deadline_in_sql_is_the_deadline(cast, due, months):
    """The lists order requests by `deadline_expression`: the same day as `deadline`."""
    request = receive(cast)
    SubjectRequest.objects.filter(pk=request.pk).update(due_on=due, extended_months=months)
    request.refresh_from_db()
    in_sql = (
        SubjectRequest.objects.filter(pk=request.pk)
        .annotate(deadline_on=deadline_expression())
        .values_list("deadline_on", flat=True)
        .get()
    )
    assert in_sql == request.deadline == one_month_after(due, months)
