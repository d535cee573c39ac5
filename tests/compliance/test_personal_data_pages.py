"""Consent decisions and legal holds in the admin show a customer's number as recordings do:
masked in the list, in full on the detail page, and each display of the full number is on the
trail (docs/architecture.md, invariant 4: consent.viewed, legal_hold.viewed). A page of another
tenant is answered like a missing one and records nothing, as a recording's page does."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import Consent, LegalHold
from compliance.services.legal_holds import legal_hold_place

from ..factories import consent_for

pytestmark = pytest.mark.django_db

NUMBER = b"+33612345678"
MASKED = "+336•••••78".encode()
TRACED = {"X-Workstation-Id": "DPO-1", "X-Request-Id": "req-consent-1"}


def _decide(tenant, number: str) -> Consent:
    return consent_for(tenant=tenant, number=number, subject_reference="customer 4711")


@pytest.fixture
def decisions(cast) -> dict[str, Consent]:
    return {"acme": _decide(cast.acme, "+33612345678"), "globex": _decide(cast.globex, "612345679")}


def _consent_url(consent: Consent) -> str:
    return reverse("admin:compliance_consent_change", args=[consent.pk])


def _views(action: str = "consent.viewed"):
    return AuditEvent.objects.filter(action=action)


# --- consents ----------------------------------------------------------------------------------


def test_consent_changelist_masks_customer_numbers(cast, login, decisions):
    page = login(cast.alice).get(reverse("admin:compliance_consent_changelist"))
    assert page.status_code == 200
    assert [consent.pk for consent in page.context["cl"].result_list] == [decisions["acme"].pk]
    assert MASKED in page.content
    assert NUMBER not in page.content
    assert not _views().exists()  # the list shows no full number: nothing to trace


def test_platform_operator_sees_every_tenants_numbers_masked(cast, login, decisions):
    page = login(cast.root).get(reverse("admin:compliance_consent_changelist"))
    assert MASKED in page.content and "+346•••••79".encode() in page.content
    assert NUMBER not in page.content and b"+34612345679" not in page.content


@pytest.mark.parametrize("who", ["alice", "dave"])
def test_consent_page_shows_the_full_number_and_records_one_view(cast, login, decisions, who):
    consent = decisions["acme"]
    page = login(getattr(cast, who)).get(_consent_url(consent), headers=TRACED)
    assert page.status_code == 200
    assert NUMBER in page.content
    viewed = _views().get()
    assert (viewed.actor_id, viewed.actor_username, viewed.tenant_id, viewed.outcome) == (
        getattr(cast, who).pk,
        who,
        cast.acme.pk,
        "allowed",
    )
    assert (viewed.target_type, viewed.target_id) == ("compliance.consent", str(consent.pk))
    assert (viewed.workstation_id, viewed.request_id, viewed.client_ip) == (
        "DPO-1",
        "req-consent-1",
        "127.0.0.1",
    )
    assert viewed.extra["user"] == who
    assert "customer_number" in viewed.extra["fields"]
    # The append-only trail keeps no part of the number, not even the mask.
    assert "+336" not in viewed.target_label and "78" not in str(viewed.extra)


def test_each_display_of_a_consent_page_is_one_event(cast, login, decisions):
    client = login(cast.alice)
    client.get(_consent_url(decisions["acme"]))
    client.get(_consent_url(decisions["acme"]))
    assert _views().count() == 2


def test_platform_operator_view_goes_on_the_owning_tenants_trail(cast, login, decisions):
    assert login(cast.root).get(_consent_url(decisions["globex"])).status_code == 200
    viewed = _views().get()
    assert (viewed.actor_username, viewed.tenant_id) == ("root", cast.globex.pk)


def test_consent_page_of_another_tenant_reveals_nothing_and_records_no_view(cast, login, decisions):
    page = login(cast.erin).get(_consent_url(decisions["acme"]))
    # The admin answers a row outside the queryset like a missing one (as for recordings).
    assert page.status_code == 302
    assert NUMBER not in page.content
    assert not _views().exists()


def test_adding_a_decision_records_no_view(cast, login):
    assert login(cast.alice).get(reverse("admin:compliance_consent_add")).status_code == 200
    assert not _views().exists()


# --- legal holds -------------------------------------------------------------------------------


def _hold(cast, **scope) -> LegalHold:
    return legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="RG 24/01234", reason="Litigation", **scope
    )


def _hold_url(hold: LegalHold) -> str:
    return reverse("admin:compliance_legalhold_change", args=[hold.pk])


def test_hold_list_shows_no_number(cast, login):
    _hold(cast, customer_number="06 12 34 56 78")
    page = login(cast.alice).get(reverse("admin:compliance_legalhold_changelist"))
    assert page.status_code == 200 and b"RG 24/01234" in page.content
    assert NUMBER not in page.content
    assert not _views("legal_hold.viewed").exists()


def test_hold_page_naming_a_number_shows_it_and_records_the_view(cast, login):
    hold = _hold(cast, customer_number="06 12 34 56 78")
    page = login(cast.dave).get(_hold_url(hold), headers=TRACED)
    assert page.status_code == 200
    assert NUMBER in page.content
    viewed = _views("legal_hold.viewed").get()
    assert (viewed.actor_username, viewed.tenant_id, viewed.workstation_id) == (
        "dave",
        cast.acme.pk,
        "DPO-1",
    )
    assert (viewed.target_type, viewed.target_id) == ("compliance.legalhold", str(hold.pk))
    assert NUMBER.decode() not in viewed.target_label


def test_hold_page_without_a_number_records_no_view(cast, login):
    hold = _hold(cast, campaign="spring-2025")
    assert login(cast.alice).get(_hold_url(hold)).status_code == 200
    assert not _views("legal_hold.viewed").exists()


def test_hold_page_of_another_tenant_reveals_nothing_and_records_no_view(cast, login):
    hold = _hold(cast, customer_number="06 12 34 56 78")
    page = login(cast.erin).get(_hold_url(hold))
    assert page.status_code == 302
    assert NUMBER not in page.content
    assert not _views("legal_hold.viewed").exists()


def test_recording_a_decision_leaves_no_part_of_the_number_on_the_trail(cast):
    """The trail is append-only: an erasure could never reach a number, even masked, kept in a
    label. A decision's events name it by id."""
    consent = _decide(cast.acme, NUMBER.decode())
    (event,) = AuditEvent.objects.filter(action="consent.recorded")
    assert (event.target_type, event.target_id, event.target_label) == (
        "compliance.consent",
        str(consent.pk),
        f"consent {consent.pk}",
    )
    stored = AuditEvent.objects.filter(pk=event.pk).values().get()
    for name in ("hash", "previous_hash"):  # hex digests
        del stored[name]
    assert "5678" not in str(stored) and MASKED.decode() not in str(stored)
