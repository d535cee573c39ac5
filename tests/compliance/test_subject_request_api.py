"""POST /api/v1/subject-requests: a tenant's front office files a data subject's request with its
API key and gets back the request's id and due date; bad input is a 4xx naming the field that
registers nothing and is on the trail without the subject's data (docs/architecture.md,
invariants 6 and 7)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.api_subject_requests import MAX_BODY_BYTES
from compliance.models import SubjectRequest
from compliance.services.api_keys import api_key_create, api_key_revoke
from kit.null_characters import NUL

from ..factories import PurposeFactory

URL = "/api/v1/subject-requests"
NUMBER = "06 12 34 56 78"

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_key(cast):
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme front office")


@pytest.fixture
def acme_token(acme_key) -> str:
    return acme_key[1]


@pytest.fixture
def globex_token(cast) -> str:
    return api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex front office")[1]


def _body(**overrides) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "access",
        "customer_numbers": [NUMBER],
        "requester_name": "Jeanne Martin",
        "requester_contact": "jeanne.martin@example.org",
        "language": "fr",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def file_request(token: str, **overrides):
    return post_text(token, json.dumps(_body(**overrides)))


def post_text(token: str, text: str | bytes, content_type: str = "application/json"):
    return Client().post(
        URL, text, content_type=content_type, headers={"Authorization": f"Bearer {token}"}
    )


def file_with_form(token: str, fields: list[tuple[str, str]]):
    return post_text(token, urlencode(fields), "application/x-www-form-urlencoded")


def assert_refused(response, *, field: str, status: int = 400) -> AuditEvent:
    """Named field, nothing registered, the refusal on the trail without the subject's data."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field
    assert body["error"]
    assert not SubjectRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="subject_request.received").exists()
    event = AuditEvent.objects.get(action="subject_request.api_refused")
    assert event.outcome == "denied"
    assert (event.extra["field"], event.extra["status"]) == (field, status)
    kept = json.dumps([event.extra, event.target_label])
    for personal in ("12 34 56", "612345678", "Jeanne", "jeanne.martin"):
        assert personal not in kept
    return event


# --- the front office files requests --------------------------------------------------------------


def test_the_front_office_files_a_request_and_gets_its_id_and_due_date(cast, acme_key):
    api_key, token = acme_key
    received_at = datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("UTC"))  # 1 December in Paris
    response = file_request(token, received_at=received_at.isoformat())
    assert response.status_code == 201, response.content
    request = SubjectRequest.objects.get()
    assert response.json() == {
        "id": request.pk,
        "kind": "access",
        "status": "received",
        "due_on": "2027-01-01",
        "duplicate_of": None,
    }
    assert request.due_on == date(2027, 1, 1)
    assert (request.tenant, request.channel, request.api_key) == (cast.acme, "api", api_key)
    assert request.customer_numbers == ["+33612345678"]
    assert (request.requester_name, request.language) == ("Jeanne Martin", "fr")
    assert request.received_at == received_at
    assert request.handled_by is None
    event = AuditEvent.objects.get(action="subject_request.received")
    assert event.actor_username == f"api_key:{api_key.prefix}"
    assert (event.tenant_id, event.target_id) == (cast.acme.pk, str(request.pk))
    assert event.extra["api_key"] == api_key.prefix
    assert not AuditEvent.objects.filter(action="subject_request.api_refused").exists()


def test_received_at_defaults_to_now(cast, acme_token):
    before = timezone.now()
    response = file_request(acme_token, language=None)
    assert response.status_code == 201, response.content
    request = SubjectRequest.objects.get()
    assert before <= request.received_at <= timezone.now()
    assert request.due_on.isoformat() == response.json()["due_on"]
    assert request.language == "en"


def test_a_form_with_repeated_numbers_and_a_single_number_field(cast, acme_token):
    response = file_with_form(
        acme_token,
        [
            ("kind", "erasure"),
            ("customer_numbers", "06 12 34 56 78"),
            ("customer_numbers", "+33 1 23 45 67 89"),
            ("subject_reference", "CUST-77"),
        ],
    )
    assert response.status_code == 201, response.content
    assert SubjectRequest.objects.get().customer_numbers == ["+33612345678", "+33123456789"]
    response = post_text(acme_token, json.dumps({"kind": "access", "customer_number": NUMBER}))
    assert response.status_code == 201, response.content
    assert SubjectRequest.objects.get(pk=response.json()["id"]).customer_numbers == ["+33612345678"]


