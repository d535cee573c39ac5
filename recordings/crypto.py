"""Envelope encryption of audio (AES-256-GCM, from the `cryptography` library).

- Each recording's audio is encrypted with a fresh random 256-bit *data key*.
- The data key is stored only *wrapped* (AES-256-GCM) by the tenant's key-wrapping key, which is
  derived with HKDF-SHA256 from the master key in the environment and the tenant's id.
- Deleting a recording's wrapped key (crypto-shredding) makes every copy of its audio, backups
  included, unreadable. Rotating the master key rewraps data keys; the audio is never rewritten.

Both ciphertexts are bound, as associated data, to the recording's storage name and tenant, so a
wrapped key or an audio file moved to another recording does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# What the register of processing states (recordings/register_providers.py): the cipher of both
# the audio and the wrapped data keys.
ALGORITHM = "AES-256-GCM"
AUDIO_MAGIC = b"CSTDA1"  # file format: magic, 12-byte nonce, ciphertext with its 16-byte tag
NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK_BYTES = 1 << 20  # what a streamed encryption holds at once


class DecryptionFailed(Exception):
    """The key or the ciphertext is wrong: tampered audio, a foreign key, or a shredded key."""


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    material: bytes


def _decode(value: str, name: str) -> bytes:
    try:
        material = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured(f"{name} must be 32 bytes in base64") from error
    if len(material) != 32:
        raise ImproperlyConfigured(f"{name} must be 32 bytes in base64 (got {len(material)})")
    return material


def key_id_of(material: bytes) -> str:
    return hashlib.sha256(b"custodia-master-key-id|" + material).hexdigest()[:16]


def current_master_key() -> MasterKey:
    material = _decode(settings.RECORDINGS_MASTER_KEY, "RECORDINGS_MASTER_KEY")
    return MasterKey(key_id_of(material), material)


def master_keys() -> dict[str, MasterKey]:
    """The current master key and the previous ones still listed for rotation, by id."""
    keys = [current_master_key()]
    for value in settings.RECORDINGS_PREVIOUS_MASTER_KEYS:
        material = _decode(value, "RECORDINGS_PREVIOUS_MASTER_KEYS")
        keys.append(MasterKey(key_id_of(material), material))
    return {key.key_id: key for key in keys}


def tenant_wrapping_key(master: MasterKey, tenant_id: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"custodia-tenant-kek|{tenant_id}".encode("ascii"),
    ).derive(master.material)


def _associated_data(kind: str, tenant_id: int, storage_name: str) -> bytes:
    return f"custodia|{kind}|{tenant_id}|{storage_name}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encrypt_audio(data_key: bytes, plain: bytes, *, tenant_id: int, storage_name: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = _associated_data("audio", tenant_id, storage_name)
    return AUDIO_MAGIC + nonce + AESGCM(data_key).encrypt(nonce, plain, aad)


def encrypted_size(plain_size: int) -> int:
    return len(AUDIO_MAGIC) + NONCE_BYTES + plain_size + TAG_BYTES


def encrypt_chunks(
    data_key: bytes, pieces: Iterable[bytes], *, tenant_id: int, storage_name: str
) -> Iterator[bytes]:
    """The same file as `encrypt_audio`, produced piece by piece from `pieces` (the plain bytes,
    in order), so that nothing large is ever whole in memory. AES-GCM is a stream cipher with
    its tag at the end: the pieces joined are byte for byte what AESGCM.encrypt returns."""
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(data_key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(_associated_data("audio", tenant_id, storage_name))
    yield AUDIO_MAGIC + nonce
    for piece in pieces:
        if piece:
            yield encryptor.update(piece)
    yield encryptor.finalize() + encryptor.tag


def encrypt_audio_chunks(
    data_key: bytes, source: BinaryIO, *, tenant_id: int, storage_name: str
) -> Iterator[bytes]:
    """`encrypt_chunks` over a binary file read from its start (an upload)."""

    def pieces() -> Iterator[bytes]:
        source.seek(0)
        while chunk := source.read(CHUNK_BYTES):
            yield chunk

    return encrypt_chunks(data_key, pieces(), tenant_id=tenant_id, storage_name=storage_name)


def decrypt_chunks(
    data_key: bytes, source: BinaryIO, *, tenant_id: int, storage_name: str
) -> Iterator[bytes]:
    """Decrypt a file of `encrypt_audio`'s format read from `source`, piece by piece: what a
    listener hears, an export contains and the integrity check hashes all come from here, holding
    about two pieces (CHUNK_BYTES each) at a time whatever the file's size.

    The tag that authenticates the whole file is at its end. The last piece is handed out only
    once the tag has verified: a file altered or cut short raises DecryptionFailed before its
    end is released, so a consumer never receives it whole (a download ends short)."""
    header = source.read(len(AUDIO_MAGIC) + NONCE_BYTES)
    if len(header) < len(AUDIO_MAGIC) + NONCE_BYTES or not header.startswith(AUDIO_MAGIC):
        raise DecryptionFailed("not a Custodia encrypted audio file")
    decryptor = Cipher(algorithms.AES(data_key), modes.GCM(header[len(AUDIO_MAGIC) :])).decryptor()
    decryptor.authenticate_additional_data(_associated_data("audio", tenant_id, storage_name))
    tail = b""  # the last TAG_BYTES read so far: the tag, once the file ends
    held: bytes | None = None
    while chunk := source.read(CHUNK_BYTES):
        data = tail + chunk if tail else chunk
        tail, body = data[-TAG_BYTES:], data[:-TAG_BYTES]
        if body:
            if held is not None:
                yield held
            held = decryptor.update(body)
    if len(tail) < TAG_BYTES:
        raise DecryptionFailed("the audio file is cut short")
    try:
        last = decryptor.finalize_with_tag(tail)
    except InvalidTag as error:
        raise DecryptionFailed("the audio does not decrypt: altered, or the wrong key") from error
    if held is not None or last:
        yield (held or b"") + last


def decrypt_audio(data_key: bytes, blob: bytes, *, tenant_id: int, storage_name: str) -> bytes:
    return b"".join(
        decrypt_chunks(data_key, io.BytesIO(blob), tenant_id=tenant_id, storage_name=storage_name)
    )


def wrap_key(data_key: bytes, *, master: MasterKey, tenant_id: int, storage_name: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = _associated_data("key", tenant_id, storage_name)
    return nonce + AESGCM(tenant_wrapping_key(master, tenant_id)).encrypt(nonce, data_key, aad)


def unwrap_key(wrapped: bytes, *, master: MasterKey, tenant_id: int, storage_name: str) -> bytes:
    aad = _associated_data("key", tenant_id, storage_name)
    try:
        return AESGCM(tenant_wrapping_key(master, tenant_id)).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad
        )
    except InvalidTag as error:
        raise DecryptionFailed("the data key does not unwrap with this master key") from error
