from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from recordings.models import Recording
from recordings.services.ingest import IngestRefused, recording_ingest
from recordings.storage import read_plain_audio, recordings_storage

from ..audio import tone_wav

pytestmark = pytest.mark.django_db


def _fields(**overrides):
    fields = {
        "call_id": "call-001",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "06 12 34 56 78",
        "purpose": "quality",
        "agent_code": "A17",
    }
    fields.update(overrides)
    return fields


def test_ingest_registers_encrypts_and_audits(cast, recordings_dir):
    tmp_path = recordings_dir
    audio = tone_wav(1.5)
    result = recording_ingest(tenant=cast.acme, api_key=None, audio=audio, fields=_fields())
    recording = result.recording
    assert result.created
    assert recording.customer_number == "+33612345678"
    assert recording.duration_seconds == pytest.approx(1.5)
    assert recording.content_type == "audio/wav"
    stored = (tmp_path / recording.storage_name).read_bytes()
    assert audio not in stored and audio[:64] not in stored
    assert read_plain_audio(recording) == audio
    assert AuditEvent.objects.filter(action="recording.ingested", target_id=str(recording.pk))
    again = recording_ingest(tenant=cast.acme, api_key=None, audio=audio, fields=_fields())
    assert again.recording.pk == recording.pk and not again.created
    with pytest.raises(IngestRefused) as refused:
        recording_ingest(tenant=cast.acme, api_key=None, audio=tone_wav(2), fields=_fields())
    assert refused.value.status == 409
    assert Recording.objects.count() == 1
    assert len(list(tmp_path.rglob("*.cstd"))) == 1
    assert recordings_storage().exists(recording.storage_name)
