"""Anchors: each checkpoint's number, sequence and head hash, kept where a database administrator
cannot change them: the application log (logger "audit.anchors", shipped with the other logs)
and an append-only file (AUDIT_ANCHOR_PATH; a directory gets an `audit-anchors.jsonl` inside).

An anchor kept elsewhere is checked with `manage.py verify_audit_chain --against SEQUENCE:HASH`:
a chain rewritten or cut back with database access no longer holds that hash at that sequence.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("audit.anchors")

ANCHOR_FILE_NAME = "audit-anchors.jsonl"


def anchor_file() -> Path:
    path = Path(settings.AUDIT_ANCHOR_PATH)
    return path / ANCHOR_FILE_NAME if path.is_dir() else path


def anchor_write(checkpoint: Mapping) -> None:
    """Log the checkpoint and append it as one JSON line, synced to disk before returning: the
    checkpoint's transaction fails with it rather than leave a checkpoint without its anchor."""
    line = json.dumps(
        {
            "checkpoint": checkpoint["number"],
            "kind": checkpoint["kind"],
            "sequence": checkpoint["sequence"],
            "hash": checkpoint["hash"],
            "created_at": checkpoint["created_at"],
            "key_id": checkpoint["key_id"],
            "anchor": f"{checkpoint['sequence']}:{checkpoint['hash']}",
        },
        sort_keys=True,
    )
    logger.info("audit chain anchor %s", line)
    path = anchor_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (line + "\n").encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
