"""Audio is accepted by what it contains, never by its name: WAV, MP3, Ogg/Opus or FLAC, read with
mutagen, with the duration taken from the file itself."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from decimal import Decimal

from mutagen import File as MutagenFile
from mutagen import MutagenError
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.oggopus import OggOpus
from mutagen.wave import WAVE

CONTENT_TYPES = {WAVE: "audio/wav", MP3: "audio/mpeg", OggOpus: "audio/ogg", FLAC: "audio/flac"}


class AudioRejected(ValueError):
    pass


@dataclass(frozen=True)
class AudioInfo:
    content_type: str
    duration_seconds: Decimal


def _check_wav_complete(data: bytes) -> None:
    """mutagen trusts the header; a truncated WAV must not pass, so walk the RIFF chunks and
    check that the data chunk holds as many bytes as it declares."""
    position = 12
    while position + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, position)
        body = position + 8
        if chunk_id == b"data":
            if body + size > len(data):
                raise AudioRejected(
                    f"the WAV file is truncated: {len(data) - body} of {size} audio bytes present"
                )
            return
        position = body + size + (size & 1)
    raise AudioRejected("the WAV file has no audio data")


def inspect_audio(data: bytes) -> AudioInfo:
    if not data:
        raise AudioRejected("the audio file is empty")
    try:
        parsed = MutagenFile(io.BytesIO(data), options=list(CONTENT_TYPES))
    except (MutagenError, Exception) as error:  # a parser of untrusted bytes may raise anything
        raise AudioRejected(f"not a readable audio file ({error})") from error
    if parsed is None:
        raise AudioRejected("not an audio file: WAV, MP3, Ogg/Opus or FLAC expected")
    if isinstance(parsed, WAVE):
        _check_wav_complete(data)
    length = getattr(parsed.info, "length", 0) or 0
    if length <= 0:
        raise AudioRejected("the audio file has no duration")
    return AudioInfo(
        content_type=CONTENT_TYPES[type(parsed)],
        duration_seconds=Decimal(str(round(length, 3))),
    )
