"""A changelist filters only through its declared list filters and its search box, whose number
searches go on the trail; any other lookup in the query string (?customer_number__startswith=)
is refused and the probe is on the trail (issue 11, finding 2)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent

from ..factories import consent_for, recording_for

pytestmark = pytest.mark.django_db

NUMBER = "+33612345678"
RECORDINGS = reverse("admin:recordings_recording_changelist")
CONSENTS = reverse("admin:compliance_consent_changelist")


def _refused(response, url: str) -> bool:
    return response.status_code == 400 or (
        response.status_code == 302 and response["Location"] == f"{url}?e=1"
    )


def _listed(response) -> set[int]:
    if response.status_code != 200:
        return set()
    return {row.pk for row in response.context["cl"].result_list}


def test_carol_cannot_recover_a_customer_number_digit_by_digit(cast, login):
    recording = recording_for(tenant=cast.acme)
    client = login(cast.carol)
    recovered = "+"
    for _ in range(len(NUMBER) - 1):
        for digit in "0123456789":
            response = client.get(RECORDINGS, {"customer_number__startswith": recovered + digit})
            assert _refused(response, RECORDINGS), recovered + digit
            if recording.pk in _listed(response):
                recovered += digit
                break
        else:
            break
    assert recovered == "+"


@pytest.mark.parametrize(
    "lookup",
    [
        "customer_number",
        "customer_number__startswith",
        "customer_number__contains",
        "customer_number__regex",
        "customer_number__iexact",
        "purpose__code",
        "tenant__name__startswith",
    ],
)
def test_a_field_lookup_on_recordings_is_refused_and_on_the_trail(cast, login, lookup):
    recording = recording_for(tenant=cast.acme)
    value = NUMBER if lookup.startswith("customer") else "quality"
    client = login(cast.carol)
    before = AuditEvent.objects.count()
    response = client.get(RECORDINGS, {lookup: value})
    assert _refused(response, RECORDINGS)
    assert recording.pk not in _listed(response)
    events = list(AuditEvent.objects.filter(action="admin.lookup_refused").order_by("sequence"))
    assert AuditEvent.objects.count() == before + 1
    (event,) = events
    assert event.actor_username == "carol"
    assert event.tenant_id == cast.acme.pk
    assert event.outcome == "denied"
    assert event.extra == {"model": "recordings.recording", "parameters": [lookup]}
    assert NUMBER not in str(event.extra) + event.target_label + event.target_id


@pytest.mark.parametrize(
    "lookup", ["customer_number", "customer_number__startswith", "customer_number__regex"]
)
def test_a_field_lookup_on_consents_is_refused_and_on_the_trail(cast, login, lookup):
    consent = consent_for(tenant=cast.acme, number=NUMBER)
    response = login(cast.alice).get(CONSENTS, {lookup: "+336"})
    assert _refused(response, CONSENTS)
    assert consent.pk not in _listed(response)
    event = AuditEvent.objects.get(action="admin.lookup_refused")
    assert event.extra == {"model": "compliance.consent", "parameters": [lookup]}
    assert "+336" not in str(event.extra)


def test_the_declared_filters_and_the_audited_search_still_work(cast, login):
    consent = consent_for(tenant=cast.acme, number=NUMBER)
    client = login(cast.alice)
    for query in (
        {"decision__exact": "granted"},
        {"tenant": cast.acme.pk},
        {"q": NUMBER},
        {"o": "4", "p": "1"},
        {"decision__exact": "granted", "q": NUMBER, "_popup": "1", "_to_field": "id"},
    ):
        response = client.get(CONSENTS, query)
        assert response.status_code == 200, query
        assert consent.pk in _listed(response), query
    assert AuditEvent.objects.filter(action="consent.searched").count() == 2
    assert not AuditEvent.objects.filter(action="admin.lookup_refused").exists()


def test_a_declared_filter_does_not_carry_an_undeclared_lookup_through(cast, login):
    recording_for(tenant=cast.acme)
    response = login(cast.alice).get(
        RECORDINGS, {"status__exact": "active", "customer_number__startswith": "+33"}
    )
    assert _refused(response, RECORDINGS)
    event = AuditEvent.objects.get(action="admin.lookup_refused")
    assert event.extra["parameters"] == ["customer_number__startswith"]


def test_a_parameter_name_that_is_no_lookup_is_not_written_to_the_trail(cast, login):
    """The append-only trail cannot be erased: a name that could carry anything (a number
    typed as a parameter name) is counted, not copied."""
    response = login(cast.alice).get(RECORDINGS, {"+33 6 12 34 56 78": "1", "call_id": "x"})
    assert _refused(response, RECORDINGS)
    event = AuditEvent.objects.get(action="admin.lookup_refused")
    assert event.extra == {
        "model": "recordings.recording",
        "parameters": ["call_id"],
        "other_parameters": 1,
    }


def test_the_platform_operators_probe_is_on_the_platform_trail(cast, login):
    response = login(cast.root).get(
        reverse("admin:recordings_purgerun_changelist"), {"errors__contains": "x"}
    )
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="admin.lookup_refused")
    assert event.tenant_id is None
    assert event.extra == {"model": "recordings.purgerun", "parameters": ["errors__contains"]}
