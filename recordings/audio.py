"""Audio is accepted by what it contains, never by its name: WAV, MP3, Ogg/Opus or FLAC, read with
mutagen, with the duration taken from the file itself."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

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
    duration = getattr(parsed.info, "length", 0) or 0
    if duration <= 0:
        raise AudioRejected("the audio file has no duration")
    return AudioInfo(
        content_type=CONTENT_TYPES[type(parsed)],
        duration_seconds=Decimal(str(round(duration, 3))),
    )
