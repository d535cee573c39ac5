"""Real audio for tests: a tone made on the fly (the same generator serves seed_demo), speech as
call recorders store it (tests/audio_samples/, described in its README), and codecs with no
sample there encoded on the fly with FFmpeg's encoders through PyAV."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import av

from recordings.demo_audio import tone_wav

__all__ = [
    "SAMPLES",
    "Sample",
    "encoded_tone",
    "sample_bytes",
    "tone_wav",
    "wav_frames",
    "wav_with_format_tag",
]

SAMPLES_FOLDER = Path(__file__).resolve().parent / "audio_samples"


@dataclass(frozen=True)
class Sample:
    file: str
    content_type: str
    codec: str  # FFmpeg's name, as recordings.audio reports it
    seconds: float  # as `soxi -D` reports it (the README's table)
    browser_plays: bool  # as stored, or through a copy for listening

    def __str__(self) -> str:
        return self.file


SAMPLES = (
    Sample("pcm16-8k-fr.wav", "audio/wav", "pcm_s16le", 5.675, True),
    Sample("g711-ulaw-8k-fr.wav", "audio/wav", "pcm_mulaw", 5.675, True),
    Sample("g711-alaw-8k-fr.wav", "audio/wav", "pcm_alaw", 5.675, True),
    Sample("gsm610-8k-fr.wav", "audio/wav", "gsm_ms", 5.680, False),
    Sample("ima-adpcm-8k-es.wav", "audio/wav", "adpcm_ima_wav", 4.166, False),
    Sample("stereo-agent-caller-ulaw-8k.wav", "audio/wav", "pcm_mulaw", 5.675, True),
    Sample("mp3-8k-es.mp3", "audio/mpeg", "mp3", 4.320, True),
    Sample("vorbis-16k-es.ogg", "audio/ogg", "vorbis", 4.148, True),
    Sample("flac-16k-es.flac", "audio/flac", "flac", 4.148, True),
)


def sample_bytes(name: str) -> bytes:
    return (SAMPLES_FOLDER / name).read_bytes()


def encoded_tone(container: str, codec: str, *, seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A mono tone encoded by FFmpeg: `container` as FFmpeg names formats (wav, ogg, amr),
    `codec` its encoder (adpcm_ms, adpcm_g722, libopencore_amrnb, libopus)."""
    samples = tone_wav(seconds, rate=rate)[44:]  # the PCM after wave's 44-byte header
    output = io.BytesIO()
    with av.open(output, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(samples) // 2)
        frame.planes[0].update(samples)
        frame.sample_rate = rate
        frame.pts = 0
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=rate)
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return output.getvalue()


def wav_with_format_tag(tag: int, *, seconds: float = 1.0) -> bytes:
    """A WAV file whose header names codec `tag` (a WAVE format tag) over bytes that are no audio
    in any codec FFmpeg knows: what a recorder using a codec nothing decodes would store."""
    rate, block = 8000, 65
    data = bytes(range(256)) * int(seconds * 1625 / 256 + 1)
    fmt = struct.pack("<HHIIHH", tag, 1, rate, 1625, block, 0) + struct.pack("<HH", 2, 320)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav_frames(data: bytes) -> tuple[int, int, int, int]:
    """(channels, bytes per sample, sample rate, frames) of a PCM WAV file, read by the stdlib:
    what a browser reads of it."""
    with wave.open(io.BytesIO(data)) as reader:
        return (
            reader.getnchannels(),
            reader.getsampwidth(),
            reader.getframerate(),
            reader.getnframes(),
        )
