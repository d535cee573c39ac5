"""Creating recordings in tests goes through the real ingestion service."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.utils import timezone

from recordings import crypto
from recordings.models import Recording
from recordings.services.ingest import recording_ingest
from recordings.storage import recordings_storage, store_encrypted

from ..audio import tone_wav

_counter = iter(range(1, 10**9))


def ingest(
    tenant,
    *,
    purpose: str = "quality",
    started_at: datetime | None = None,
    number: str = "+33612345678",
    seconds: float = 0.5,
    **fields,
) -> Recording:
    serial = next(_counter)
    values = {
        "call_id": f"call-{serial}",
        "direction": "inbound",
        "started_at": (started_at or timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": number,
        "purpose": purpose,
        **fields,
    }
    audio = tone_wav(seconds, frequency=200 + serial % 800)
    return recording_ingest(tenant=tenant, api_key=None, audio=audio, fields=values).recording


def as_stored_before_codecs_were_checked(recording: Recording, audio: bytes) -> Recording:
    """The recording with `audio` in place of its own, as ingestion stored audio before it
    decoded what it accepted (it took any WAV header): encrypted under a new data key, its hash
    and size to match, so that only its codec is wrong."""
    master = crypto.current_master_key()
    data_key = crypto.new_data_key()
    name, tenant_id = recording.storage_name, recording.tenant_id
    blob = crypto.encrypt_audio(data_key, audio, tenant_id=tenant_id, storage_name=name)
    wrapped = crypto.wrap_key(data_key, master=master, tenant_id=tenant_id, storage_name=name)
    recordings_storage().delete(name)
    store_encrypted(name, blob)
    Recording.objects.filter(pk=recording.pk).update(
        wrapped_key=wrapped,
        master_key_id=master.key_id,
        audio_sha256=hashlib.sha256(audio).hexdigest(),
        size_bytes=len(audio),
    )
    return Recording.objects.get(pk=recording.pk)
