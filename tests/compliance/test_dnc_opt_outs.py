"""A tenant's internal do-not-call opt-outs, added one by one (compliance/services/dnc_opt_outs.py):
by its staff in the admin, by its dialer through POST /api/v1/dnc/opt-outs, and when a caller
refuses marketing in a consent decision. Each is audited, never expires, and stays its tenant's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.pseudonyms import customer_number_hash
from compliance.dnc_models import DncOptOut, OptOutChannel
from compliance.services.api_keys import api_key_create
from compliance.services.consents import consent_record
from compliance.services.dnc_opt_outs import dnc_opt_out_add
from kit.refusals import Refused

pytestmark = pytest.mark.django_db

URL = "/api/v1/dnc/opt-outs"


def _post(token: str, body, content_type: str = "application/json"):
    data = json.dumps(body) if content_type == "application/json" else body
    return Client().post(URL, data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme dialer")[1]


# --- the service ----------------------------------------------------------------------------------


def test_an_opt_out_is_normalised_audited_and_added_once(cast):
    opt_out, created = dnc_opt_out_add(
        actor=cast.alice, tenant=cast.acme, number="06 12 34 56 78", channel=OptOutChannel.ADMIN
    )
    assert created and opt_out.number == "+33612345678" and opt_out.added_by == "alice"
    again, created_again = dnc_opt_out_add(
        actor=cast.alice, tenant=cast.acme, number="+33612345678", channel=OptOutChannel.API
    )
    assert again == opt_out and not created_again
    assert again.channel == OptOutChannel.ADMIN  # the first stays as it was
    events = AuditEvent.objects.filter(action="dnc_opt_out.added")
    assert events.count() == 1
    event = events.get()
    assert event.target_id == str(opt_out.pk) and event.actor_username == "alice"
    assert "12345678" not in event.target_label  # the number masked on the trail


def test_an_opt_out_is_refused_for_a_bad_number_or_a_role_that_may_not(cast):
    with pytest.raises(Refused) as refused:
        dnc_opt_out_add(actor=cast.alice, tenant=cast.acme, number="0612", channel="admin")
    assert refused.value.field == "number"
    for person, tenant in [(cast.bob, cast.acme), (cast.alice, cast.globex)]:
        with pytest.raises(Refused) as refused:
            dnc_opt_out_add(
                actor=person, tenant=tenant, number="0612345678", channel=OptOutChannel.ADMIN
            )
        assert refused.value.status == 403
    assert not DncOptOut.objects.exists()


# --- a consent decision refusing marketing ------------------------------------------------------


def _decision(cast, decision: str, *, purpose: str = "telemarketing", minutes_ago: int = 5):
    return consent_record(
        recorded_by="api_key:ivr",
        tenant=cast.acme,
        customer_number="06 44 44 44 44",
        purpose_code=purpose,
        decision=decision,
        decided_at=timezone.now() - timedelta(minutes=minutes_ago),
        channel="ivr",
    )


@pytest.mark.parametrize("decision", ["refused", "withdrawn"])
def test_a_caller_refusing_marketing_is_opted_out_in_the_same_transaction(cast, decision):
    consent = _decision(cast, decision)
    opt_out = DncOptOut.objects.get(tenant=cast.acme)
    assert opt_out.number == "+33644444444"
    assert opt_out.channel == OptOutChannel.CONSENT and opt_out.consent == consent
    assert opt_out.added_by == "api_key:ivr"
    added = AuditEvent.objects.get(action="dnc_opt_out.added")
    recorded = AuditEvent.objects.get(action="consent.recorded")
    assert added.extra["consent"] == consent.pk and added.request_id == recorded.request_id


def test_a_grant_another_purpose_or_an_older_refusal_adds_no_opt_out(cast):
    _decision(cast, "granted")
    _decision(cast, "refused", purpose="insurance_telesales")  # consent to be recorded, not ads
    _decision(cast, "refused", minutes_ago=60)  # older than the grant in force
    assert not DncOptOut.objects.exists()
    _decision(cast, "refused")
    assert DncOptOut.objects.count() == 1


def test_a_later_grant_does_not_lift_an_opt_out(cast):
    _decision(cast, "refused", minutes_ago=10)
    _decision(cast, "granted")
    assert DncOptOut.objects.filter(tenant=cast.acme, number="+33644444444").exists()


# --- the API --------------------------------------------------------------------------------------


def test_the_dialer_adds_an_opt_out_then_finds_it_there(cast, acme_token):
    first = _post(acme_token, {"number": "06 12 34 56 78", "note": "asked on the phone"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["number"] == "+33612345678" and body["created"] is True
    assert body["channel"] == "api" and body["added_at"].endswith("+01:00")
    second = _post(acme_token, {"number": "+33612345678"})
    assert second.status_code == 200 and second.json()["created"] is False
    opt_out = DncOptOut.objects.get()
    assert opt_out.tenant == cast.acme and opt_out.note == "asked on the phone"
    event = AuditEvent.objects.get(action="dnc_opt_out.added")
    assert event.actor_username.startswith("api_key:")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        ({"number": "0612"}, "application/json", 400, "number"),
        ({}, "application/json", 400, "number"),
        ({"number": ["0612345678"]}, "application/json", 400, "number"),
        ({"number": "0612345678", "note": "x" * 2001}, "application/json", 400, "note"),
        ("not json", "application/json", 400, "body"),
        ("number=0612345678", "application/x-www-form-urlencoded", 415, "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_on_the_trail(
    cast, acme_token, body, content_type, status, field
):
    response = _post(acme_token, body, content_type)
    assert response.status_code == status
    assert response.json()["field"] == field and response.json()["error"]
    assert not DncOptOut.objects.exists()
    refused = AuditEvent.objects.get(action="dnc_opt_out.refused")
    assert refused.extra["field"] == field
    assert "0612" not in json.dumps(refused.extra)  # no number on the trail


def test_the_api_needs_a_key_and_adds_to_the_keys_tenant_only(cast, acme_token):
    assert Client().post(URL, {"number": "0612345678"}, "application/json").status_code == 401
    globex_token = api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex dialer")[1]
    assert _post(globex_token, {"number": "612345678"}).status_code == 201
    assert _post(acme_token, {"number": "0612345678"}).status_code == 201
    numbers = dict(DncOptOut.objects.values_list("tenant__slug", "number"))
    assert numbers == {"globex": "+34612345678", "acme": "+33612345678"}
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {acme_token}").status_code == 405


# --- the admin ------------------------------------------------------------------------------------


def test_a_compliance_officer_adds_an_opt_out_in_the_admin(cast, login):
    client = login(cast.alice)
    add = reverse("admin:compliance_dncoptout_add")
    response = client.post(add, {"tenant": cast.acme.pk, "phone": "06 12 34 56 78", "note": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    opt_out = DncOptOut.objects.get()
    assert (opt_out.number, opt_out.channel, opt_out.added_by) == ("+33612345678", "admin", "alice")
    again = client.post(add, {"tenant": cast.acme.pk, "phone": "+33612345678"}, follow=True)
    assert b"already opted out" in again.content and DncOptOut.objects.count() == 1
    bad = client.post(add, {"tenant": cast.acme.pk, "phone": "0612"})
    assert bad.status_code == 200 and "not a valid number" in str(
        bad.context["adminform"].form.errors
    )
    elsewhere = client.post(add, {"tenant": cast.globex.pk, "phone": "612345678"})
    assert elsewhere.status_code == 200 and DncOptOut.objects.count() == 1


def test_the_list_masks_numbers_the_page_shows_it_traced_and_a_search_is_traced(cast, login):
    opt_out, _ = dnc_opt_out_add(
        actor=cast.alice, tenant=cast.acme, number="0612345678", channel=OptOutChannel.ADMIN
    )
    client = login(cast.dave)  # the auditor reads them
    changelist = reverse("admin:compliance_dncoptout_changelist")
    listing = client.get(changelist).content.decode()
    assert "+336•••••78" in listing and "+33612345678" not in listing
    page = client.get(reverse("admin:compliance_dncoptout_change", args=[opt_out.pk]))
    assert "+33612345678" in page.content.decode()
    viewed = AuditEvent.objects.get(action="dnc_opt_out.viewed")
    assert viewed.extra["user"] == "dave"
    found = client.get(changelist, {"q": "06 12 34 56 78"})
    assert [o.pk for o in found.context["cl"].result_list] == [opt_out.pk]
    searched = AuditEvent.objects.get(action="dnc_opt_out.searched")
    assert searched.target_id == customer_number_hash("+33612345678")


def test_opt_outs_are_never_changed_or_removed_and_stay_their_tenants(cast, login):
    opt_out, _ = dnc_opt_out_add(
        actor=cast.alice, tenant=cast.acme, number="0612345678", channel=OptOutChannel.ADMIN
    )
    alice = login(cast.alice)
    change = reverse("admin:compliance_dncoptout_change", args=[opt_out.pk])
    assert alice.post(change, {"number": "+33699999999"}).status_code == 403
    delete = reverse("admin:compliance_dncoptout_delete", args=[opt_out.pk])
    assert alice.post(delete, {"post": "yes"}).status_code == 403
    erin = Client()
    erin.force_login(cast.erin)
    listing = erin.get(reverse("admin:compliance_dncoptout_changelist"))
    assert list(listing.context["cl"].result_list) == []
    assert erin.get(change).status_code == 302  # "does not exist", as an unknown id
    bob = Client()
    bob.force_login(cast.bob)  # the supervisor has no access to opt-outs
    assert bob.get(reverse("admin:compliance_dncoptout_changelist")).status_code == 403
    assert DncOptOut.objects.get().number == "+33612345678"
