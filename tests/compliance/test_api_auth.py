"""The API's bearer authentication (compliance/api_auth.py), through POST /api/v1/recordings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.services.api_keys import api_key_create, api_key_revoke
from recordings.models import Recording

from ..audio import tone_wav

URL = "/api/v1/recordings"

pytestmark = pytest.mark.django_db


def _call() -> dict:
    return {
        "call_id": "call-001",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "06 12 34 56 78",
        "purpose": "quality",
        "audio": SimpleUploadedFile("call.wav", tone_wav(1), content_type="audio/wav"),
    }


def push(client: Client, authorization: str | None = None, **headers):
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.post(URL, _call(), headers=headers)


@pytest.fixture
def acme_key(cast):
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")


def assert_unauthorized(response, *, reason: str) -> AuditEvent:
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert not Recording.objects.exists()
    event = AuditEvent.objects.get(action="api.auth_failed")
    assert event.outcome == "denied"
    assert event.extra["field"] == "Authorization"
    assert event.extra["reason"] == reason
    assert event.extra["path"] == URL
    return event


def assert_token_not_on_the_trail(token: str) -> None:
    secret = token.split("_", 2)[2]
    for event in AuditEvent.objects.all():
        recorded = " ".join(str(value) for value in event.__dict__.values())
        assert secret not in recorded


def test_valid_key_is_let_in_and_acts_for_its_tenant(cast, acme_key):
    api_key, token = acme_key
    response = push(Client(), f"Bearer {token}")
    assert response.status_code == 201
    assert Recording.objects.get().tenant == cast.acme
    event = AuditEvent.objects.get(action="recording.ingested")
    assert event.actor_username == f"api_key:{api_key.prefix}"
    assert event.actor_id is None
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert_token_not_on_the_trail(token)


def test_bearer_scheme_is_case_insensitive(cast, acme_key):
    assert push(Client(), f"bearer {acme_key[1]}").status_code == 201


def test_missing_authorization_is_refused(cast):
    event = assert_unauthorized(push(Client()), reason="missing")
    assert event.tenant_id is None
    assert event.extra["api_key"] == ""


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer",
        "Bearer two tokens",
        "Bearer not-a-custodia-key",
        "Token cst_0123abcd_secret",
    ],
)
def test_malformed_authorization_is_refused(cast, authorization):
    event = assert_unauthorized(push(Client(), authorization), reason="malformed")
    assert event.tenant_id is None


def test_unknown_key_is_refused(cast):
    event = assert_unauthorized(push(Client(), "Bearer cst_0badf00d_madeup"), reason="unknown")
    assert event.tenant_id is None
    assert event.extra["api_key"] == "0badf00d"
    assert_token_not_on_the_trail("cst_0badf00d_madeup")


def test_revoked_key_is_refused_and_its_tenant_sees_the_attempt(cast, acme_key):
    api_key, token = acme_key
    api_key_revoke(actor=cast.alice, api_key=api_key)
    event = assert_unauthorized(push(Client(), f"Bearer {token}"), reason="revoked")
    assert event.tenant_id == cast.acme.pk
    assert event.target_id == str(api_key.pk)
    assert event.extra["api_key"] == api_key.prefix
    assert_token_not_on_the_trail(token)


def test_wrong_secret_for_a_real_key_is_refused(cast, acme_key):
    api_key, token = acme_key
    forged = f"cst_{api_key.prefix}_guessed-secret"
    event = assert_unauthorized(push(Client(), f"Bearer {forged}"), reason="wrong_secret")
    assert event.tenant_id == cast.acme.pk
    assert_token_not_on_the_trail(forged)


def test_failed_attempt_keeps_the_request_context(cast):
    response = push(
        Client(), "Bearer cst_0badf00d_madeup", **{"X-Request-Id": "rec-5", "User-Agent": "Genesys"}
    )
    event = assert_unauthorized(response, reason="unknown")
    assert event.request_id == "rec-5"
    assert event.user_agent == "Genesys"
    assert event.client_ip == "127.0.0.1"


def test_signed_in_user_without_a_key_is_refused(cast, login):
    """A browser session is not an API credential, even a platform operator's."""
    assert_unauthorized(push(login(cast.root)), reason="missing")


def test_api_needs_no_csrf_token(cast, acme_key):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice)
    assert push(client, f"Bearer {acme_key[1]}").status_code == 201


def test_key_of_a_user_session_does_not_change_the_actor(cast, acme_key, login):
    api_key, token = acme_key
    response = push(login(cast.bob), f"Bearer {token}")
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="recording.ingested")
    assert (event.actor_id, event.actor_username) == (None, f"api_key:{api_key.prefix}")
