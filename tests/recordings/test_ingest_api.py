"""POST /api/v1/recordings: the recorder pushes calls through HTTP with its tenant's API key."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Purpose
from compliance.services.api_keys import api_key_create, api_key_revoke
from recordings.api import METADATA_FIELDS
from recordings.models import Recording
from recordings.storage import read_plain_audio

from ..audio import tone_wav

URL = "/api/v1/recordings"
STORAGE_NAME = re.compile(r"^\d+/\d{4}/\d{2}/[0-9a-f]{32}\.cstd$")

pytestmark = pytest.mark.django_db


def _metadata(**overrides) -> dict[str, str]:
    metadata = {
        "call_id": "call-001",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "06 12 34 56 78",
        "purpose": "quality",
        "agent_code": "A17",
    }
    metadata.update(overrides)
    return {name: value for name, value in metadata.items() if value is not None}


def _upload(audio: bytes, name: str = "call.wav") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, audio, content_type="audio/wav")


def push(client, token: str, audio: bytes | None = None, *, headers=None, **overrides):
    data = _metadata(**overrides)
    if audio is not None:
        data["audio"] = _upload(audio)
    return client.post(URL, data, headers={"Authorization": f"Bearer {token}", **(headers or {})})


def stored_files(folder) -> list:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.fixture
def acme_key(cast):
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")


@pytest.fixture
def acme_token(acme_key) -> str:
    return acme_key[1]


@pytest.fixture
def globex_token(cast) -> str:
    return api_key_create(actor=cast.erin, tenant=cast.globex, name="Avaya recorder")[1]


def assert_refused(response, *, status: int, field: str, folder) -> AuditEvent:
    """The refusal names the field, leaves no row and no file, and is on the trail."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field
    assert body["error"]
    assert not Recording.objects.exists()
    assert stored_files(folder) == []
    event = AuditEvent.objects.filter(action="recording.ingest_refused").first()
    assert event is not None
    assert event.outcome == "denied"
    assert event.extra["field"] == field
    assert event.extra["status"] == status
    return event


# --- the recorder's normal path --------------------------------------------------------------


def test_recorder_pushes_a_call_and_gets_it_registered(cast, acme_token, recordings_dir):
    audio = tone_wav(1.5)
    response = push(Client(), acme_token, audio)
    assert response.status_code == 201, response.content
    recording = Recording.objects.get()
    assert response.json() == {
        "id": recording.pk,
        "call_id": "call-001",
        "status": "active",
        "retain_until": recording.retain_until.isoformat(),
        "sha256": hashlib.sha256(audio).hexdigest(),
        "duration_seconds": 1.5,
        "content_type": "audio/wav",
        "warnings": [],
    }
    assert response["Content-Type"] == "application/json"
    assert recording.tenant == cast.acme
    assert recording.customer_number == "+33612345678"
    assert recording.agent_code == "A17"
    assert read_plain_audio(recording) == audio
    assert stored_files(recordings_dir) == [recordings_dir / recording.storage_name]


def test_optional_metadata_is_stored(cast, acme_token):
    response = push(
        Client(),
        acme_token,
        tone_wav(1),
        subject_reference="policy 4711",
        campaign="autumn-renewals",
        direction="outbound",
    )
    assert response.status_code == 201
    recording = Recording.objects.get()
    assert recording.subject_reference == "policy 4711"
    assert recording.campaign == "autumn-renewals"
    assert recording.direction == "outbound"


def test_same_call_pushed_again_returns_the_same_recording(cast, acme_token, recordings_dir):
    audio = tone_wav(1)
    first = push(Client(), acme_token, audio)
    again = push(Client(), acme_token, audio)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Recording.objects.count() == 1
    assert len(stored_files(recordings_dir)) == 1


