"""What the player streams: a recording's audio as stored when browsers play its codec, otherwise
its copy for listening, decoded once (recordings/transcoding.py) on the first listening and kept
encrypted beside the original (recordings/storage.py::store_listening_copy). The stored original
and its hash never change; downloads, exports and integrity checks read the original.

The copy lives no longer than its recording: it sits where the recording's file removal removes
it, and one made while the recording was being deleted is removed here at once (below), or by
the orphan sweep if this process dies first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .audio import AudioRejected, audio_codec
from .crypto import DecryptionFailed
from .models import Recording
from .storage import (
    read_listening_copy,
    read_plain_audio,
    recordings_storage,
    store_listening_copy,
)
from .transcoding import TranscodingFailed, pcm_wav

logger = logging.getLogger(__name__)

LISTENING_COPY_CONTENT_TYPE = "audio/wav"


class AudioUnplayable(Exception):
    """The recording's audio decodes into nothing a browser plays; the message says why."""


@dataclass(frozen=True)
class ListeningAudio:
    body: bytes
    content_type: str
    converted: bool  # a copy for listening, not the stored original


def listening_audio(recording: Recording) -> ListeningAudio:
    """The audio to stream to the recording's listener. Raises crypto.DecryptionFailed or
    FileNotFoundError when the stored audio is unavailable (a shredded key, a missing file),
    AudioUnplayable when it cannot be played."""
    try:
        copy = read_listening_copy(recording)
    except DecryptionFailed:
        # An altered copy (the key itself is checked again with the original, below): made anew.
        logger.warning("recording %s: its copy for listening does not decrypt", recording.pk)
        copy = None
    if copy is not None:
        return ListeningAudio(copy, LISTENING_COPY_CONTENT_TYPE, converted=True)
    original = read_plain_audio(recording)
    try:
        codec = audio_codec(original)
    except AudioRejected as error:
        raise AudioUnplayable(str(error)) from error
    if codec.browser_plays:
        return ListeningAudio(original, recording.content_type, converted=False)
    try:
        converted = pcm_wav(original)
    except TranscodingFailed as error:
        raise AudioUnplayable(str(error)) from error
    _keep_copy(recording, converted)
    return ListeningAudio(converted, LISTENING_COPY_CONTENT_TYPE, converted=True)


def _keep_copy(recording: Recording, converted: bytes) -> None:
    """Store the copy, unless the recording was deleted meanwhile. The deletion commits before
    its files are removed: a copy published before the removal is removed with the recording's
    file, and one published after it finds the recording gone here and is removed at once."""
    try:
        name = store_listening_copy(recording, converted)
    except OSError:
        # Served all the same; the next listening converts again.
        logger.exception("recording %s: its copy for listening was not stored", recording.pk)
        return
    still_claimed = Recording.objects.filter(
        pk=recording.pk, storage_name=recording.storage_name, wrapped_key__isnull=False
    ).exists()
    if not still_claimed:
        recordings_storage().delete(name)
