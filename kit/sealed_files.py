"""A file written and read back in sealed records (AES-256-GCM), for what waits on disk a short
while (a do-not-call scrub's rows): nothing large is ever whole in memory, and a record changed,
moved or dropped, or the file cut short, fails its reading.

Each record: its length (4 bytes, big-endian), a random nonce (12 bytes), the ciphertext with its
tag. The associated data binds each record to the file's name, its place and whether it is the
last one: records cannot be reordered, taken from another file, or the file truncated at a
record's boundary unseen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

RECORD_BYTES = 1 << 16
_NONCE = 12


class SealBroken(Exception):
    """The file does not read back as written: altered, cut short, or the wrong key."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(name: str, index: int, last: bool) -> bytes:
    return f"{name}:{index}:{int(last)}".encode()


class SealedWriter:
    """Write text or bytes; `close()` seals the last record. `name` is bound into every record
    (the file's storage name)."""

    def __init__(self, path: Path, key: bytes, name: str):
        self.path = path
        self.name = name
        self._aead = AESGCM(key)
        self._file = path.open("xb")
        self._buffer = bytearray()
        self._index = 0

    def write(self, data: str | bytes) -> None:
        self._buffer += data.encode() if isinstance(data, str) else data
        while len(self._buffer) >= RECORD_BYTES:
            self._seal(bytes(self._buffer[:RECORD_BYTES]), last=False)
            del self._buffer[:RECORD_BYTES]

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(self.name, self._index, last))
        self._file.write(len(sealed).to_bytes(4, "big") + nonce + sealed)
        self._index += 1

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._file.close()

    def discard(self) -> None:
        """Close and delete, whatever was written."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def sealed_records(stream, key: bytes, name: str) -> Iterator[bytes]:
    """The plain records of a file `SealedWriter` wrote, read from `stream` (open in binary)."""
    aead = AESGCM(key)
    index = 0
    pending: tuple[bytes, bytes] | None = None
    while True:
        header = stream.read(4)
        if not header:
            break
        if len(header) < 4:
            raise SealBroken("the file is cut short")
        size = int.from_bytes(header, "big")
        nonce = stream.read(_NONCE)
        sealed = stream.read(size)
        if len(nonce) < _NONCE or len(sealed) < size:
            raise SealBroken("the file is cut short")
        if pending is not None:
            yield _open(aead, *pending, name, index - 1, last=False)
        pending = (nonce, sealed)
        index += 1
    if pending is None:
        raise SealBroken("the file is empty")
    yield _open(aead, *pending, name, index - 1, last=True)


def _open(aead: AESGCM, nonce: bytes, sealed: bytes, name: str, index: int, *, last: bool):
    try:
        return aead.decrypt(nonce, sealed, _aad(name, index, last))
    except Exception as error:  # cryptography's InvalidTag
        raise SealBroken("a record does not open: altered, cut short or the wrong key") from error
