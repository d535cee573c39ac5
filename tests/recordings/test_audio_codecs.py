"""Every recorder's audio (issue 17): each codec call recorders store is accepted with its true
duration; a codec nothing decodes is refused at ingest with a 415 naming it, nothing stored."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from audit.models import AuditEvent
from compliance.services.api_keys import api_key_create

from ..audio import SAMPLES, encoded_tone, sample_bytes, wav_with_format_tag
from .test_ingest_api import assert_refused, push, stored_files

pytestmark = pytest.mark.django_db

# soxi counts an ADPCM file's last block whole; the container's own sample count may stop a few
# milliseconds short of it (a packet, a block).
TOLERANCE = 0.03

# Codecs with no sample file: (container, encoder, rate, seconds, what ingest reports). An
# encoder pads its last block or frame with silence, which is then part of the file's audio: the
# tones last whole blocks (Microsoft ADPCM: 2036 samples) or frames (AMR: 20 ms).
ENCODED = {
    "Microsoft ADPCM": ("wav", "adpcm_ms", 8000, 8 * 2036 / 8000, "audio/wav", "adpcm_ms"),
    "G.722": ("wav", "adpcm_g722", 16000, 2.0, "audio/wav", "adpcm_g722"),
    "AMR-NB": ("amr", "libopencore_amrnb", 8000, 2.0, "audio/amr", "amr_nb"),
    "Opus": ("ogg", "libopus", 48000, 2.0, "audio/ogg", "opus"),
}


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")[1]


# --- ingest: the true duration of every codec ---------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_each_recorders_sample_is_ingested_with_its_true_duration(cast, acme_token, sample):
    audio = sample_bytes(sample.file)
    response = push(Client(), acme_token, audio)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duration_seconds"] == pytest.approx(sample.seconds, abs=TOLERANCE)
    assert body["content_type"] == sample.content_type
    assert body["sha256"] == hashlib.sha256(audio).hexdigest()
    ingested = AuditEvent.objects.get(action="recording.ingested")
    assert ingested.extra["codec"] == sample.codec


@pytest.mark.parametrize("label", ENCODED)
def test_codecs_encoded_by_other_recorders_are_ingested_with_their_duration(
    cast, acme_token, label
):
    container, encoder, rate, seconds, content_type, codec = ENCODED[label]
    audio = encoded_tone(container, encoder, seconds=seconds, rate=rate)
    response = push(Client(), acme_token, audio)
    assert response.status_code == 201, response.content
    assert response.json()["duration_seconds"] == pytest.approx(seconds, abs=TOLERANCE)
    assert response.json()["content_type"] == content_type
    assert AuditEvent.objects.get(action="recording.ingested").extra["codec"] == codec


def test_a_gsm_wav_is_no_longer_taken_for_a_fraction_of_a_second(cast, acme_token):
    """The report that opened issue 17: 0.019 s for six seconds of GSM 6.10."""
    response = push(Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"))
    assert response.json()["duration_seconds"] == pytest.approx(5.68, abs=0.001)


# --- ingest: what cannot be decoded is refused, named ------------------------------------------


@pytest.mark.parametrize(
    ("audio", "named"),
    [
        (wav_with_format_tag(0x0030), "Dolby AC-2 (WAVE format tag 0x0030)"),
        (wav_with_format_tag(0xABCD), "WAVE format tag 0xABCD"),
        # G.726 is known, but this header gives it no bits per sample: nothing decodes.
        (wav_with_format_tag(0x0045), "G.726"),
    ],
    ids=["dolby-ac2", "unregistered-tag", "g726-without-its-bit-depth"],
)
def test_a_codec_that_cannot_be_decoded_is_a_415_naming_it_with_nothing_stored(
    cast, acme_token, recordings_dir, audio, named
):
    response = push(Client(), acme_token, audio)
    refused = assert_refused(response, status=415, field="audio", folder=recordings_dir)
    error = response.json()["error"]
    assert f"the audio's codec, {named}" in error
    assert "cannot be decoded" in error
    assert refused.extra["reason"] == error
    assert stored_files(recordings_dir) == []
