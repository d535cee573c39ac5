"""Searching the consent decisions by a customer's number shows that person's number and choices:
it goes on the trail (consent.searched) as a search of the recordings does, the number masked and
keyed-hashed, never in clear."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from audit.pseudonyms import customer_number_hash
from compliance.models import Consent, Role
from compliance.services.memberships import membership_grant

from ..factories import consent_for

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/compliance/consent/"


def _decide(tenant, number: str, **evidence) -> Consent:
    return consent_for(tenant=tenant, number=number, **evidence)


@pytest.fixture
def decisions(cast) -> dict[str, Consent]:
    return {
        "acme": _decide(
            cast.acme, "+33612345678", call_id="ivr-call-77", subject_reference="customer 4711"
        ),
        "globex": _decide(cast.globex, "+34612345678"),
    }


def _listed(page) -> set[int]:
    assert page.status_code == 200
    return {consent.pk for consent in page.context["cl"].result_list}


def _searches():
    return AuditEvent.objects.filter(action="consent.searched").order_by("sequence")


def test_a_search_by_number_is_traced_with_the_number_masked_and_hashed(cast, login, decisions):
    page = login(cast.alice).get(
        CHANGELIST, {"q": "06 12 34 56 78"}, headers={"X-Workstation-Id": "WS-3"}
    )
    assert _listed(page) == {decisions["acme"].pk}
    searched = _searches().get()
    assert (searched.actor_username, searched.tenant_id, searched.workstation_id) == (
        "alice",
        cast.acme.pk,
        "WS-3",
    )
    assert (searched.target_type, searched.target_id, searched.target_label) == (
        "customer_number",
        customer_number_hash("+33612345678"),
        "+336•••••78",
    )
    assert searched.extra == {"user": "alice", "search": "customer_number"}
    stored = AuditEvent.objects.filter(pk=searched.pk).values().get()
    for name in ("hash", "previous_hash", "target_id"):  # hex digests
        del stored[name]
    assert not any(digits in str(stored) for digits in ("12345678", "12 34 56 78"))
    # Globex is Spanish: there the same national digits are another person's number.
    login(cast.erin).get(CHANGELIST, {"q": "612 34 56 78"})
    assert (_searches().last().tenant_id, _searches().last().target_id) == (
        cast.globex.pk,
        customer_number_hash("+34612345678"),
    )


def test_a_search_across_tenants_is_on_each_tenants_trail(cast, login, decisions):
    assert _listed(login(cast.root).get(CHANGELIST, {"q": "+33612345678"})) == {
        decisions["acme"].pk
    }
    searches = _searches()
    assert sorted(searches.values_list("tenant_id", flat=True)) == sorted(
        [cast.acme.pk, cast.globex.pk]
    )
    assert {(event.actor_id, event.target_id) for event in searches} == {
        (cast.root.pk, customer_number_hash("+33612345678"))
    }


def test_a_search_is_traced_only_for_the_tenants_whose_consents_the_role_sees(
    cast, login, decisions
):
    """Erin is a quality analyst at Acme, whose consents her role does not see."""
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    assert _listed(login(cast.erin).get(CHANGELIST, {"q": "+33612345678"})) == set()
    assert _searches().get().tenant_id == cast.globex.pk


def test_a_search_by_call_id_subject_reference_or_something_else_is_not_traced(
    cast, login, decisions
):
    client = login(cast.alice)
    assert _listed(client.get(CHANGELIST, {"q": "ivr-call-77"})) == {decisions["acme"].pk}
    assert _listed(client.get(CHANGELIST, {"q": "customer 4711"})) == {decisions["acme"].pk}
    assert _listed(client.get(CHANGELIST, {"q": "0612"})) == set()
    assert _listed(client.get(CHANGELIST)) == {decisions["acme"].pk}
    assert not _searches().exists()


def test_tracing_a_search_costs_one_insert_and_no_count(cast, login, decisions):
    client = login(cast.alice)
    client.get(CHANGELIST)  # the session and the caches are warm
    with CaptureQueriesContext(connection) as by_call_id:
        client.get(CHANGELIST, {"q": "ivr-call-77"})
    with CaptureQueriesContext(connection) as by_number:
        client.get(CHANGELIST, {"q": "06 12 34 56 78"})

    def reads(queries) -> list[str]:
        return [query["sql"] for query in queries if "compliance_consent" in str(query["sql"])]

    assert len(reads(by_number)) == len(reads(by_call_id))
    assert not any("COUNT" in sql and "LIMIT" not in sql for sql in reads(by_number))
    savepoints = [q for q in by_number if str(q["sql"]).startswith(("SAVEPOINT", "RELEASE"))]
    assert len(by_number) - len(by_call_id) == 1 + len(savepoints)
    assert _searches().count() == 1


def test_a_reviewer_finds_who_searched_the_consents_for_a_number(cast, login, decisions):
    login(cast.alice).get(CHANGELIST, {"q": "+33 6 12 34 56 78"})
    page = login(cast.dave).get(
        reverse("admin:audit_auditevent_changelist"), {"q": "06.12.34.56.78"}
    )
    assert [(event.action, event.actor_username) for event in page.context["cl"].result_list] == [
        ("consent.searched", "alice")
    ]
    assert "+336•••••78".encode() in page.content
    assert b"+33612345678" not in page.content