def test_the_same_subject_asking_again_is_registered_and_flagged(cast, acme_token):
    first = file_request(acme_token).json()
    again = file_request(acme_token, customer_numbers=["+33612345678"])
    assert again.status_code == 201
    assert again.json()["duplicate_of"] == first["id"]
    assert file_request(acme_token, kind="erasure").json()["duplicate_of"] is None


def test_a_subject_of_whom_nothing_is_held_is_still_a_request(cast, acme_token):
    # Nobody at Acme ever called from this number: the request is registered all the same, and
    # the answer (once the identity is verified) says that nothing is held.
    response = file_request(acme_token, customer_numbers=["+33 6 98 76 54 32"])
    assert response.status_code == 201, response.content
    assert SubjectRequest.objects.get().status == "received"


def test_an_objection_names_a_legitimate_interest_purpose_of_the_tenant(cast, acme_token):
    own = PurposeFactory(tenant=cast.acme, code="acme-callbacks")
    response = file_request(acme_token, kind="objection", objection_purpose="acme-callbacks")
    assert response.status_code == 201, response.content
    assert SubjectRequest.objects.get().objection_purpose == own
    response = file_request(acme_token, kind="objection", objection_purpose="quality")
    assert response.status_code == 201, response.content


# --- one tenant's key, one tenant -----------------------------------------------------------------


def test_a_key_files_requests_for_its_own_tenant_only(cast, acme_token, globex_token):
    response = file_request(globex_token, customer_numbers=["612 34 56 78"])
    assert response.status_code == 201, response.content
    globex_request = SubjectRequest.objects.get()
    assert globex_request.tenant == cast.globex
    assert globex_request.customer_numbers == ["+34612345678"]  # read as a Spanish number
    # Acme's key, naming its own tenant, may: the same number at Acme is another subject.
    response = file_request(acme_token, tenant="acme", customer_numbers=["+34612345678"])
    assert response.status_code == 201, response.content
    assert response.json()["duplicate_of"] is None
    assert SubjectRequest.objects.get(pk=response.json()["id"]).tenant == cast.acme


@pytest.mark.parametrize("named", ["globex", "no-such-tenant", "999999"])
def test_a_key_naming_another_tenant_is_refused_like_an_unknown_one(cast, acme_token, named):
    response = file_request(acme_token, tenant=named)
    event = assert_refused(response, field="tenant", status=403)
    assert event.tenant_id == cast.acme.pk
    assert not AuditEvent.objects.filter(tenant=cast.globex, action__startswith="subject_").exists()


def test_another_tenants_objection_purpose_is_refused_like_an_unknown_one(cast, acme_token):
    PurposeFactory(tenant=cast.globex, code="globex-surveys")
    response = file_request(acme_token, kind="objection", objection_purpose="globex-surveys")
    assert_refused(response, field="objection_purpose")
    unknown = file_request(acme_token, kind="objection", objection_purpose="no-such-purpose")
    assert unknown.json()["error"] == response.json()["error"].replace(
        "globex-surveys", "no-such-purpose"
    )


def test_a_revoked_key_is_refused_and_files_nothing(cast, acme_key):
    api_key, token = acme_key
    api_key_revoke(actor=cast.alice, api_key=api_key)
    response = file_request(token)
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert not SubjectRequest.objects.exists()
    assert AuditEvent.objects.get(action="api.auth_failed").extra["reason"] == "revoked"
    assert not AuditEvent.objects.filter(action__startswith="subject_request.").exists()


def test_no_key_is_a_401(cast):
    response = Client().post(URL, json.dumps(_body()), content_type="application/json")
    assert response.status_code == 401
    assert not SubjectRequest.objects.exists()


