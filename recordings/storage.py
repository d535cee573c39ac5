"""Private, encrypted audio storage through Django's storage API (STORAGES["recordings"])."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from . import crypto
from .models import Recording


def recordings_storage() -> Storage:
    return storages["recordings"]


def new_storage_name(tenant_id: int, started_at: datetime) -> str:
    """Never derived from anything the client sent (no path traversal, no guessable names)."""
    return f"{tenant_id}/{started_at:%Y/%m}/{uuid.uuid4().hex}.cstd"


def store_encrypted(name: str, blob: bytes) -> str:
    saved = recordings_storage().save(name, ContentFile(blob))
    if saved != name:  # uuid names never collide; a renamed file would break the AAD binding
        recordings_storage().delete(saved)
        raise RuntimeError(f"storage renamed {name} to {saved}")
    return saved


def read_plain_audio(recording: Recording) -> bytes:
    """Decrypt a recording's audio. Raises crypto.DecryptionFailed when the key is gone (shredded),
    unknown, or the file was altered; FileNotFoundError when the file is missing."""
    if not recording.wrapped_key:
        raise crypto.DecryptionFailed("the recording's key has been destroyed")
    master = crypto.master_keys().get(recording.master_key_id)
    if master is None:
        raise crypto.DecryptionFailed(f"master key {recording.master_key_id} is not configured")
    data_key = crypto.unwrap_key(
        bytes(recording.wrapped_key),
        master=master,
        tenant_id=recording.tenant_id,
        storage_name=recording.storage_name,
    )
    with recordings_storage().open(recording.storage_name, "rb") as stored:
        blob = stored.read()
    return crypto.decrypt_audio(
        data_key, blob, tenant_id=recording.tenant_id, storage_name=recording.storage_name
    )
