from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from kit.refusals import Refused
from recordings.models import Recording
from recordings.services.ingest import recording_ingest
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
    with pytest.raises(Refused) as refused:
        recording_ingest(tenant=cast.acme, api_key=None, audio=tone_wav(2), fields=_fields())
    assert refused.value.status == 409
    assert Recording.objects.count() == 1
    assert len(list(tmp_path.rglob("*.cstd"))) == 1
    assert recordings_storage().exists(recording.storage_name)


def test_ingest_writes_the_row_and_its_history_as_the_orm_would(cast):
    """The row and its history row are written by hand-made SQL (the hot path): they hold what
    `Recording.objects.create` and django-simple-history would have written, and nothing of the
    key material goes into the history."""
    audio = tone_wav(1.5)
    fields = _fields(subject_reference="POL-778", campaign="winter")
    created = recording_ingest(tenant=cast.acme, api_key=None, audio=audio, fields=fields)
    stored = Recording.objects.get(pk=created.recording.pk)
    history = list(stored.history.all())
    assert len(history) == 1
    (row,) = history
    assert row.history_type == "+"
    assert row.history_user is None
    for name in (
        "call_id", "direction", "started_at", "duration_seconds", "customer_number",
        "subject_reference", "campaign", "purpose_id", "legal_basis", "retention_policy_id",
        "retain_until", "status", "deletion_reason", "size_bytes", "audio_sha256", "ingested_at",
    ):  # fmt: skip
        assert getattr(row, name) == getattr(stored, name), name
    assert stored.ingested_at is not None
    assert not hasattr(row, "wrapped_key") and not hasattr(row, "storage_name")
    assert bytes(stored.wrapped_key) == bytes(created.recording.wrapped_key)
    # A repeated push changes nothing: no second row, history row or event.
    recording_ingest(tenant=cast.acme, api_key=None, audio=audio, fields=fields)
    assert stored.history.count() == 1
    assert AuditEvent.objects.filter(action="recording.ingested").count() == 1
