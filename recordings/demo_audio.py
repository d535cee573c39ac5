"""Short real audio generated on the fly: demo data and tests need no audio files."""

from __future__ import annotations

import io
import math
import struct
import wave


def tone_wav(seconds: float = 1.0, *, frequency: float = 440.0, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of a sine tone (8 kHz, as telephony records)."""
    frames = int(seconds * rate)
    samples = (
        int(12000 * math.sin(2 * math.pi * frequency * index / rate)) for index in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(rate)
        output.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()
