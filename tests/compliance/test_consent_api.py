"""POST /api/v1/consents: the IVR and the dialer push callers' decisions with their tenant's API
key; the decision in force then governs ingestion and retention of consent-based recordings."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.api import EVIDENCE_FIELDS, REQUIRED_FIELDS
from compliance.models import Consent, Purpose
from compliance.services.api_keys import api_key_create, api_key_revoke
from compliance.services.legal_holds import legal_hold_place
from recordings.models import DeletionCertificate, Recording
from recordings.services.purge.run import purge_expired_recordings

from ..audio import tone_wav

URL = "/api/v1/consents"
RECORDINGS_URL = "/api/v1/recordings"
CALLER = "+33644444444"
_call_serial = itertools.count(1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_key(cast):
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme IVR")


@pytest.fixture
def acme_token(acme_key) -> str:
    return acme_key[1]


@pytest.fixture
def globex_token(cast) -> str:
    return api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex dialer")[1]


def _ago(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def _decision(**overrides) -> dict[str, object]:
    decision: dict[str, object] = {
        "customer_number": "06 44 44 44 44",
        "purpose": "telemarketing",
        "decision": "granted",
        "decided_at": _ago(minutes=5),
        "channel": "ivr",
        "ivr_prompt_id": "consent-fr-1",
        "ivr_prompt_version": "3",
        "call_id": "ivr-call-77",
    }
    decision.update(overrides)
    return {name: value for name, value in decision.items() if value is not None}


def decide(token: str, *, headers=None, **overrides):
    """The IVR's call: a JSON body."""
    return Client().post(
        URL,
        json.dumps(_decision(**overrides)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )


def decide_with_form(token: str, **overrides):
    """The dialer's call: an HTML-form body."""
    return Client().post(
        URL,
        urlencode(_decision(**overrides)),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {token}"},
    )


def push_recording(token: str, *, number: str = CALLER, purpose: str = "telemarketing", **fields):
    """The recorder's call, as in tests/recordings/test_ingest_api.py."""
    data = {
        "call_id": f"call-{next(_call_serial)}",
        "direction": "outbound",
        "started_at": _ago(hours=1),
        "customer_number": number,
        "purpose": purpose,
        "audio": SimpleUploadedFile("call.wav", tone_wav(0.5), content_type="audio/wav"),
        **fields,
    }
    return Client().post(RECORDINGS_URL, data, headers={"Authorization": f"Bearer {token}"})


def assert_refused(response, *, field: str, status: int = 400) -> AuditEvent:
    """Named field, nothing written, and the refusal on the trail."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field
    assert body["error"]
    assert not Consent.objects.exists()
    event = AuditEvent.objects.get(action="consent.refused")
    assert event.outcome == "denied"
    assert event.extra["field"] == field
    assert event.extra["status"] == status
    assert not AuditEvent.objects.filter(action="consent.recorded").exists()
    return event


# --- the IVR records decisions ------------------------------------------------------------------


def test_ivr_records_a_granted_decision(cast, acme_key):
    api_key, token = acme_key
    decided_at = timezone.now() - timedelta(minutes=3)
    response = decide(token, decided_at=decided_at.isoformat(), operator="OP-12")
    assert response.status_code == 201, response.content
    consent = Consent.objects.get()
    assert response.json() == {
        "id": consent.pk,
        "customer_number": CALLER,
        "purpose": "telemarketing",
        "decision": "granted",
        "decided_at": decided_at.astimezone(ZoneInfo("Europe/Paris")).isoformat(),
        "decision_in_force": "granted",
        "receipt_url": f"http://testserver/compliance/consents/{consent.pk}/receipt/",
    }
    assert response["Content-Type"] == "application/json"
    assert consent.tenant == cast.acme
    assert consent.decided_at == decided_at
    assert (consent.channel, consent.ivr_prompt_id, consent.ivr_prompt_version) == (
        "ivr",
        "consent-fr-1",
        "3",
    )
    assert (consent.call_id, consent.operator) == ("ivr-call-77", "OP-12")
    assert consent.recorded_by == f"api_key:{api_key.prefix}"
    event = AuditEvent.objects.get(action="consent.recorded")
    assert event.actor_username == f"api_key:{api_key.prefix}"
    assert event.tenant_id == cast.acme.pk
    assert not AuditEvent.objects.filter(action="consent.refused").exists()


@pytest.mark.parametrize("decision", ["refused", "withdrawn"])
def test_ivr_records_a_refusal_or_a_withdrawal(cast, acme_token, decision):
    response = decide(acme_token, decision=decision)
    assert response.status_code == 201, response.content
    assert response.json()["decision"] == decision
    assert response.json()["decision_in_force"] == decision
    assert Consent.objects.get().decision == decision


@pytest.mark.parametrize("decision", ["granted", "refused", "withdrawn"])
def test_dialer_records_a_decision_as_a_form(cast, acme_token, decision):
    response = decide_with_form(acme_token, decision=decision, channel="agent", operator="A17")
    assert response.status_code == 201, response.content
    consent = Consent.objects.get()
    assert (consent.decision, consent.channel, consent.operator) == (decision, "agent", "A17")
    assert consent.customer_number == CALLER


def test_a_json_number_is_read_as_its_digits(cast, acme_token):
    response = decide(acme_token, customer_number=33644444444, ivr_prompt_version=3)
    assert response.status_code == 201, response.content
    consent = Consent.objects.get()
    assert (consent.customer_number, consent.ivr_prompt_version) == (CALLER, "3")


def test_optional_evidence_may_be_left_out(cast, acme_token):
    response = decide(
        acme_token, ivr_prompt_id=None, ivr_prompt_version=None, call_id=None, channel="web_form"
    )
    assert response.status_code == 201, response.content
    consent = Consent.objects.get()
    assert (consent.ivr_prompt_id, consent.call_id, consent.subject_reference) == ("", "", "")


def test_the_decision_event_names_the_request(cast, acme_token):
    response = decide(acme_token, headers={"X-Request-Id": "ivr-req-9"})
    assert response.status_code == 201
    assert response["X-Request-Id"] == "ivr-req-9"
    assert AuditEvent.objects.get(action="consent.recorded").request_id == "ivr-req-9"


# --- what the decision in force does to recordings ---------------------------------------------


def test_a_refusal_blocks_later_ingestion_of_a_telemarketing_recording(cast, acme_token):
    assert decide(acme_token, decision="refused").status_code == 201
    response = push_recording(acme_token)
    assert response.status_code == 409, response.content
    assert response.json()["field"] == "consent"
    assert "refused" in response.json()["error"]
    assert not Recording.objects.exists()
    assert AuditEvent.objects.get(action="recording.ingest_refused").extra["field"] == "consent"


def test_a_refusal_does_not_block_other_callers_or_purposes_without_consent(cast, acme_token):
    assert decide(acme_token, decision="refused").status_code == 201
    assert push_recording(acme_token, purpose="quality").status_code == 201
    assert decide(acme_token, customer_number="+33655555555").status_code == 201
    assert push_recording(acme_token, number="+33655555555").status_code == 201


def test_a_grant_allows_ingestion_of_a_telemarketing_recording(cast, acme_token):
    assert push_recording(acme_token).status_code == 409  # no decision yet
    assert decide(acme_token, decision="granted").status_code == 201
    response = push_recording(acme_token)
    assert response.status_code == 201, response.content
    assert Recording.objects.get().customer_number == CALLER


def test_a_grant_after_a_refusal_allows_ingestion_again(cast, acme_token):
    assert decide(acme_token, decision="refused", decided_at=_ago(days=2)).status_code == 201
    assert push_recording(acme_token).status_code == 409
    response = decide(acme_token, decision="granted", decided_at=_ago(minutes=1))
    assert response.json()["decision_in_force"] == "granted"
    assert push_recording(acme_token).status_code == 201


def test_a_withdrawal_has_the_callers_telemarketing_recordings_deleted_at_the_next_purge(
    cast, acme_token, recordings_dir
):
    assert decide(acme_token, decided_at=_ago(days=3)).status_code == 201
    telemarketing = [push_recording(acme_token).json()["id"] for _ in range(2)]
    quality = push_recording(acme_token, purpose="quality").json()["id"]
    assert decide(acme_token, customer_number="+33655555555").status_code == 201
    other_caller = push_recording(acme_token, number="+33655555555").json()["id"]
    assert purge_expired_recordings().purged == 0

    response = decide(acme_token, decision="withdrawn", channel="web_form", decided_at=_ago())
    assert response.status_code == 201
    assert response.json()["decision_in_force"] == "withdrawn"
    assert set(
        Recording.objects.filter(deletion_reason="consent_withdrawn").values_list("pk", flat=True)
    ) == set(telemarketing)
    assert push_recording(acme_token).status_code == 409

    run = purge_expired_recordings()
    assert run.purged == 2
    assert set(Recording.objects.values_list("pk", flat=True)) == {quality, other_caller}
    certificates = DeletionCertificate.objects.filter(recording_id__in=telemarketing)
    assert sorted(certificates.values_list("reason", flat=True)) == ["consent_withdrawn"] * 2
    assert AuditEvent.objects.filter(action="recording.consent_withdrawn").count() == 1


def test_a_withdrawn_callers_recording_under_legal_hold_survives_the_purge(cast, acme_token):
    assert decide(acme_token, decided_at=_ago(days=3)).status_code == 201
    held = push_recording(acme_token).json()["id"]
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 31",
        reason="Complaint before the regulator",
        customer_number=CALLER,
    )
    assert decide(acme_token, decision="withdrawn").status_code == 201
    run = purge_expired_recordings()
    assert (run.purged, run.skipped_held) == (0, 1)
    assert Recording.objects.filter(pk=held, status="active").exists()
    assert not DeletionCertificate.objects.exists()


def test_a_refusal_also_ends_the_callers_telemarketing_recordings(cast, acme_token):
    assert decide(acme_token, decided_at=_ago(days=3)).status_code == 201
    recording = push_recording(acme_token).json()["id"]
    assert decide(acme_token, decision="refused", channel="agent").status_code == 201
    assert purge_expired_recordings().purged == 1
    assert DeletionCertificate.objects.get(recording_id=recording).reason == "consent_withdrawn"


# --- out-of-order arrival: the latest decision time wins, not the latest arrival ----------------


def test_a_back_dated_refusal_arriving_after_a_newer_grant_ends_nothing(cast, acme_token):
    assert decide(acme_token, decision="granted", decided_at=_ago(hours=1)).status_code == 201
    recording = push_recording(acme_token).json()["id"]
    retain_until = Recording.objects.get(pk=recording).retain_until

    late = decide(acme_token, decision="refused", decided_at=_ago(days=1))
    assert late.status_code == 201
    assert late.json()["decision"] == "refused"
    assert late.json()["decision_in_force"] == "granted"

    kept = Recording.objects.get(pk=recording)
    assert (kept.retain_until, kept.deletion_reason) == (retain_until, "expired")
    assert purge_expired_recordings().purged == 0
    assert push_recording(acme_token).status_code == 201
    assert not AuditEvent.objects.filter(action="recording.consent_withdrawn").exists()


def test_a_back_dated_grant_arriving_after_a_newer_refusal_allows_nothing(cast, acme_token):
    assert decide(acme_token, decision="refused", decided_at=_ago(minutes=10)).status_code == 201
    late = decide(acme_token, decision="granted", decided_at=_ago(days=1))
    assert late.json()["decision_in_force"] == "refused"
    assert push_recording(acme_token).status_code == 409


# --- refusals: each names the field, writes nothing, and is on the trail ------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"purpose": "fishing"}, "purpose"),
        ({"customer_number": "12345"}, "customer_number"),
        ({"customer_number": "not a number"}, "customer_number"),
        # A Spanish mobile in its national format: Acme is in France, where 7 12… is no number.
        ({"customer_number": "712 34 56 78"}, "customer_number"),
        ({"decided_at": (timezone.now() + timedelta(days=1)).isoformat()}, "decided_at"),
        ({"decided_at": "yesterday"}, "decided_at"),
        ({"decided_at": "2026-13-45T25:00:00+01:00"}, "decided_at"),
        ({"decided_at": "2026-01-05T10:00:00"}, "decided_at"),  # no offset
        ({"decision": "maybe"}, "decision"),
        ({"decision": "GRANTED"}, "decision"),
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"operator": "O" * 65}, "operator"),
        ({"call_id": "c" * 129}, "call_id"),
        ({"ivr_prompt_version": ["3", "4"]}, "ivr_prompt_version"),
        ({"decision": True}, "decision"),
        ({"customer_number": None}, "customer_number"),
        ({"purpose": None}, "purpose"),
        ({"decision": None}, "decision"),
        ({"decided_at": None}, "decided_at"),
        ({"channel": None}, "channel"),
        ({"channel": "   "}, "channel"),
    ],
)
def test_bad_input_is_refused_naming_the_field(cast, acme_token, overrides, field):
    assert_refused(decide(acme_token, **overrides), field=field)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"purpose": "fishing"}, "purpose"),
        ({"decided_at": "soon"}, "decided_at"),
        ({"channel": None}, "channel"),
    ],
)
def test_bad_form_input_is_refused_naming_the_field(cast, acme_token, overrides, field):
    assert_refused(decide_with_form(acme_token, **overrides), field=field)


@pytest.mark.parametrize("field", [*REQUIRED_FIELDS, *EVIDENCE_FIELDS])
@pytest.mark.parametrize("send", [decide, decide_with_form], ids=["json", "form"])
def test_a_nul_character_in_any_field_is_refused_naming_it(cast, acme_token, send, field):
    """PostgreSQL cannot store NUL: a 400 naming the field rather than a 500, and the refusal on
    the trail without the value it could not store."""
    value = f"{_decision().get(field, 'x')}\x00y"
    response = send(acme_token, **{field: value})
    event = assert_refused(response, field=field)
    assert "NUL" in response.json()["error"]
    assert "\x00" not in json.dumps(event.extra) + event.target_label


def test_a_decision_in_the_future_is_refused_as_such(cast, acme_token):
    response = decide(acme_token, decided_at=(timezone.now() + timedelta(hours=1)).isoformat())
    assert_refused(response, field="decided_at")
    assert "future" in response.json()["error"]


def test_a_decision_slightly_ahead_of_our_clock_is_accepted(cast, acme_token):
    """IVR clocks drift: within the allowed skew, 'ahead' is still now."""
    response = decide(acme_token, decided_at=(timezone.now() + timedelta(seconds=30)).isoformat())
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("decision", ["granted", "refused", "withdrawn"])
@pytest.mark.parametrize(
    ("purpose", "basis"),
    [
        ("quality", "Legitimate interest (Art. 6(1)(f))"),
        ("investment_services", "Legal obligation (Art. 6(1)(c))"),
    ],
)
def test_a_decision_for_a_purpose_that_does_not_rest_on_consent_is_refused(
    cast, acme_token, purpose, basis, decision
):
    """Nothing reads such a decision (ingestion asks for consent only where the purpose requires
    it, and a withdrawal there would end no retention): accepted, it would pass for a choice
    of the caller's that was honoured."""
    response = decide(acme_token, purpose=purpose, decision=decision)
    event = assert_refused(response, field="purpose")
    message = f"purpose {purpose} does not rest on consent (legal basis: {basis})"
    assert message in response.json()["error"]
    assert message in event.extra["reason"]


def test_a_refusal_for_quality_monitoring_leaves_the_callers_recordings_alone(cast, acme_token):
    recording = push_recording(acme_token, purpose="quality").json()["id"]
    assert decide(acme_token, purpose="quality", decision="withdrawn").status_code == 400
    assert Recording.objects.get(pk=recording).deletion_reason == "expired"
    assert not AuditEvent.objects.filter(action="recording.consent_withdrawn").exists()


def test_insurance_telesales_rests_on_law_but_records_the_callers_agreement(cast, acme_token):
    """Code des assurances R.112-7: the caller may refuse the recording, which is then not made;
    the purpose requires consent although its legal basis is a legal obligation."""
    response = decide(acme_token, purpose="insurance_telesales", decision="refused")
    assert response.status_code == 201, response.content
    assert push_recording(acme_token, purpose="insurance_telesales").status_code == 409


@pytest.mark.parametrize(
    "body", [b'{"customer_number": "0644444444", ', b"[1, 2]", b'"granted"', b"\xff\xfe{}"]
)
def test_malformed_json_is_refused_naming_the_body(cast, acme_token, body):
    response = Client().post(
        URL,
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    assert_refused(response, field="body")


def test_a_body_of_another_type_is_refused_as_unsupported(cast, acme_token):
    response = Client().post(
        URL,
        "customer_number=0644444444",
        content_type="text/plain",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    assert_refused(response, field="body", status=415)


def test_the_refusal_event_names_the_key_and_the_request_but_not_the_number(cast, acme_key):
    api_key, token = acme_key
    response = decide(token, purpose="fishing", headers={"X-Request-Id": "ivr-req-13"})
    event = assert_refused(response, field="purpose")
    assert event.tenant_id == cast.acme.pk
    assert event.actor_username == f"api_key:{api_key.prefix}"
    assert event.request_id == "ivr-req-13"
    assert event.extra["api_key"] == api_key.prefix
    assert event.extra["purpose"] == "fishing"
    assert event.target_label == "decision of call ivr-call-77"
    stored = json.dumps(event.extra) + event.target_label + event.target_id
    assert "644444444" not in stored


def test_a_revoked_key_cannot_record_decisions(cast, acme_key):
    api_key, token = acme_key
    api_key_revoke(actor=cast.alice, api_key=api_key)
    response = decide(token)
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert not Consent.objects.exists()
    failure = AuditEvent.objects.get(action="api.auth_failed")
    assert (failure.outcome, failure.tenant_id, failure.extra["reason"]) == (
        "denied",
        cast.acme.pk,
        "revoked",
    )


def test_a_request_without_a_key_cannot_record_decisions(cast):
    response = Client().post(URL, json.dumps(_decision()), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert not Consent.objects.exists()


def test_only_post_is_allowed(cast, acme_token):
    response = Client().get(URL, headers={"Authorization": f"Bearer {acme_token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["field"] == "method"


# --- tenants ----------------------------------------------------------------------------------


def test_a_key_cannot_use_another_tenants_own_purpose(cast, globex_token):
    Purpose.objects.create(
        tenant=cast.acme,
        code="acme-offers",
        name="Acme offers",
        legal_basis="consent",
        requires_consent=True,
        default_retention_months=6,
    )
    event = assert_refused(
        decide(globex_token, purpose="acme-offers", customer_number="+33644444444"),
        field="purpose",
    )
    assert event.tenant_id == cast.globex.pk


def test_a_national_number_is_read_in_the_keys_tenants_country(cast, globex_token):
    # Globex is in Spain: a French national number is no Spanish number.
    event = assert_refused(decide(globex_token), field="customer_number")
    assert event.tenant_id == cast.globex.pk


def test_another_tenants_decision_does_not_count_for_acme(cast, acme_token, globex_token):
    response = decide(globex_token, customer_number=CALLER)
    assert response.status_code == 201, response.content
    assert Consent.objects.get().tenant == cast.globex
    assert push_recording(acme_token).status_code == 409
