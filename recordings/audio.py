"""Audio is accepted by what it contains, never by its name: WAV, MP3, Ogg/Opus or FLAC, read with
mutagen, with the duration taken from the file itself."""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import BinaryIO

from mutagen import File as MutagenFile
from mutagen import MutagenError
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.oggopus import OggOpus
from mutagen.wave import WAVE

CONTENT_TYPES = {WAVE: "audio/wav", MP3: "audio/mpeg", OggOpus: "audio/ogg", FLAC: "audio/flac"}
# The file name extension of each (mimetypes knows no "audio/wav" on every system): downloads and
# the data-subject export name their files with it.
EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".opus",
    "audio/flac": ".flac",
}


def extension_for(content_type: str) -> str:
    return EXTENSIONS.get(content_type, ".audio")


# Telephony records at 8 kHz (G.711) and wideband codecs above; below 4 kHz no speech is
# intelligible, and a header claiming it (1 Hz) is a broken or forged file, whose duration can
# also overflow the duration column (Recording.duration_seconds, under 1,000,000 s).
LOWEST_SAMPLE_RATE = 4000
# No call lasts a day; a longer duration is a file's header lying about its length.
LONGEST_RECORDING = timedelta(hours=24)


class AudioRejected(ValueError):
    pass


@dataclass(frozen=True)
class AudioInfo:
    content_type: str
    duration_seconds: Decimal


class _Unnamed:
    """A file as mutagen sees it: content only. mutagen scores formats by file name as well, and
    an upload's name is the client's to choose."""

    def __init__(self, source: BinaryIO):
        self._source = source

    def read(self, size: int = -1) -> bytes:
        return self._source.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._source.seek(offset, whence)

    def tell(self) -> int:
        return self._source.tell()


def _size(source: BinaryIO) -> int:
    end = source.seek(0, io.SEEK_END)
    source.seek(0)
    return end


def _check_wav_complete(source: BinaryIO, length: int) -> None:
    """mutagen trusts the header; a truncated WAV must not pass, so walk the RIFF chunks and
    check that the data chunk holds as many bytes as it declares."""
    position = 12
    while position + 8 <= length:
        source.seek(position)
        chunk_id, size = struct.unpack("<4sI", source.read(8))
        body = position + 8
        if chunk_id == b"data":
            if body + size > length:
                raise AudioRejected(
                    f"the WAV file is truncated: {length - body} of {size} audio bytes present"
                )
            return
        position = body + size + (size & 1)
    raise AudioRejected("the WAV file has no audio data")


def inspect_audio(data: bytes | BinaryIO) -> AudioInfo:
    """What the audio is, from its content: `data` is the bytes, or a seekable binary file (an
    upload spooled to disk is read in small pieces, never whole)."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    length = _size(source)
    if not length:
        raise AudioRejected("the audio file is empty")
    try:
        parsed = MutagenFile(_Unnamed(source), options=list(CONTENT_TYPES))
    except (MutagenError, Exception) as error:  # a parser of untrusted bytes may raise anything
        raise AudioRejected(f"not a readable audio file ({error})") from error
    if parsed is None:
        raise AudioRejected("not an audio file: WAV, MP3, Ogg/Opus or FLAC expected")
    if isinstance(parsed, WAVE):
        _check_wav_complete(source, length)
    source.seek(0)
    sample_rate = getattr(parsed.info, "sample_rate", None)
    if sample_rate is not None and sample_rate < LOWEST_SAMPLE_RATE:
        raise AudioRejected(
            f"the audio's sample rate is {sample_rate} Hz: at least {LOWEST_SAMPLE_RATE} Hz "
            "expected (telephony records at 8000 Hz)"
        )
    duration = getattr(parsed.info, "length", 0) or 0
    if not math.isfinite(duration) or duration <= 0:
        raise AudioRejected("the audio file has no duration")
    longest = LONGEST_RECORDING.total_seconds()
    if duration > longest:
        raise AudioRejected(
            f"the audio lasts {duration:.0f} seconds: no recording longer than {longest:.0f} "
            "seconds is accepted"
        )
    return AudioInfo(
        content_type=CONTENT_TYPES[type(parsed)],
        duration_seconds=Decimal(str(round(duration, 3))),
    )
