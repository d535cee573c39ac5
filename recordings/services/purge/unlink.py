"""Removes the purge's files in a process of its own: `python unlink.py FOLDER THREADS`.

Standard library only, no Django and no database: FileRemover (files.py) starts it with
the recordings folder and sends the storage names of committed deletions, one per line on
standard input, an empty line closing each submission. It unlinks FOLDER/NAME, and the
recording's copy for listening beside it if there is one, on a few threads, and answers one line
per name on standard output: `+NAME` removed (or already gone), or `-NAME<TAB>error` not removed
(its PendingFileRemoval row stays, the purge reports it). At the end of its input (the purge is
done, or was killed) it finishes what it was sent and exits.

Why a process: an unlink is mostly a wait for the file system, and in the purge's process every
thread that comes back from one waits for the interpreter lock, which the batch workers hold
while they sign certificates and hash audit events (measured: ten times slower unlinks).
"""

from __future__ import annotations

import os
import queue
import re
import sys
import threading

# As recordings.storage.new_storage_name makes them: nothing else is joined to the folder.
STORAGE_NAME = re.compile(r"[0-9]+/[0-9]{4}/[0-9]{2}/[0-9a-f]{32}\.cstd")
# recordings.storage.LISTENING_COPY_SUFFIX: a recording's copy for listening, beside its file.
LISTENING_COPY_SUFFIX = ".listening.cstd"
CHUNK = 100


def listening_copy_of(name: str) -> str:
    """The name of the copy for listening of the recording stored as `name` (storage.py's
    listening_copy_name, repeated here: this script imports nothing of Django)."""
    return name.removesuffix(".cstd") + LISTENING_COPY_SUFFIX


def main(folder: str, threads: int) -> int:
    todo: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
    output = threading.Lock()
    writable = [True]

    def answer(lines: list[str]) -> None:
        with output:
            if not writable[0]:
                return
            try:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                writable[0] = False  # the purge is gone; finish the unlinks all the same

    def work() -> None:
        while (names := todo.get()) is not None:
            lines = []
            for name in names:
                if not STORAGE_NAME.fullmatch(name):
                    lines.append(f"-{name}\tnot a storage name")
                    continue
                try:
                    # The copy first: while the recording's file remains, its removal is pending.
                    for path in (listening_copy_of(name), name):
                        try:
                            os.unlink(f"{folder}/{path}")
                        except FileNotFoundError:
                            pass
                except OSError as error:
                    lines.append(f"-{name}\t{error}")
                    continue
                lines.append(f"+{name}")
            answer(lines)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    chunk: list[str] = []
    for line in sys.stdin:
        name = line.rstrip("\n")
        if name:
            chunk.append(name)
        if chunk and (not name or len(chunk) >= CHUNK):
            todo.put(chunk)
            chunk = []
    if chunk:
        todo.put(chunk)
    for _worker in workers:
        todo.put(None)
    for worker in workers:
        worker.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
