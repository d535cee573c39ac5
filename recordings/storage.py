"""Private, encrypted audio storage through Django's storage API (STORAGES["recordings"])."""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.files.utils import validate_file_name
from django.utils._os import safe_makedirs

from . import crypto
from .models import Recording


class DurableFileSystemStorage(FileSystemStorage):
    """The recordings' default storage: a file system folder, where a saved file is on disk
    (fsync of the file and of its folder) before `save` returns, so before the recording's row
    commits. Without it, a crash soon after an acknowledged upload could leave a committed
    recording whose audio is gone, or empty. A name is never reused (ingestion's names are
    random), so an existing file is an error, not a reason to pick another name."""

    def _save(self, name: str, content) -> str:
        validate_file_name(name, allow_relative_path=True)
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        if self.directory_permissions_mode is not None:
            safe_makedirs(directory, self.directory_permissions_mode, exist_ok=True)
        else:
            os.makedirs(directory, exist_ok=True)
        mode = self.file_permissions_mode if self.file_permissions_mode is not None else 0o600
        descriptor = os.open(full_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(descriptor, "wb", closefd=False) as output:
                for chunk in content.chunks():
                    output.write(chunk)
            os.fsync(descriptor)
        except BaseException:
            os.close(descriptor)
            os.unlink(full_path)
            raise
        os.close(descriptor)
        folder = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new name itself
        finally:
            os.close(folder)
        return name.replace("\\", "/")


def recordings_storage() -> Storage:
    return storages["recordings"]


def new_storage_name(tenant_id: int, started_at: datetime) -> str:
    """Never derived from anything the client sent (no path traversal, no guessable names)."""
    return f"{tenant_id}/{started_at:%Y/%m}/{uuid.uuid4().hex}.cstd"


class ChunkedContent(File):
    """Content produced piece by piece (an encryption in progress) for Storage.save: `chunks()`
    for the file system storages, `read()` for those that read a file object (S3's)."""

    def __init__(self, pieces: Iterable[bytes], size: int, name: str):
        super().__init__(None, name)
        self._pieces = iter(pieces)
        self._buffer = b""
        self.size = size

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        yield from self._pieces

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("produced once, from its start")

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        pass


def store_encrypted(name: str, blob: bytes | ChunkedContent) -> str:
    content = blob if isinstance(blob, ChunkedContent) else ContentFile(blob)
    saved = recordings_storage().save(name, content)
    if saved != name:  # uuid names never collide; a renamed file would break the AAD binding
        recordings_storage().delete(saved)
        raise RuntimeError(f"storage renamed {name} to {saved}")
    return saved


class StoringInBackground:
    """Stores one encrypted file on its own thread while the caller does its database work: the
    durable write (the file's and its folder's fsync, 1 to 2 ms) overlaps the upload's SQL instead
    of preceding it. The caller must `wait()` before the row that points at the file commits, and
    `discard()` the file if that row does not commit."""

    def __init__(self, name: str, blob: bytes | ChunkedContent):
        self.name = name
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._store, args=(blob,), name=f"store {name}", daemon=True
        )
        self._thread.start()

    def _store(self, blob: bytes | ChunkedContent) -> None:
        try:
            store_encrypted(self.name, blob)
        except BaseException as error:  # handed to the caller by wait()
            self._error = error

    def wait(self) -> None:
        """Return once the file is on disk; raise what storing it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def discard(self) -> None:
        """Remove the file, once the write has ended (whether it succeeded or not), so that a
        refused or failed upload leaves no file behind."""
        self._thread.join()
        recordings_storage().delete(self.name)


def _data_key(*, wrapped_key, master_key_id: str, tenant_id: int, storage_name: str) -> bytes:
    if not wrapped_key:
        raise crypto.DecryptionFailed("the key has been destroyed")
    master = crypto.master_keys().get(master_key_id)
    if master is None:
        raise crypto.DecryptionFailed(f"master key {master_key_id} is not configured")
    return crypto.unwrap_key(
        bytes(wrapped_key), master=master, tenant_id=tenant_id, storage_name=storage_name
    )


def _decrypting(stored, data_key: bytes, *, tenant_id: int, storage_name: str) -> Iterator[bytes]:
    with stored:
        yield from crypto.decrypt_chunks(
            data_key, stored, tenant_id=tenant_id, storage_name=storage_name
        )


def decrypted_chunks(
    *, wrapped_key, master_key_id: str, tenant_id: int, storage_name: str
) -> Iterator[bytes]:
    """The plain content of one stored file (a recording's audio, a subject export's ZIP), piece
    by piece (crypto.decrypt_chunks). The key is unwrapped and the file opened now, so that a
    shredded or unknown key raises crypto.DecryptionFailed, and a missing file
    FileNotFoundError, before the first piece is asked for; an altered file raises
    DecryptionFailed before its last piece."""
    data_key = _data_key(
        wrapped_key=wrapped_key,
        master_key_id=master_key_id,
        tenant_id=tenant_id,
        storage_name=storage_name,
    )
    stored = recordings_storage().open(storage_name, "rb")
    return _decrypting(stored, data_key, tenant_id=tenant_id, storage_name=storage_name)


def plain_audio_chunks(recording: Recording) -> Iterator[bytes]:
    """A recording's audio, decrypted piece by piece: the one decryption of recordings, used by
    listening (`read_plain_audio`), the integrity check and the data-subject export (which
    passes a row of plain values with the same key fields: wrapped_key, master_key_id,
    tenant_id, storage_name)."""
    return decrypted_chunks(
        wrapped_key=recording.wrapped_key,
        master_key_id=recording.master_key_id,
        tenant_id=recording.tenant_id,
        storage_name=recording.storage_name,
    )


def read_plain_audio(recording: Recording) -> bytes:
    """Decrypt a recording's audio whole, its tag verified before anything is returned (the player
    serves byte ranges of it). Raises crypto.DecryptionFailed when the key is gone (shredded),
    unknown, or the file was altered; FileNotFoundError when the file is missing."""
    return b"".join(plain_audio_chunks(recording))


# --- a recording's copy for listening --------------------------------------------------------

# A copy for listening (recordings/listening.py) sits beside its recording's file, named after it:
# removing a recording's file removes its copy with it (the purge's and erasure's removal,
# recordings/services/purge/files.py and unlink.py, which repeat this suffix), and the orphan
# sweep counts a copy as claimed while its recording claims the original.
LISTENING_COPY_SUFFIX = ".listening.cstd"
_STORED_SUFFIX = ".cstd"


def listening_copy_name(storage_name: str) -> str:
    return storage_name.removesuffix(_STORED_SUFFIX) + LISTENING_COPY_SUFFIX


def original_of_listening_copy(name: str) -> str | None:
    """The storage name of the recording a copy for listening belongs to; None if `name` is not
    a copy's."""
    if not name.endswith(LISTENING_COPY_SUFFIX):
        return None
    return name.removesuffix(LISTENING_COPY_SUFFIX) + _STORED_SUFFIX


