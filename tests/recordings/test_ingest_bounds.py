"""POST /api/v1/recordings with values at or past the edge: a start date outside the window, a
call that is already past its retention, audio whose duration no call has, text that is not
Unicode. Each is a 4xx naming the field (and nothing written), or a 201 that says what will
happen; never a 500."""

from __future__ import annotations

import io
import wave
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.services.api_keys import api_key_create
from compliance.services.legal_holds import legal_hold_place
from recordings import audio
from recordings.models import Recording

from ..audio import tone_wav

URL = "/api/v1/recordings"

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")[1]


def _push(token: str, sound: bytes | None = None, **overrides):
    data = {
        "call_id": "call-001",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "06 12 34 56 78",
        "purpose": "quality",
        **overrides,
    }
    data["audio"] = SimpleUploadedFile("call.wav", sound or tone_wav(0.5), "audio/wav")
    return Client().post(URL, data, headers={"Authorization": f"Bearer {token}"})


def _assert_refused(response, *, field: str, status: int = 400) -> None:
    assert response.status_code == status, response.content
    assert response.json()["field"] == field
    assert response.json()["error"]
    assert not Recording.objects.exists()
    assert AuditEvent.objects.get(action="recording.ingest_refused").extra["field"] == field


@pytest.mark.parametrize(
    "started_at",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-14:00",
        "1999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59+14:00",
    ],
)
def test_a_start_outside_the_window_is_a_400(cast, acme_token, recordings_dir, started_at):
    response = _push(acme_token, started_at=started_at)
    _assert_refused(response, field="started_at")
    assert "2000-01-01" in response.json()["error"]
    assert not [path for path in recordings_dir.rglob("*") if path.is_file()]


def test_a_call_already_past_its_retention_is_registered_with_a_warning(cast, acme_token):
    two_years_ago = timezone.now() - timedelta(days=730)  # quality keeps 6 months
    response = _push(acme_token, started_at=two_years_ago.isoformat())
    assert response.status_code == 201, response.content
    body = response.json()
    recording = Recording.objects.get()
    assert recording.retain_until < timezone.localdate()
    [warning] = body["warnings"]
    assert warning["field"] == "started_at"
    assert warning["code"] == "already_expired"
    assert recording.retain_until.isoformat() in warning["message"]
    assert "next purge" in warning["message"]
    event = AuditEvent.objects.get(action="recording.ingested")
    assert event.extra["warnings"] == [warning]
    # The recorder pushing it again gets the same warning.
    again = _push(acme_token, started_at=two_years_ago.isoformat())
    assert again.status_code == 200
    assert again.json()["warnings"] == [warning]


def test_an_old_call_under_a_legal_hold_gets_no_expiry_warning(cast, acme_token):
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="RG 1",
        reason="Litigation",
        customer_number="+33612345678",
    )
    response = _push(acme_token, started_at=(timezone.now() - timedelta(days=730)).isoformat())
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == []


def test_a_recent_call_has_no_warning(cast, acme_token):
    response = _push(acme_token)
    assert response.status_code == 201
    assert response.json()["warnings"] == []
    assert "warnings" not in AuditEvent.objects.get(action="recording.ingested").extra


def _wav(*, rate: int, frames: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(1)
        output.setframerate(rate)
        output.writeframes(b"\x80" * frames)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("rate", "frames"),
    [
        (1, 1_000_001),  # 11.6 days: more than the duration column holds
        (1, 10),  # ten seconds, but at 1 Hz: not audio anyone recorded
        (2000, 4000),
    ],
)
def test_audio_at_an_absurd_sample_rate_is_refused(cast, acme_token, rate, frames):
    response = _push(acme_token, _wav(rate=rate, frames=frames))
    _assert_refused(response, field="audio", status=415)
    assert "Hz" in response.json()["error"]


def test_audio_longer_than_any_call_is_refused(cast, acme_token, monkeypatch):
    # A day of 8 kHz audio is 700 MB; the rule is the same with a shorter ceiling.
    monkeypatch.setattr(audio, "LONGEST_RECORDING", timedelta(seconds=4))
    response = _push(acme_token, _wav(rate=8000, frames=8000 * 5))
    _assert_refused(response, field="audio", status=415)
    assert "longer than" in response.json()["error"]


def test_audio_at_telephony_rate_is_accepted(cast, acme_token):
    response = _push(acme_token, _wav(rate=8000, frames=8000 * 5))
    assert response.status_code == 201, response.content
    assert response.json()["duration_seconds"] == 5.0


def test_a_field_that_is_not_unicode_is_a_400(cast, acme_token):
    """A multipart body may declare any charset Python knows; unicode_escape turns \\ud800 into a
    lone surrogate, which UTF-8 (and so PostgreSQL) cannot encode."""
    boundary = "custodia-boundary"
    fields = {
        "call_id": "call-001",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "06 12 34 56 78",
        "purpose": "quality",
        "agent_code": "\\ud800",
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + tone_wav(0.5)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # generic(): post() would re-encode the body to the declared charset.
    response = Client().generic(
        "POST",
        URL,
        b"".join(parts),
        content_type=f"multipart/form-data; boundary={boundary}; charset=unicode_escape",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    _assert_refused(response, field="agent_code")
