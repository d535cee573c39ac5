"""Every recorder's audio is playable (issue 17): each codec call recorders store is accepted with
its true duration; what browsers cannot play is streamed from a copy for listening, encrypted,
the stored original and its hash unchanged; a codec nothing decodes is refused at ingest with a
415 naming it, nothing stored; the copy goes with its recording (docs/architecture.md,
invariant 3)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import wave
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.services.api_keys import api_key_create
from recordings import crypto, listening
from recordings.models import DeletionCertificate, Recording
from recordings.services.integrity import recordings_verify_integrity
from recordings.services.purge.erasure import recording_erase
from recordings.services.purge.run import purge_expired_recordings
from recordings.services.purge.verification import deletion_certificates_verify, orphan_files_sweep
from recordings.storage import (
    listening_copy_name,
    read_plain_audio,
)
from recordings.transcoding import pcm_wav

from ..audio import SAMPLES, encoded_tone, sample_bytes, wav_frames, wav_with_format_tag
from .helpers import as_stored_before_codecs_were_checked
from .test_ingest_api import assert_refused, push, stored_files

pytestmark = pytest.mark.django_db

# soxi counts an ADPCM file's last block whole; the container's own sample count may stop a few
# milliseconds short of it (a packet, a block).
TOLERANCE = 0.03
JUSTIFICATION = "Monthly quality sample, week 48"
LONG_AGO = timezone.now() - timedelta(days=400)  # CNIL: 6 months -> expired

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


def _listen(client, recording: Recording):
    response = client.post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "quality", "justification": JUSTIFICATION},
    )
    assert response.status_code == 302, response.content
    return client


def _stream(client, recording: Recording, **headers):
    return client.get(reverse("recordings:stream", args=[recording.pk]), headers=headers)


def _copy_path(recordings_dir, recording: Recording):
    return recordings_dir / listening_copy_name(recording.storage_name)


def _ingested(client, token, audio: bytes, call_id: str = "call-001", **fields) -> Recording:
    response = push(client, token, audio, call_id=call_id, **fields)
    assert response.status_code == 201, response.content
    return Recording.objects.get(pk=response.json()["id"])


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


# --- listening: as stored, or through a copy for listening --------------------------------------


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.browser_plays], ids=str)
def test_audio_browsers_play_is_streamed_as_stored(cast, login, acme_token, recordings_dir, sample):
    audio = sample_bytes(sample.file)
    recording = _ingested(Client(), acme_token, audio)
    client = _listen(login(cast.carol), recording)
    response = _stream(client, recording)
    assert response.status_code == 200
    assert response.content == audio
    assert response["Content-Type"] == sample.content_type
    assert not _copy_path(recordings_dir, recording).exists()


def test_a_gsm_recording_is_heard_as_pcm_and_its_original_stays_as_stored(
    cast, login, acme_token, recordings_dir
):
    original = sample_bytes("gsm610-8k-fr.wav")
    recording = _ingested(Client(), acme_token, original)
    client = _listen(login(cast.carol), recording)

    response = _stream(client, recording)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/wav"
    heard = response.content
    assert heard[:4] == b"RIFF" and heard[8:12] == b"WAVE"
    assert int.from_bytes(heard[20:22], "little") == 1  # WAVE_FORMAT_PCM: every browser plays it
    channels, width, rate, frames = wav_frames(heard)
    assert (channels, width, rate) == (1, 2, 8000)
    assert frames / rate == pytest.approx(5.68, abs=TOLERANCE)
    with wave.open(io.BytesIO(heard)) as reader:
        speech = reader.readframes(frames)
    loudest = max(
        abs(int.from_bytes(speech[index : index + 2], "little", signed=True))
        for index in range(0, len(speech), 2)
    )
    assert loudest > 1000  # speech, not silence

    # The stored original and its hash are untouched; the copy is encrypted beside it.
    recording.refresh_from_db()
    assert recording.audio_sha256 == hashlib.sha256(original).hexdigest()
    assert recording.size_bytes == len(original)
    assert recording.content_type == "audio/wav"
    assert read_plain_audio(recording) == original
    assert recordings_verify_integrity().failures == []
    copy = _copy_path(recordings_dir, recording).read_bytes()
    assert copy.startswith(crypto.AUDIO_MAGIC)
    assert b"RIFF" not in copy and b"WAVE" not in copy

    # Byte ranges of the copy, which is made once and read again.
    size = len(heard)
    for header, start, end in [("bytes=0-99", 0, 99), ("bytes=4000-", 4000, size - 1)]:
        ranged = _stream(client, recording, Range=header)
        assert ranged.status_code == 206, header
        assert ranged.content == heard[start : end + 1], header
        assert ranged["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert ranged["Content-Type"] == "audio/wav"
    assert _copy_path(recordings_dir, recording).read_bytes() == copy
    played = AuditEvent.objects.filter(action="recording.played")
    assert played.count() == 1


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.browser_plays], ids=str)
def test_a_recording_browsers_cannot_play_is_converted_whole(cast, login, acme_token, sample):
    audio = sample_bytes(sample.file)
    recording = _ingested(Client(), acme_token, audio)
    response = _stream(_listen(login(cast.carol), recording), recording)
    assert response["Content-Type"] == "audio/wav"
    _, width, rate, frames = wav_frames(response.content)
    assert width == 2
    assert frames / rate == pytest.approx(sample.seconds, abs=TOLERANCE)


def test_the_download_is_the_original_not_the_copy(cast, login, acme_token):
    original = sample_bytes("gsm610-8k-fr.wav")
    recording = _ingested(Client(), acme_token, original)
    client = login(cast.alice)
    client.post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "subject_access", "justification": "Access request 2026-114", "download": "on"},
    )
    assert _stream(client, recording).status_code == 200  # the copy exists
    download = client.get(reverse("recordings:download", args=[recording.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == original


# --- audio that cannot be played says so ---------------------------------------------------------


def test_audio_that_cannot_be_played_is_answered_with_its_reason_and_no_play_is_recorded(
    cast, login, acme_token, recordings_dir
):
    recording = _ingested(Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"))
    recording = as_stored_before_codecs_were_checked(recording, wav_with_format_tag(0x0030))
    client = _listen(login(cast.carol), recording)
    player = client.get(reverse("recordings:player", args=[recording.pk]))
    assert b'id="audio-unplayable"' in player.content
    response = _stream(client, recording)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert "Dolby AC-2 (WAVE format tag 0x0030)" in response.content.decode()
    assert "cannot be played" in response.content.decode()
    assert not AuditEvent.objects.filter(action="recording.played").exists()
    assert not _copy_path(recordings_dir, recording).exists()


# --- the copy lives no longer than its recording -------------------------------------------------


def test_the_purge_removes_a_recordings_copy_for_listening(cast, login, acme_token, recordings_dir):
    recording = _ingested(
        Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"), started_at=LONG_AGO.isoformat()
    )
    assert _stream(_listen(login(cast.carol), recording), recording).status_code == 200
    assert _copy_path(recordings_dir, recording).exists()
    run = purge_expired_recordings(triggered_by="test")
    assert (run.purged, run.failed) == (1, 0)
    assert not Recording.objects.filter(pk=recording.pk).exists()
    assert stored_files(recordings_dir) == []
    assert deletion_certificates_verify() == []


def test_an_erasure_removes_a_recordings_copy_for_listening(
    cast, login, acme_token, recordings_dir, django_capture_on_commit_callbacks
):
    recording = _ingested(Client(), acme_token, sample_bytes("ima-adpcm-8k-es.wav"))
    assert _stream(_listen(login(cast.carol), recording), recording).status_code == 200
    assert _copy_path(recordings_dir, recording).exists()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        recording_erase(actor=cast.alice, recording=recording)
    assert stored_files(recordings_dir) == []
    assert DeletionCertificate.objects.filter(recording_id=recording.pk).exists()


def test_the_certificate_check_reports_a_copy_left_behind(
    cast, login, acme_token, recordings_dir, django_capture_on_commit_callbacks
):
    recording = _ingested(Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"))
    assert _stream(_listen(login(cast.carol), recording), recording).status_code == 200
    copy = _copy_path(recordings_dir, recording)
    kept = copy.read_bytes()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        recording_erase(actor=cast.alice, recording=recording)
    copy.write_bytes(kept)  # a restore from backup, say
    assert deletion_certificates_verify() == [
        f"recording {recording.pk} is certified deleted but its copy for listening is still stored"
    ]


def test_a_copy_made_while_its_recording_is_deleted_does_not_outlive_it(
    cast, acme_token, recordings_dir, monkeypatch, django_capture_on_commit_callbacks
):
    """A listener's request has read the recording's audio; while it converts it, an erasure
    commits and removes the recording's files; then the conversion ends: the copy it stores is
    removed at once rather than outliving the recording."""
    recording = _ingested(Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"))

    def converted_while_erased(original: bytes) -> bytes:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            recording_erase(actor=cast.alice, recording=Recording.objects.get(pk=recording.pk))
        assert stored_files(recordings_dir) == []
        return pcm_wav(original)

    monkeypatch.setattr(listening, "pcm_wav", converted_while_erased)
    heard = listening.listening_audio(recording)
    assert heard.converted
    assert stored_files(recordings_dir) == []


def test_the_orphan_sweep_keeps_a_live_recordings_copy_and_removes_a_lost_one(
    cast, login, acme_token, recordings_dir
):
    live = _ingested(Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"), call_id="live")
    assert _stream(_listen(login(cast.carol), live), live).status_code == 200
    lost = recordings_dir / "1" / "2020" / "01" / f"{'ab' * 16}.listening.cstd"
    lost.parent.mkdir(parents=True)
    lost.write_bytes(b"CSTDA1 a copy whose recording is gone")
    assert orphan_files_sweep(grace=timedelta(0)) == [f"1/2020/01/{'ab' * 16}.listening.cstd"]
    assert not lost.exists()
    assert _copy_path(recordings_dir, live).exists()
    assert (recordings_dir / live.storage_name).exists()


def test_the_copy_is_encrypted_with_the_recordings_key_through_its_rotation(
    cast, login, acme_token, recordings_dir, settings
):
    """The copy shares the recording's data key: a master-key rotation, which rewraps that key,
    leaves it readable as it is (not converted again); a shredded key leaves it unreadable."""
    recording = _ingested(Client(), acme_token, sample_bytes("gsm610-8k-fr.wav"))
    client = _listen(login(cast.carol), recording)
    heard = _stream(client, recording).content
    copy = _copy_path(recordings_dir, recording).read_bytes()
    old_key = settings.RECORDINGS_MASTER_KEY
    settings.RECORDINGS_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    settings.RECORDINGS_PREVIOUS_MASTER_KEYS = [old_key]
    call_command("rotate_master_key")
    settings.RECORDINGS_PREVIOUS_MASTER_KEYS = []
    assert _stream(client, recording).content == heard
    assert _copy_path(recordings_dir, recording).read_bytes() == copy
    Recording.objects.filter(pk=recording.pk).update(wrapped_key=None)
    assert _stream(client, recording).status_code == 410
