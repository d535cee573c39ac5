"""Creating recordings in tests goes through the real ingestion service."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from recordings.models import Recording
from recordings.services.ingest import recording_ingest

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
