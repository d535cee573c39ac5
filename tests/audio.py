"""Real, short audio made on the fly for tests (and the same generator serves seed_demo)."""

from recordings.demo_audio import tone_wav

__all__ = ["tone_wav"]
