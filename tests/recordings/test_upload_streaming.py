"""Large uploads go to disk and through the service in pieces: a 49 MB upload must not cost a web
worker 100 MB (issue 11: ten parallel uploads took the server from 156 MB to 1.1 GB)."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone

from compliance.services.api_keys import api_key_create
from recordings.api import recordings_create
from recordings.models import Recording
from recordings.storage import read_plain_audio

from ..audio import tone_wav

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def test_large_upload_is_stored_without_holding_it_in_memory(cast, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
    _, token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")
    audio = tone_wav(8 * MiB / 16000)  # 8 MiB of 8 kHz 16-bit audio
    # The request and its body are built before the measure: they are the client's memory.
    request = RequestFactory().post(
        "/api/v1/recordings",
        {
            "call_id": "call-big",
            "direction": "inbound",
            "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "customer_number": "+33612345678",
            "purpose": "quality",
            "audio": SimpleUploadedFile("call.wav", audio, content_type="audio/wav"),
        },
        headers={"Authorization": f"Bearer {token}"},
    )

    tracemalloc.start()
    try:
        response = recordings_create(request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 201, response.content
    # Spooled to a temporary file by Django's upload handler, then read in pieces of 1 MiB: the
    # worker never held the 8 MiB body, nor its 8 MiB ciphertext.
    assert request.FILES["audio"].temporary_file_path()
    assert peak < 4 * MiB, f"peak of {peak / MiB:.1f} MiB for an 8 MiB upload"
    recording = Recording.objects.get()
    assert recording.size_bytes == len(audio)
    assert read_plain_audio(recording) == audio