def read_listening_copy(recording: Recording) -> bytes | None:
    """The recording's copy for listening, decrypted whole (its tag verified), or None when it
    has none yet. Encrypted with the recording's own data key, bound to the copy's name: the
    key's rotation and its shredding reach the copy as they reach the original. Raises
    crypto.DecryptionFailed when the key is gone or the copy was altered."""
    name = listening_copy_name(recording.storage_name)
    data_key = _data_key(
        wrapped_key=recording.wrapped_key,
        master_key_id=recording.master_key_id,
        tenant_id=recording.tenant_id,
        storage_name=recording.storage_name,
    )
    try:
        stored = recordings_storage().open(name, "rb")
    except FileNotFoundError:
        return None
    return b"".join(_decrypting(stored, data_key, tenant_id=recording.tenant_id, storage_name=name))


def store_listening_copy(recording: Recording, plain: bytes) -> str:
    """Store `plain` as the recording's copy for listening, encrypted like the recording, and
    return its name. Written under a partial name of its own and renamed when whole
    (`publish`): a reader never sees half a copy, and two listeners converting the same
    recording at once each publish a whole one (the last stays)."""
    name = listening_copy_name(recording.storage_name)
    data_key = _data_key(
        wrapped_key=recording.wrapped_key,
        master_key_id=recording.master_key_id,
        tenant_id=recording.tenant_id,
        storage_name=recording.storage_name,
    )
    blob = crypto.encrypt_audio(data_key, plain, tenant_id=recording.tenant_id, storage_name=name)
    partial = f"{name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    saved = recordings_storage().save(partial, ContentFile(blob))
    if saved != partial:
        recordings_storage().delete(saved)
        raise RuntimeError(f"storage renamed {partial} to {saved}")
    publish(partial, name)
    return name


# --- files published whole ------------------------------------------------------------------

PARTIAL_SUFFIX = ".part"


def partial_name(name: str) -> str:
    """Where a file published by `publish` is written first."""
    return name + PARTIAL_SUFFIX


def publish(partial: str, name: str) -> None:
    """Give the complete file `partial` its final `name`. On a file system, a rename (atomic), then
    the folder's fsync: the final name never shows a file being written, and a crash while
    writing leaves only the partial name, which no record claims. Elsewhere (an object store has
    no rename) the file is copied piece by piece and the partial one removed."""
    storage = recordings_storage()
    if isinstance(storage, FileSystemStorage):
        final_path = storage.path(name)
        os.replace(storage.path(partial), final_path)
        folder = os.open(os.path.dirname(final_path), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return
    with storage.open(partial, "rb") as source:
        saved = storage.save(name, File(source, name))
    if saved != name:
        storage.delete(saved)
        raise RuntimeError(f"storage renamed {name} to {saved}")
    storage.delete(partial)