def test_other_audio_for_a_registered_call_is_refused_and_the_first_kept(
    cast, acme_token, recordings_dir
):
    first = push(Client(), acme_token, tone_wav(1))
    response = push(Client(), acme_token, tone_wav(2))
    assert response.status_code == 409
    assert response.json()["field"] == "call_id"
    recording = Recording.objects.get()
    assert recording.pk == first.json()["id"]
    assert read_plain_audio(recording) == tone_wav(1)
    assert len(stored_files(recordings_dir)) == 1
    event = AuditEvent.objects.get(action="recording.ingest_refused")
    assert event.extra["field"] == "call_id"
    assert event.extra["status"] == 409


def test_ingestion_event_names_the_api_key_and_the_request(cast, acme_key):
    api_key, token = acme_key
    response = push(Client(), token, tone_wav(1), headers={"X-Request-Id": "genesys-8812"})
    assert response.status_code == 201
    assert response["X-Request-Id"] == "genesys-8812"
    event = AuditEvent.objects.get(action="recording.ingested")
    assert event.target_id == str(response.json()["id"])
    assert event.tenant_id == cast.acme.pk
    assert event.extra["api_key"] == api_key.prefix
    assert event.actor_username == f"api_key:{api_key.prefix}"
    assert event.actor_id is None
    assert event.request_id == "genesys-8812"


def test_client_file_name_never_reaches_the_disk(cast, acme_token, recordings_dir):
    """Django's test client keeps only a file's base name, so the body is written by hand."""
    boundary = "custodia-boundary"
    audio = tone_wav(1)
    parts = [
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
        for name, value in _metadata().items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; '
        f'filename="../../etc/passwd.wav"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
        + audio
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = Client().post(
        URL,
        b"".join(parts),
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    assert response.status_code == 201, response.content
    recording = Recording.objects.get()
    assert STORAGE_NAME.match(recording.storage_name)
    assert "passwd" not in recording.storage_name
    assert stored_files(recordings_dir) == [recordings_dir / recording.storage_name]
    assert not list(recordings_dir.parent.rglob("passwd*"))


# --- refusals: each names the field, leaves nothing behind, and is on the trail ----------------


def test_missing_audio_part_is_refused_naming_audio(cast, acme_token, recordings_dir):
    response = push(Client(), acme_token, None)
    assert_refused(response, status=400, field="audio", folder=recordings_dir)


def test_truncated_wav_is_refused_as_unsupported_audio(cast, acme_token, recordings_dir):
    response = push(Client(), acme_token, tone_wav(1)[:-500])
    assert_refused(response, status=415, field="audio", folder=recordings_dir)
    assert "truncated" in response.json()["error"]


def test_text_file_named_wav_is_refused_as_unsupported_audio(cast, acme_token, recordings_dir):
    response = push(Client(), acme_token, b"call notes: customer was happy\n" * 20)
    assert_refused(response, status=415, field="audio", folder=recordings_dir)


def test_audio_over_the_limit_is_refused_as_too_large(cast, acme_token, recordings_dir, settings):
    audio = tone_wav(1)
    settings.RECORDINGS_MAX_UPLOAD_BYTES = len(audio) - 1
    response = push(Client(), acme_token, audio)
    assert_refused(response, status=413, field="audio", folder=recordings_dir)


def test_audio_exactly_at_the_limit_is_accepted(cast, acme_token, settings):
    audio = tone_wav(1)
    settings.RECORDINGS_MAX_UPLOAD_BYTES = len(audio)
    assert push(Client(), acme_token, audio).status_code == 201


def test_body_declared_too_large_is_refused_before_it_is_read(
    cast, acme_token, recordings_dir, settings
):
    settings.RECORDINGS_MAX_UPLOAD_BYTES = 1000
    # The test client's payload raises if more is read than was sent: a 10 GB declaration over a
    # small body proves the answer came from the Content-Length alone.
    response = Client().post(
        URL,
        _metadata() | {"audio": _upload(tone_wav(1))},
        headers={"Authorization": f"Bearer {acme_token}"},
        CONTENT_LENGTH=str(10 * 1024**3),
    )
    assert_refused(response, status=413, field="audio", folder=recordings_dir)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"call_id": None}, "call_id"),
        ({"call_id": "call 001; rm -rf"}, "call_id"),
        ({"direction": "sideways"}, "direction"),
        ({"started_at": None}, "started_at"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"customer_number": None}, "customer_number"),
        ({"customer_number": "12345"}, "customer_number"),
        ({"customer_number": "not a number"}, "customer_number"),
        # A Spanish mobile in its national format: Acme is in France, where 7 12… is no number.
        ({"customer_number": "712 34 56 78"}, "customer_number"),
        ({"purpose": None}, "purpose"),
        ({"purpose": "fishing"}, "purpose"),
        ({"agent_code": "A" * 65}, "agent_code"),
    ],
)
def test_invalid_metadata_is_refused_naming_the_field(
    cast, acme_token, recordings_dir, overrides, field
):
    response = push(Client(), acme_token, tone_wav(1), **overrides)
    assert_refused(response, status=400, field=field, folder=recordings_dir)


