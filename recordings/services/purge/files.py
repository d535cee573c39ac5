"""Removing the audio files of deleted recordings, once their deletion has committed: the files
listed in PendingFileRemoval (`remove_pending_files`), and during a run those of its committed
batches, removed while the next batches run (`FileRemover`)."""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.files.storage import FileSystemStorage

from ...models import PendingFileRemoval
from ...storage import listening_copy_name, recordings_storage
from . import unlink

logger = logging.getLogger(__name__)

FILE_REMOVAL_THREADS = 8
_FILE_REMOVAL_CHUNK = 100
_UNLINK_SCRIPT = str(Path(__file__).with_name("unlink.py"))
# The names ingestion gives (recordings.storage.new_storage_name): safe to join to the folder.
_STORAGE_NAME = unlink.STORAGE_NAME
_listening_copy_of = unlink.listening_copy_of
_filesystem_delete = FileSystemStorage.delete


def _plain_filesystem(storage) -> bool:
    """Django's own FileSystemStorage, its delete not overridden (nor replaced, as in tests)."""
    return isinstance(storage, FileSystemStorage) and type(storage).delete is _filesystem_delete


def _file_remover(storage) -> Callable[[str], None]:
    """A function removing one recording's stored file, and its copy for listening first if it
    has one (recordings/listening.py); a file already gone is not an error. With a plain
    FileSystemStorage, a name in the form ingestion gives is unlinked directly: the same effect
    as FileSystemStorage.delete without its path resolution and extra stat per file. Anything
    else goes through storage.delete."""
    if not _plain_filesystem(storage):

        def delete(name: str) -> None:
            storage.delete(listening_copy_name(name))
            storage.delete(name)

        return delete
    location, match, unlink = storage.location, _STORAGE_NAME.fullmatch, os.unlink
    copy_of = _listening_copy_of

    def remove(name: str) -> None:
        if not match(name):
            storage.delete(listening_copy_name(name))
            storage.delete(name)
            return
        for path in (copy_of(name), name):
            try:
                unlink(f"{location}/{path}")
            except FileNotFoundError:
                pass

    return remove


def remove_pending_files(names: Iterable[str] | None = None):
    """Unlink files whose records are gone; a file that cannot be removed stays pending (and is
    reported), the others proceed. Returns (removed, failures)."""
    pending = PendingFileRemoval.objects.order_by("pk")
    if names is not None:
        pending = pending.filter(storage_name__in=list(names))
    remove = _file_remover(recordings_storage())
    removed, failures, after = 0, [], 0
    while chunk := list(pending.filter(pk__gt=after).values_list("pk", "storage_name")[:2000]):
        after = chunk[-1][0]
        done = []
        for pk, name in chunk:
            try:
                remove(name)
            except OSError as error:
                failures.append({"file": name, "error": str(error)})
                logger.warning("purge: could not remove %s: %s", name, error)
                continue
            done.append(pk)
        PendingFileRemoval.objects.filter(pk__in=done).delete()
        removed += len(done)
    return removed, failures


class FileRemover:
    """Removes the files of committed batches while the next batches run (PostgreSQL's work and
    the unlinks overlap). What it removed is reported to the next batch, whose transaction
    deletes those PendingFileRemoval rows; a crash before that leaves them, and the next run
    finds the files gone. A file that cannot be removed stays pending and is reported.

    With Django's own FileSystemStorage the unlinks run in a helper process (unlink.py),
    on several threads: an unlink is mostly a wait for the file system's journal, concurrent
    unlinks share its commits, and in this process each thread coming back from an unlink would
    wait for the interpreter lock, held by the batch workers' Python. Other storages (or the
    helper failing to start) use threads here, through storage.delete."""

    def __init__(self, threads: int = FILE_REMOVAL_THREADS):
        storage = recordings_storage()
        self._remove = _file_remover(storage)
        self._folder = storage.location if _plain_filesystem(storage) else None
        self._size = threads
        self._lock = threading.Lock()  # the results
        self._submit_lock = threading.Lock()  # the helper's input, starting the threads
        self._removed: list[str] = []
        self._failures: list[dict] = []
        self._helper: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._queue: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, names: list[str]) -> None:
        """Names whose records are deleted and committed (from any batch worker)."""
        with self._submit_lock:
            self._submit(names)

    def _submit(self, names: list[str]) -> None:
        if self._folder is not None:
            here = [name for name in names if not _STORAGE_NAME.fullmatch(name)]
            sent = [name for name in names if _STORAGE_NAME.fullmatch(name)] if here else names
            if sent and self._send(sent):
                names = here
        if not names:
            return
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._work, name=f"purge-file-remover-{index}", daemon=True)
                for index in range(self._size)
            ]
            for thread in self._threads:
                thread.start()
        for start in range(0, len(names), _FILE_REMOVAL_CHUNK):
            self._queue.put(names[start : start + _FILE_REMOVAL_CHUNK])

    def _send(self, names: list[str]) -> bool:
        if self._helper is None:
            try:
                self._helper = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
                    [sys.executable, "-I", _UNLINK_SCRIPT, self._folder, str(self._size)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                )
            except (OSError, ValueError) as error:
                logger.warning("purge: file removal process not started (%s); using threads", error)
                self._folder = None
                return False
            self._reader = threading.Thread(
                target=self._read, args=(self._helper.stdout,), name="purge-file-results"
            )
            self._reader.daemon = True
            self._reader.start()
        try:
            self._helper.stdin.write("\n".join(names) + "\n\n")  # an empty line: go
            self._helper.stdin.flush()
        except (OSError, ValueError) as error:
            # Names it was sent and did not answer for stay pending: the next run sees to them.
            logger.error("purge: the file removal process is gone (%s); using threads", error)
            self._folder = None
            return False
        return True

    def _read(self, answers) -> None:
        for line in answers:
            if not line.strip():
                continue
            name, _, error = line[1:].rstrip("\n").partition("\t")
            with self._lock:
                if line[0] == "+":
                    self._removed.append(name)
                else:
                    self._failures.append({"file": name, "error": error})
            if line[0] != "+":
                logger.warning("purge: could not remove %s: %s", name, error)

    def _work(self) -> None:
        remove = self._remove
        while (names := self._queue.get()) is not None:
            removed, failures = [], []
            for name in names:
                try:
                    remove(name)
                except Exception as error:  # noqa: BLE001 - reported, and the file stays pending
                    failures.append({"file": name, "error": str(error)})
                    logger.warning("purge: could not remove %s: %s", name, error)
                else:
                    removed.append(name)
            with self._lock:
                self._removed += removed
                self._failures += failures

    def take(self) -> tuple[list[str], list[dict]]:
        """The files removed, and the failures, since the last take()."""
        with self._lock:
            removed, failures = self._removed, self._failures
            self._removed, self._failures = [], []
        return removed, failures

    def give_back(self, removed: list[str], failures: list[dict]) -> None:
        """A batch that took them did not commit."""
        with self._lock:
            self._removed[:0] = removed
            self._failures[:0] = failures

    def finish(self) -> None:
        """Wait until every submitted file has been dealt with."""
        if self._helper is not None:
            try:
                self._helper.stdin.close()  # the end of its input: it finishes, then exits
            except OSError:
                pass
            self._reader.join()
            self._helper.wait()
            self._helper = None
        for _thread in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []
