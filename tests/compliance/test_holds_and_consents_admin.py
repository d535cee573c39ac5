"""Compliance officers record decisions and place and release holds in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent, LegalHold, Purpose

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db


def _consent_form(cast, **overrides):
    decided = timezone.localtime() - timedelta(minutes=10)
    data = {
        "tenant": cast.acme.pk,
        "customer_number": "06 12 34 56 78",
        "purpose": Purpose.objects.get(code="telemarketing").pk,
        "decision": "refused",
        "decided_at_0": decided.strftime("%Y-%m-%d"),
        "decided_at_1": decided.strftime("%H:%M:%S"),
        "channel": "agent",
        "operator": "A12",
    }
    data.update(overrides)
    return data


def test_officer_records_a_decision_and_sees_its_history(cast, login):
    client = login(cast.alice)
    response = client.post(reverse("admin:compliance_consent_add"), _consent_form(cast))
    assert response.status_code == 302, response.context["adminform"].form.errors
    consent = Consent.objects.get()
    assert (consent.customer_number, consent.decision, consent.recorded_by) == (
        "+33612345678",
        "refused",
        "alice",
    )
    page = client.get(reverse("admin:compliance_consent_change", args=[consent.pk]))
    assert b"Refused (in force)" in page.content
    assert b'name="_save"' not in page.content  # decisions are never edited
    assert AuditEvent.objects.filter(action="consent.recorded", actor_username="alice").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_number": "12"}, "customer_number"),
        ({"decided_at_0": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d")}, "decided_at"),
    ],
)
def test_bad_decision_is_a_form_error_and_writes_nothing(cast, login, overrides, field):
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_consent_add"), _consent_form(cast, **overrides)
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Consent.objects.exists()


def test_decisions_are_recorded_only_for_purposes_that_require_consent(cast, login):
    client = login(cast.alice)
    form = client.get(reverse("admin:compliance_consent_add")).context["adminform"].form
    offered = {purpose.code for purpose in form.fields["purpose"].queryset}
    assert offered == {"telemarketing", "insurance_telesales"}
    quality = Purpose.objects.get(code="quality").pk
    response = client.post(
        reverse("admin:compliance_consent_add"), _consent_form(cast, purpose=quality)
    )
    assert response.status_code == 200
    assert "purpose" in response.context["adminform"].form.errors
    assert not Consent.objects.exists()


def test_officer_places_and_releases_a_hold(cast, login):
    recording = ingest(cast.acme)
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_legalhold_add"),
        {
            "tenant": cast.acme.pk,
            "reference": "RG 24/01234",
            "reason": "Customer litigation",
            "recordings": [recording.pk],
            "campaign": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    hold = LegalHold.objects.get()
    page = client.get(reverse("admin:compliance_legalhold_change", args=[hold.pk]))
    assert b"Release this hold" in page.content
    release_url = reverse("admin:compliance_legalhold_release", args=[hold.pk])
    assert client.post(release_url, {"release_reason": "Case closed"}).status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == cast.alice and hold.release_reason == "Case closed"
    again = client.post(release_url, {"release_reason": "again"})
    assert b"already released" in again.content
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"legal_hold.placed", "legal_hold.released"} <= actions


def test_a_hold_with_an_empty_scope_is_a_form_error(cast, login):
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_legalhold_add"),
        {"tenant": cast.acme.pk, "reference": "X", "reason": "Y", "campaign": ""},
    )
    assert response.status_code == 200
    assert b"scope is empty" in response.content
    assert not LegalHold.objects.exists()


def test_supervisor_cannot_place_or_release_holds(cast, login):
    from compliance.services.legal_holds import legal_hold_place

    client = login(cast.bob)
    assert client.get(reverse("admin:compliance_legalhold_add")).status_code == 403
    placing = client.post(
        reverse("admin:compliance_legalhold_add"),
        {"tenant": cast.acme.pk, "reference": "X", "reason": "Y", "customer_number": "0612345678"},
    )
    assert placing.status_code == 403
    assert not LegalHold.objects.exists()
    hold = legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="LIT-1",
        reason="Claim",
        customer_number="+33612345678",
    )
    release_url = reverse("admin:compliance_legalhold_release", args=[hold.pk])
    assert client.get(release_url).status_code in (403, 404)
    releasing = client.post(release_url, {"release_reason": "Case closed"})
    assert releasing.status_code in (403, 404)
    hold.refresh_from_db()
    assert hold.released_at is None
    assert not AuditEvent.objects.filter(action="legal_hold.released").exists()


def _holds_listed(client) -> tuple[dict[str, str], int]:
    """The hold list's "Recordings held now" column by reference, and the queries it cost."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:compliance_legalhold_changelist")
    client.get(url)  # the first request after signing in also saves the session
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert page.status_code == 200
    changelist = page.context["cl"]
    column = changelist.model_admin.holds_now
    return {hold.reference: column(hold) for hold in changelist.result_list}, len(queries)


def test_the_hold_list_counts_what_each_hold_holds_at_a_constant_cost(cast, login):
    """Each row's count is the hold's own, and six holds cost no more queries than one."""
    from compliance.services.legal_holds import legal_hold_place, legal_hold_release

    named = ingest(cast.acme, number="+33611111111", campaign="Winter")
    ingest(cast.acme, number="+33622222222", campaign="Winter")
    ingest(cast.acme, number="+33622222222", campaign="Spring")
    ingest(cast.globex, number="+34612345678", campaign="Winter")
    client = login(cast.alice)

    def place(reference: str, **scope) -> LegalHold:
        return legal_hold_place(
            actor=cast.alice, tenant=cast.acme, reference=reference, reason="Claim", **scope
        )

    place("ONE", recordings=[named])
    listed, cost_of_one = _holds_listed(client)
    assert listed == {"ONE": "1"}

    place("WINTER", campaign="Winter")
    place("NUMBER", customer_number="+33622222222")
    place("BOTH", customer_number="+33622222222", campaign="Spring")
    place("NAMED-AND-WINTER", recordings=[named], campaign="Winter")
    legal_hold_release(
        actor=cast.alice, hold=place("GONE", campaign="Winter"), release_reason="Closed"
    )
    listed, cost_of_six = _holds_listed(client)
    assert listed == {
        "ONE": "1",
        "WINTER": "2",
        "NUMBER": "2",
        "BOTH": "1",
        "NAMED-AND-WINTER": "2",
        "GONE": "released",
    }
    assert cost_of_six == cost_of_one, (cost_of_six, cost_of_one)


def test_a_hold_placed_and_released_outside_a_request_names_its_actor(cast):
    """From a task, a command or a shell no request names the person: the service's actor does."""
    from compliance.services.legal_holds import legal_hold_place, legal_hold_release

    hold = legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="LIT-7",
        reason="Claim",
        customer_number="+33612345678",
    )
    legal_hold_release(actor=cast.alice, hold=hold, release_reason="Settled")
    events = AuditEvent.objects.filter(action__in=["legal_hold.placed", "legal_hold.released"])
    assert sorted((event.action, event.actor_username) for event in events) == [
        ("legal_hold.placed", "alice"),
        ("legal_hold.released", "alice"),
    ]