@pytest.mark.parametrize("field", METADATA_FIELDS)
def test_a_nul_character_in_any_field_is_refused_naming_it(cast, acme_token, recordings_dir, field):
    """PostgreSQL cannot store NUL: a 400 naming the field rather than a 500, nothing written,
    and the refusal on the trail (without the value it could not store)."""
    value = _metadata(subject_reference="case-118", campaign="spring").get(field, "x") + "\x00y"
    response = push(Client(), acme_token, tone_wav(1), **{field: value})
    event = assert_refused(response, status=400, field=field, folder=recordings_dir)
    assert "NUL" in response.json()["error"]
    assert event.target_id == ("" if field == "call_id" else "call-001")
    # Without the audio part too: the NUL is what is named, and the refusal is still recorded.
    response = push(Client(), acme_token, None, **{field: value})
    assert response.status_code == 400 and response.json()["field"] == field
    assert AuditEvent.objects.filter(action="recording.ingest_refused").count() == 2


def test_foreign_number_with_its_country_code_is_accepted(cast, acme_token):
    response = push(Client(), acme_token, tone_wav(1), customer_number="+34 712 34 56 78")
    assert response.status_code == 201
    assert Recording.objects.get().customer_number == "+34712345678"


def test_french_national_number_pushed_to_a_spanish_tenant_is_refused(
    cast, globex_token, recordings_dir
):
    response = push(Client(), globex_token, tone_wav(1), customer_number="06 12 34 56 78")
    assert_refused(response, status=400, field="customer_number", folder=recordings_dir)


def test_call_starting_in_the_future_is_refused(cast, acme_token, recordings_dir):
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    response = push(Client(), acme_token, tone_wav(1), started_at=tomorrow)
    assert_refused(response, status=400, field="started_at", folder=recordings_dir)
    assert "future" in response.json()["error"]


def test_start_without_offset_is_refused(cast, acme_token, recordings_dir):
    naive = (timezone.now() - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    response = push(Client(), acme_token, tone_wav(1), started_at=naive)
    assert_refused(response, status=400, field="started_at", folder=recordings_dir)


def test_refusal_event_names_the_api_key_and_the_request(cast, acme_key, recordings_dir):
    api_key, token = acme_key
    response = push(
        Client(), token, tone_wav(1), purpose="fishing", headers={"X-Request-Id": "req-77"}
    )
    event = assert_refused(response, status=400, field="purpose", folder=recordings_dir)
    assert event.tenant_id == cast.acme.pk
    assert event.extra["api_key"] == api_key.prefix
    assert event.actor_username == f"api_key:{api_key.prefix}"
    assert event.request_id == "req-77"
    assert event.target_id == "call-001"


def test_only_post_is_allowed(cast, acme_token):
    response = Client().get(URL, headers={"Authorization": f"Bearer {acme_token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["field"] == "method"


def test_body_that_is_not_a_form_is_refused_naming_audio(cast, acme_token, recordings_dir):
    response = Client().post(
        URL,
        _metadata(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    assert_refused(response, status=400, field="audio", folder=recordings_dir)


def test_unreadable_multipart_body_is_refused(cast, acme_token, recordings_dir):
    response = Client().post(
        URL,
        b"--x\r\nnot a part",
        content_type="multipart/form-data; boundary=",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    assert_refused(response, status=400, field="body", folder=recordings_dir)


def test_revoked_key_cannot_push(cast, acme_key, recordings_dir):
    api_key, token = acme_key
    api_key_revoke(actor=cast.alice, api_key=api_key)
    response = push(Client(), token, tone_wav(1))
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert not Recording.objects.exists()
    assert stored_files(recordings_dir) == []
    assert AuditEvent.objects.filter(action="api.auth_failed", outcome="denied").exists()


def test_missing_authorization_cannot_push(cast, recordings_dir):
    response = Client().post(URL, _metadata() | {"audio": _upload(tone_wav(1))})
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert not Recording.objects.exists()
    assert stored_files(recordings_dir) == []
    assert AuditEvent.objects.get(action="api.auth_failed").extra["field"] == "Authorization"


# --- tenants ---------------------------------------------------------------------------------


def test_a_key_creates_recordings_in_its_own_tenant_only(cast, globex_token):
    response = push(Client(), globex_token, tone_wav(1), customer_number="612 34 56 78")
    assert response.status_code == 201
    recording = Recording.objects.get()
    assert recording.tenant == cast.globex
    assert recording.customer_number == "+34612345678"
    assert not Recording.objects.filter(tenant=cast.acme).exists()
    assert AuditEvent.objects.get(action="recording.ingested").tenant_id == cast.globex.pk


def test_same_call_id_in_two_tenants_is_two_recordings(cast, acme_token, globex_token):
    acme = push(Client(), acme_token, tone_wav(1), call_id="shared-42")
    # Other audio under the same call id: Globex's call is its own, not a conflict with Acme's.
    globex = push(
        Client(), globex_token, tone_wav(2), call_id="shared-42", customer_number="+33612345678"
    )
    assert (acme.status_code, globex.status_code) == (201, 201)
    assert acme.json()["id"] != globex.json()["id"]
    assert Recording.objects.get(tenant=cast.acme).audio_sha256 == acme.json()["sha256"]
    assert Recording.objects.get(tenant=cast.globex).audio_sha256 == globex.json()["sha256"]


def test_a_key_cannot_use_another_tenants_own_purpose(cast, globex_token, recordings_dir):
    Purpose.objects.create(
        tenant=cast.acme,
        code="acme-renewals",
        name="Acme renewals",
        legal_basis="contract",
        default_retention_months=24,
    )
    response = push(Client(), globex_token, tone_wav(1), purpose="acme-renewals")
    assert_refused(response, status=400, field="purpose", folder=recordings_dir)


# --- concurrent pushes of one call -----------------------------------------------------------


def _push_concurrently(token: str, audios: list[bytes]) -> list:
    barrier = threading.Barrier(len(audios))
    responses: list = [None] * len(audios)

    def send(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[index] = push(Client(), token, audios[index], call_id="race-1")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(audios))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_of_the_same_call_register_it_once(cast, acme_token, recordings_dir):
    audio = tone_wav(1)
    responses = _push_concurrently(acme_token, [audio] * 6)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 200, 200, 200, 201]
    recording = Recording.objects.get()
    assert {response.json()["id"] for response in responses} == {recording.pk}
    assert stored_files(recordings_dir) == [recordings_dir / recording.storage_name]
    assert AuditEvent.objects.filter(action="recording.ingested").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_of_different_audio_keep_the_winner_only(
    cast, acme_token, recordings_dir
):
    audios = [tone_wav(1, frequency=300 + 50 * index) for index in range(6)]
    responses = _push_concurrently(acme_token, audios)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409]
    winner = next(response for response in responses if response.status_code == 201)
    recording = Recording.objects.get()
    assert recording.pk == winner.json()["id"]
    assert read_plain_audio(recording) == audios[responses.index(winner)]
    assert stored_files(recordings_dir) == [recordings_dir / recording.storage_name]
    losers = [response for response in responses if response.status_code == 409]
    assert all(response.json()["field"] == "call_id" for response in losers)
    assert AuditEvent.objects.filter(action="recording.ingest_refused").count() == 5
