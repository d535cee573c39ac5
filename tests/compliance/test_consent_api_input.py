"""POST /api/v1/consents with bodies that are valid JSON yet hold what PostgreSQL cannot store or
Python cannot read: a 400 naming the field, nothing written, the refusal on the trail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent
from compliance.services.api_keys import api_key_create

URL = "/api/v1/consents"

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme IVR")[1]


def _body(**overrides) -> dict[str, object]:
    return {
        "customer_number": "06 44 44 44 44",
        "purpose": "telemarketing",
        "decision": "granted",
        "decided_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "channel": "ivr",
        "call_id": "ivr-call-77",
        **overrides,
    }


def _post(token: str, text: str):
    return Client().post(
        URL, text, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def _assert_refused(response, *, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert response.json()["error"]
    assert not Consent.objects.exists()
    assert AuditEvent.objects.get(action="consent.refused").extra["field"] == field


@pytest.mark.parametrize(
    "field",
    ["customer_number", "purpose", "decision", "decided_at", "channel", "call_id", "operator"],
)
def test_a_lone_surrogate_in_a_field_is_a_400_naming_it(cast, acme_token, field):
    # json.dumps writes "\ud800" as the six characters \ud800: valid JSON, invalid Unicode.
    response = _post(acme_token, json.dumps(_body(**{field: "06\ud800"})))
    _assert_refused(response, field=field)
    assert "Unicode" in response.json()["error"]


def test_a_lone_surrogate_in_a_field_nobody_reads_is_ignored(cast, acme_token):
    response = _post(acme_token, json.dumps(_body(note="\udfff", **{"\ud800": "x"})))
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000]
)
def test_a_body_nested_too_deep_to_read_is_a_400(cast, acme_token, text):
    response = _post(acme_token, text)
    _assert_refused(response, field="body")


def test_a_number_too_long_to_read_is_a_400(cast, acme_token):
    response = _post(acme_token, '{"customer_number": ' + "9" * 5000 + "}")
    _assert_refused(response, field="body")
