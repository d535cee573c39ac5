"""Audio a browser cannot play as it is (GSM 6.10, ADPCM, G.722, G.729, AMR...) decoded into a
copy for listening: 16-bit PCM in a WAV file, at the recording's own sample rate and channels.

Why PCM WAV rather than Opus in Ogg: the stored audio is already narrowband and lossy, and a
second lossy encoding would add its own artefacts to what a quality analyst or a court hears;
every browser plays PCM WAV, reads its exact duration from its header and seeks in it by byte
ranges alone (a constant number of bytes per second), which is how the player streams; and it
needs FFmpeg's decoders only, no encoder. The price is size (16 kB a second at 8 kHz, 58 MB for
an hour's call), for the copies of the recordings someone actually listens to.
"""

from __future__ import annotations

import io
import wave

import av
import av.error

from .audio import AudioRejected, ffmpeg_reason, opened_audio

SAMPLE_WIDTH = 2  # bytes: signed 16-bit


class TranscodingFailed(Exception):
    """The audio could not be decoded into anything a browser plays."""


def pcm_wav(data: bytes) -> bytes:
    """`data` (a stored recording's audio) decoded to a 16-bit PCM WAV file. A damaged packet
    is skipped, as a player would; audio of which nothing decodes raises TranscodingFailed."""
    label = "stored"
    try:
        with opened_audio(io.BytesIO(data)) as (codec, opened, stream):
            label = codec.label
            context = stream.codec_context
            channels = context.layout.nb_channels
            rate = context.sample_rate
            resampler = av.AudioResampler(format="s16", layout=context.layout, rate=rate)
            output = io.BytesIO()
            written = 0
            with wave.open(output, "wb") as writer:
                writer.setnchannels(channels)
                writer.setsampwidth(SAMPLE_WIDTH)
                writer.setframerate(rate)

                def write(frames) -> int:
                    count = 0
                    for packed in frames:
                        size = packed.samples * channels * SAMPLE_WIDTH
                        # The plane is padded to an alignment: only its samples are written.
                        writer.writeframesraw(bytes(packed.planes[0])[:size])
                        count += packed.samples
                    return count

                def converted(frames):
                    for frame in frames:
                        yield from resampler.resample(frame)

                for packet in opened.demux(stream):
                    if packet.size == 0:
                        continue  # the demuxer's flush packet: flushed once, below
                    try:
                        written += write(converted(context.decode(packet)))
                    except (av.error.InvalidDataError, av.error.PatchWelcomeError):
                        continue  # one damaged packet: a moment of silence, not a failure
                written += write(converted(context.decode(None)))
                written += write(resampler.resample(None))
    except AudioRejected as error:
        raise TranscodingFailed(str(error)) from error
    except (av.error.FFmpegError, ValueError) as error:
        raise TranscodingFailed(
            f"the {label} audio does not decode ({ffmpeg_reason(error)})"
        ) from error
    if not written:
        raise TranscodingFailed(f"nothing of the {label} audio decodes")
    return output.getvalue()
