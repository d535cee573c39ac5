"""What an upload contains, read from its content, never from its name: the container (WAV, MP3,
Ogg, FLAC or AMR, told by its first bytes), the codec inside it, whether that codec decodes,
whether a browser plays it as it is, and the audio's true duration.

Call recorders store speech in many codecs (G.711, GSM 6.10, ADPCM, G.722, G.729, AMR, MP3,
Vorbis, Opus, FLAC), most of them inside WAV files whose header alone says little about their
length. The codec is read and decoded by FFmpeg's own decoders through PyAV (the `av` package,
whose wheel bundles them); the container is opened with its one demuxer, never by FFmpeg's
guess among all of them (a demuxer such as HLS's would follow links to other files). What a
browser cannot play as it is gets a copy for listening (recordings/listening.py); a codec that
cannot be decoded at all is refused at ingest, named.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import BinaryIO

import av
import av.error

# Telephony records at 8 kHz (G.711) and wideband codecs above; below 4 kHz no speech is
# intelligible, and a header claiming it (1 Hz) is a broken or forged file, whose duration can
# also overflow the duration column (Recording.duration_seconds, under 1,000,000 s).
LOWEST_SAMPLE_RATE = 4000
# No call lasts a day; a longer duration is a file's header lying about its length.
LONGEST_RECORDING = timedelta(hours=24)
# How many packets may fail to decode, from the start, before a file is declared undecodable
# (a decoder may need a few packets before its first frame; a damaged first packet is skipped).
PACKETS_TO_FIRST_FRAME = 50


class AudioRejected(ValueError):
    pass


@dataclass(frozen=True)
class Container:
    demuxer: str  # FFmpeg's name for the format, the only demuxer that opens it
    content_type: str
    extension: str  # downloads and the data-subject export name their files with it
    label: str


WAV = Container("wav", "audio/wav", ".wav", "WAV")
MP3 = Container("mp3", "audio/mpeg", ".mp3", "MP3")
OGG = Container("ogg", "audio/ogg", ".ogg", "Ogg")
FLAC = Container("flac", "audio/flac", ".flac", "FLAC")
AMR = Container("amr", "audio/amr", ".amr", "AMR")
CONTAINERS = (WAV, MP3, OGG, FLAC, AMR)

# What Chromium (and Firefox) play as stored, by container and codec (FFmpeg's names): PCM and
# G.711 in WAV, MP3, Vorbis and Opus in Ogg, FLAC. Anything else (GSM 6.10, ADPCM, G.722, G.726,
# G.729, AMR, MP3 inside a WAV...) is decoded once into a copy for listening.
PCM_CODECS = frozenset(
    {"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_mulaw", "pcm_alaw"}
)
BROWSER_PLAYS = frozenset(
    {
        *(("wav", codec) for codec in PCM_CODECS),
        ("mp3", "mp3"),
        ("ogg", "vorbis"),
        ("ogg", "opus"),
        ("flac", "flac"),
    }
)

# Names people know the codecs by (FFmpeg's long names otherwise).
CODEC_LABELS = {
    "pcm_u8": "PCM 8-bit",
    "pcm_s16le": "PCM 16-bit",
    "pcm_s24le": "PCM 24-bit",
    "pcm_s32le": "PCM 32-bit",
    "pcm_f32le": "PCM 32-bit float",
    "pcm_mulaw": "G.711 µ-law",
    "pcm_alaw": "G.711 A-law",
    "gsm_ms": "GSM 6.10",
    "gsm": "GSM 6.10",
    "adpcm_ima_wav": "IMA ADPCM",
    "adpcm_ms": "Microsoft ADPCM",
    "adpcm_g722": "G.722",
    "adpcm_g726": "G.726",
    "adpcm_g726le": "G.726",
    "g723_1": "G.723.1",
    "g729": "G.729",
    "amr_nb": "AMR-NB",
    "amr_wb": "AMR-WB",
    "truespeech": "DSP Group TrueSpeech",
    "mp3": "MP3",
    "vorbis": "Vorbis",
    "opus": "Opus",
    "flac": "FLAC",
}
# WAVE format tags (Microsoft's registry, mmreg.h) that FFmpeg knows no decoder for but that
# archives of calls are known to hold, to name them when refused.
WAVE_FORMAT_LABELS = {
    0x0021: "Sonarc",
    0x0030: "Dolby AC-2",
    0x1100: "Lernout & Hauspie CELP",
}
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def extension_for(content_type: str) -> str:
    for container in CONTAINERS:
        if container.content_type == content_type:
            return container.extension
    return ".audio"


@dataclass(frozen=True)
class AudioCodec:
    container: Container
    name: str  # FFmpeg's canonical name: pcm_mulaw, gsm_ms, adpcm_ima_wav, mp3
    label: str  # G.711 µ-law, GSM 6.10, IMA ADPCM, MP3

    @property
    def browser_plays(self) -> bool:
        """Whether a browser plays the stored file as it is; if not, listening gets a copy."""
        return (self.container.demuxer, self.name) in BROWSER_PLAYS


@dataclass(frozen=True)
class AudioInfo:
    content_type: str
    duration_seconds: Decimal
    codec: AudioCodec


class _Unnamed:
    """A file as FFmpeg sees it: content only (no name from which to guess a format)."""

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


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: the sync word, then no reserved version, layer, bit rate or
    sample rate (ISO/IEC 11172-3, 2.4.2.3)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 0xF and rate != 3


def container_of(head: bytes) -> Container | None:
    """The container a file's first bytes announce, None if none that calls are stored in."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return AMR
    if head.startswith(b"ID3") or _mpeg_audio_frame(head):
        return MP3
    return None