def test_past_its_rate_limit_a_key_gets_a_429(cast, acme_token, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    assert file_request(acme_token).status_code == 201
    response = file_request(acme_token, kind="erasure")
    assert response.status_code == 429
    assert response["Retry-After"]
    assert SubjectRequest.objects.count() == 1


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_numbers": ["06 12 34 56 7X"]}, "customer_numbers"),  # unknown number format
        ({"customer_numbers": ["12"]}, "customer_numbers"),
        ({"customer_numbers": [], "subject_reference": ""}, "customer_numbers"),
        ({"customer_numbers": [f"06 12 34 56 {n:02d}" for n in range(11)]}, "customer_numbers"),
        ({"customer_numbers": [NUMBER] * 500}, "customer_numbers"),
        ({"customer_numbers": {"mobile": NUMBER}}, "customer_numbers"),
        ({"customer_numbers": [[NUMBER]]}, "customer_numbers"),
        ({"customer_numbers": [True]}, "customer_numbers"),
        ({"customer_number": ["06"]}, "customer_number"),
        ({"kind": None}, "kind"),
        ({"kind": "deletion"}, "kind"),
        ({"kind": ["access"]}, "kind"),
        ({"language": "de"}, "language"),
        ({"received_at": "yesterday"}, "received_at"),
        ({"received_at": "2026-11-28T09:15:00"}, "received_at"),  # no offset
        ({"received_at": (timezone.now() + timedelta(days=2)).isoformat()}, "received_at"),
        ({"received_at": "1999-12-31T12:00:00+01:00"}, "received_at"),
        ({"kind": "objection"}, "objection_purpose"),
        ({"kind": "objection", "objection_purpose": "telemarketing"}, "objection_purpose"),
        ({"objection_purpose": "quality"}, "objection_purpose"),  # only an objection names one
        ({"subject_reference": "x" * 129}, "subject_reference"),
        ({"requester_name": "J" * 201}, "requester_name"),
        ({"requester_contact": "j" * 301}, "requester_contact"),
    ],
)
def test_bad_input_is_refused_naming_the_field(cast, acme_token, overrides, field):
    assert_refused(file_request(acme_token, **overrides), field=field)


def test_an_unreadable_number_is_refused_without_keeping_it_on_the_trail(cast, acme_token):
    response = file_request(acme_token, customer_numbers=["06 12 34 56 7X"])
    event = assert_refused(response, field="customer_numbers")
    assert "06 12 34 56 7X" in response.json()["error"]  # the client is told which one
    assert "7X" not in event.extra["reason"]


@pytest.mark.parametrize(
    "number",
    [
        "'+33 6 12 34 56 78\"x",  # a stray quote of each kind, as pasted from a spreadsheet
        "06'12\"34 56 78 9",
        "+33612345678'\"zz",
    ],
)
def test_a_number_with_quotes_in_it_stays_off_the_trail(cast, acme_token, number):
    """The refusal quotes the number to the client; the trail's copy of the reason must not
    keep it, whatever quotes the number itself holds."""
    response = file_request(acme_token, customer_numbers=[number])
    event = assert_refused(response, field="customer_numbers")
    assert "not a phone number" in event.extra["reason"]
    assert "34 56 78" not in event.extra["reason"] and "12345678" not in event.extra["reason"]


@pytest.mark.parametrize(
    "field",
    [
        "kind",
        "customer_numbers",
        "customer_number",
        "subject_reference",
        "received_at",
        "requester_name",
        "requester_contact",
        "language",
        "objection_purpose",
    ],
)
@pytest.mark.parametrize("bad", [NUL, "\ud800"])
def test_a_nul_or_a_lone_surrogate_in_any_field_is_refused_naming_it(cast, acme_token, field, bad):
    value = f"06 12{bad}34" if "number" in field else f"x{bad}"
    overrides = {field: [value] if field == "customer_numbers" else value}
    response = file_request(acme_token, **overrides)
    assert_refused(response, field=field)
    assert ("NUL" if bad == NUL else "Unicode") in response.json()["error"]


def test_a_nul_in_a_form_field_is_refused_naming_it(cast, acme_token):
    response = file_with_form(acme_token, [("kind", "access"), ("customer_numbers", f"06{NUL}")])
    assert_refused(response, field="customer_numbers")


@pytest.mark.parametrize(
    "text",
    [
        '{"kind": "access", "customer_numbers": ["0612345678"]',  # cut short
        "[1, 2]",
        '"access"',
        b"\xff\xfe not utf-8",
        "[" * 3000 + "]" * 3000,
    ],
)
def test_malformed_json_is_a_400_naming_the_body(cast, acme_token, text):
    assert_refused(post_text(acme_token, text), field="body")


def test_a_body_over_the_cap_is_a_413(cast, acme_token):
    text = json.dumps(_body(requester_name="J" * MAX_BODY_BYTES))
    assert_refused(post_text(acme_token, text), field="body", status=413)


def test_another_content_type_is_a_415(cast, acme_token):
    assert_refused(post_text(acme_token, "kind=access", "text/plain"), field="body", status=415)


def test_only_post_is_allowed(cast, acme_token):
    response = Client().get(URL, headers={"Authorization": f"Bearer {acme_token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["field"] == "method"
