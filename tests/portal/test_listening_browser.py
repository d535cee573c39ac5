"""As a quality analyst would: state a purpose and hear a recording in Chromium, whatever codec
its recorder stored it in (issue 17), and be told when a recording cannot be played.

Headless Debian Chromium driven by Playwright, on the session's one browser (a new context, i.e. a
new session, per test: tests/conftest.py) so that the codecs' cases stay quick.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from recordings.services.ingest import recording_ingest

from ..audio import sample_bytes, wav_with_format_tag
from ..recordings.helpers import as_stored_before_codecs_were_checked

pytestmark = pytest.mark.django_db(transaction=True)

# One sample per codec family call recorders store (tests/audio_samples/README.md).
FAMILIES = {
    "PCM": "pcm16-8k-fr.wav",
    "G.711 µ-law": "g711-ulaw-8k-fr.wav",
    "G.711 A-law": "g711-alaw-8k-fr.wav",
    "GSM 6.10": "gsm610-8k-fr.wav",
    "IMA ADPCM": "ima-adpcm-8k-es.wav",
    "MP3": "mp3-8k-es.mp3",
    "Ogg Vorbis": "vorbis-16k-es.ogg",
    "FLAC": "flac-16k-es.flac",
}
HEARD_SECONDS = 0.5  # of playback, as the audio element counts it


def _ingest(tenant, audio: bytes):
    return recording_ingest(
        tenant=tenant,
        api_key=None,
        audio=audio,
        fields={
            "call_id": "browser-001",
            "direction": "inbound",
            "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "customer_number": "06 12 34 56 78",
            "purpose": "quality",
        },
    ).recording


def _open_the_player_as_carol(page, recording) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "carol")
    page.fill("#id_password", "custodia-demo")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(f"/recordings/{recording.pk}/listen/")
    page.check("input[name=purpose][value=quality]")
    page.fill("#id_justification", "Monthly quality sample, week 48")
    page.click("input[type=submit]")
    page.wait_for_url(f"**/recordings/{recording.pk}/player/")


def _audio_state(page) -> dict:
    return page.evaluate(
        "(() => { const audio = document.querySelector('#recording-audio');"
        " return {time: audio.currentTime, duration: audio.duration,"
        " error: audio.error && audio.error.code}; })()"
    )


def _press_play(page) -> None:
    page.evaluate("document.querySelector('#recording-audio').play().catch(() => null)")


@pytest.mark.parametrize("family", FAMILIES)
def test_quality_analyst_hears_a_recording_of_every_codec_family(cast, page, family):
    recording = _ingest(cast.acme, sample_bytes(FAMILIES[family]))
    _open_the_player_as_carol(page, recording)
    _press_play(page)
    audio = _audio_state(page)
    # Polled from here: Playwright's wait_for_function evaluates a string, which the
    # Content-Security-Policy refuses (no 'unsafe-eval').
    deadline = time.monotonic() + 15
    while audio["time"] <= HEARD_SECONDS and audio["error"] is None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        audio = _audio_state(page)
    assert audio["error"] is None
    assert audio["time"] > HEARD_SECONDS
    assert audio["duration"] > 4  # every sample speaks for four seconds or more
    assert page.locator("#audio-unplayable").is_hidden()
    played = AuditEvent.objects.get(action="recording.played")
    assert (played.actor_username, played.target_id) == ("carol", str(recording.pk))
    assert page.evaluate("window.__violations") == []


def test_the_player_says_why_a_recording_cannot_be_played(cast, page):
    recording = _ingest(cast.acme, sample_bytes("gsm610-8k-fr.wav"))
    as_stored_before_codecs_were_checked(recording, wav_with_format_tag(0x0030))
    _open_the_player_as_carol(page, recording)
    assert page.locator("#audio-unplayable").is_hidden()
    _press_play(page)
    message = page.locator("#audio-unplayable")
    message.wait_for(state="visible", timeout=15_000)
    text = message.inner_text()
    assert "This recording cannot be played." in text
    assert "Dolby AC-2 (WAVE format tag 0x0030)" in text
    assert page.evaluate("document.querySelector('#recording-audio').currentTime") == 0
    assert not AuditEvent.objects.filter(action="recording.played").exists()
    assert page.evaluate("window.__violations") == []