def _wave_format_tag(source: BinaryIO, length: int) -> int:
    """The WAV's format tag (fmt chunk; the sub-format's for WAVE_FORMAT_EXTENSIBLE), having
    walked its RIFF chunks to check that the data chunk holds as many bytes as it declares: a
    truncated WAV is refused, not played short."""
    position, tag = 12, None
    while position + 8 <= length:
        source.seek(position)
        chunk_id, size = struct.unpack("<4sI", source.read(8))
        body = position + 8
        if chunk_id == b"fmt " and size >= 2:
            fmt = source.read(min(size, 40))
            (tag,) = struct.unpack("<H", fmt[:2])
            if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
                (tag,) = struct.unpack("<H", fmt[24:26])
        elif chunk_id == b"data":
            if body + size > length:
                raise AudioRejected(
                    f"the WAV file is truncated: {length - body} of {size} audio bytes present"
                )
            if tag is None:
                raise AudioRejected("the WAV file has no format chunk before its audio")
            return tag
        position = body + size + (size & 1)
    raise AudioRejected("the WAV file has no audio data")


def _wave_format_label(tag: int) -> str:
    name = WAVE_FORMAT_LABELS.get(tag)
    return f"{name} (WAVE format tag 0x{tag:04X})" if name else f"WAVE format tag 0x{tag:04X}"


def ffmpeg_reason(error: Exception) -> str:
    """FFmpeg's words for an error, without PyAV's errno and call site."""
    return getattr(error, "strerror", None) or str(error)


def codec_label(name: str, long_name: str = "") -> str:
    return CODEC_LABELS.get(name) or long_name or name


# Every container taken here states its stream's parameters in its header: FFmpeg need not
# decode seconds of audio to find them (its default probe, several times the cost of the rest).
QUICK_PROBE = {"probesize": "32", "analyzeduration": "0"}


def _open(source: BinaryIO, container: Container, *, probe: dict[str, str]):
    source.seek(0)
    try:
        return av.open(_Unnamed(source), format=container.demuxer, container_options=probe)
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise AudioRejected(
            f"not a readable {container.label} file ({ffmpeg_reason(error)})"
        ) from error


@contextmanager
def opened_audio(
    source: BinaryIO,
) -> Iterator[tuple[AudioCodec, av.container.InputContainer, av.AudioStream]]:
    """The audio's codec, its container opened by its own demuxer and its first audio stream;
    AudioRejected if it is no audio we take or its codec has no decoder (named)."""
    length = _size(source)
    if not length:
        raise AudioRejected("the audio file is empty")
    container = container_of(source.read(16))
    source.seek(0)
    if container is None:
        raise AudioRejected("not an audio file: WAV, MP3, Ogg, FLAC or AMR expected")
    wave_tag = _wave_format_tag(source, length) if container is WAV else None
    opened = _open(source, container, probe=QUICK_PROBE)
    try:
        context = opened.streams.audio[0].codec_context if opened.streams.audio else None
        if context is not None and not (context.sample_rate and context.layout.nb_channels):
            opened.close()  # parameters its headers do not give: FFmpeg's full probe finds them
            opened = _open(source, container, probe={})
        if not opened.streams.audio:
            raise AudioRejected(f"the {container.label} file holds no audio")
        stream = opened.streams.audio[0]
        context = stream.codec_context
        if context is None:
            # FFmpeg knows no decoder for it: named by the file's own tag where it has one.
            named = _wave_format_label(wave_tag) if wave_tag is not None else "unknown"
            raise AudioRejected(f"the audio's codec, {named}, cannot be decoded")
        codec = AudioCodec(
            container=container,
            name=context.codec.canonical_name,
            label=codec_label(context.codec.canonical_name, context.codec.long_name),
        )
        yield codec, opened, stream
    finally:
        opened.close()


def audio_codec(data: bytes) -> AudioCodec:
    """The codec of audio already accepted (what listening needs to know), from its header."""
    with opened_audio(io.BytesIO(data)) as (codec, _opened, _stream):
        return codec


def _seconds(ticks: int, time_base: Fraction) -> float:
    return float(ticks * time_base)


def inspect_audio(data: bytes | BinaryIO) -> AudioInfo:
    """What the audio is, from its content: `data` is the bytes, or a seekable binary file (an
    upload spooled to disk is read in small pieces, never whole).

    Its duration is the one its packets' timestamps give (the demuxer reads every packet, no
    decoding needed), except where the container counts the samples itself (Ogg's last granule
    position, FLAC's stream information: exact where the last packet is trimmed) and for PCM in
    WAV (its data chunk's size). Only the first packets are decoded, to prove that the codec
    decodes: a whole hour decoded would cost the upload a second."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    with opened_audio(source) as (codec, opened, stream):
        context = stream.codec_context
        if context.sample_rate < LOWEST_SAMPLE_RATE:
            raise AudioRejected(
                f"the audio's sample rate is {context.sample_rate} Hz: at least "
                f"{LOWEST_SAMPLE_RATE} Hz expected (telephony records at 8000 Hz)"
            )
        if codec.container is WAV and codec.name in PCM_CODECS and stream.duration:
            # Every byte of PCM is audio: the data chunk, checked whole, gives the exact length,
            # and there is nothing that could fail to decode.
            duration = _seconds(stream.duration, stream.time_base)
        else:
            duration = _decoded_duration(codec, opened, stream)
    _refuse_duration(duration)
    source.seek(0)
    return AudioInfo(
        content_type=codec.container.content_type,
        duration_seconds=Decimal(str(round(duration, 3))),
        codec=codec,
    )


def _decoded_duration(codec: AudioCodec, opened, stream) -> float:
    """The duration of audio whose packets are read: refused unless its first packets decode."""
    context = stream.codec_context
    start = end = None
    decoded, failures, last_error = False, 0, ""
    try:
        for packet in opened.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's flush packet
            if packet.pts is not None:
                start = packet.pts if start is None else min(start, packet.pts)
                finish = packet.pts + (packet.duration or 0)
                end = finish if end is None else max(end, finish)
            if decoded or failures >= PACKETS_TO_FIRST_FRAME:
                continue
            try:
                decoded = any(frame.samples for frame in context.decode(packet))
            except (av.error.FFmpegError, ValueError) as error:
                failures, last_error = failures + 1, ffmpeg_reason(error)
        if not decoded and failures < PACKETS_TO_FIRST_FRAME:
            decoded = any(frame.samples for frame in context.decode(None))
    except (av.error.FFmpegError, ValueError) as error:
        if not decoded:
            last_error = ffmpeg_reason(error)
        else:
            raise AudioRejected(
                f"the {codec.label} audio is unreadable part of the way through "
                f"({ffmpeg_reason(error)})"
            ) from error
    if not decoded:
        raise AudioRejected(
            f"the audio's codec, {codec.label}, cannot be decoded from this file"
            + (f" ({last_error})" if last_error else "")
        )
    if codec.container in (OGG, FLAC) and stream.duration:
        return _seconds(stream.duration, stream.time_base)
    if start is not None and end is not None:
        return _seconds(end - start, stream.time_base)
    return _seconds(stream.duration or 0, stream.time_base)


def _refuse_duration(duration: float) -> None:
    if not math.isfinite(duration) or duration <= 0:
        raise AudioRejected("the audio file has no duration")
    longest = LONGEST_RECORDING.total_seconds()
    if duration > longest:
        raise AudioRejected(
            f"the audio lasts {duration:.0f} seconds: no recording longer than {longest:.0f} "
            "seconds is accepted"
        )
