#!/usr/bin/env python3
"""The audit chain's hash, and an offline verifier for exports. Standard library only.

This file is the documented, canonical definition of the chain. It is imported by the portal and
also runs on its own, away from the database, on a file written by
`manage.py verify_audit_chain --export FILE`:

    python3 audit/chain.py EXPORT.jsonl [--hmac-key KEY]

Canonical serialisation of one event (the *content*): a JSON array of the fields below, in this
order, serialised with `json.dumps(..., ensure_ascii=False, sort_keys=True, separators=(",", ":"))`
and encoded as UTF-8:

    occurred_at      ISO 8601 in UTC with microseconds and a Z: 2026-11-28T16:39:29.123456Z
    tenant_id        integer or null
    actor_id         integer or null
    actor_username   string ("" when none)
    action           dotted name, e.g. recording.played
    outcome          "allowed" or "denied"
    target_type      string
    target_id        string
    target_label     string
    purpose          string
    justification    string
    client_ip        string (normalised by Python's ipaddress, "" when unknown)
    user_agent       string
    workstation_id   string
    request_id       string
    extra            JSON object (keys sorted by the serialisation)

    content_hash = sha256(content).hexdigest()
    hash         = sha256(f"{sequence}|{previous_hash}|{content_hash}".encode("ascii")).hexdigest()

The first event has sequence 1 and previous_hash GENESIS_HASH (64 zeros). Each later event's
previous_hash is the hash of the event before it, so a changed, removed or reordered event breaks
every hash after it; the first broken sequence number is where the tampering happened.

An export is JSON Lines: one header line {"custodia_audit_export": 1, "first_sequence": N,
"previous_hash": H}, one line per event (the content fields plus sequence, previous_hash and hash),
and a last line {"checkpoint": {"sequence", "hash", "created_at", "signature"}} whose signature is
HMAC-SHA256(AUDIT_HMAC_KEY, checkpoint_message(...)).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64

CONTENT_FIELDS = (
    "occurred_at",
    "tenant_id",
    "actor_id",
    "actor_username",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "target_label",
    "purpose",
    "justification",
    "client_ip",
    "user_agent",
    "workstation_id",
    "request_id",
    "extra",
)

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_sha256 = hashlib.sha256


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_hash(values: list | tuple) -> str:
    """SHA-256 of the canonical serialisation of the content fields, given in CONTENT_FIELDS order
    with occurred_at already formatted by `format_instant`."""
    return _sha256(_dumps(values).encode("utf-8")).hexdigest()


def link_hash(sequence: int, previous_hash: str, content_digest: str) -> str:
    return _sha256(f"{sequence}|{previous_hash}|{content_digest}".encode("ascii")).hexdigest()


def checkpoint_message(sequence: int, chain_hash: str, created_at: str) -> bytes:
    return f"custodia-audit-checkpoint|{sequence}|{chain_hash}|{created_at}".encode("ascii")


def sign_checkpoint(key: str, sequence: int, chain_hash: str, created_at: str) -> str:
    message = checkpoint_message(sequence, chain_hash, created_at)
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


class ExportInvalid(Exception):
    def __init__(self, message: str, sequence: int | None = None):
        super().__init__(message)
        self.sequence = sequence


def verify_export_lines(lines, hmac_key: str | None = None) -> tuple[int, int]:
    """Verify an export; returns (events checked, last sequence). Raises ExportInvalid naming the
    first broken sequence number."""
    lines = iter(lines)
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError) as error:
        raise ExportInvalid("not a Custodia audit export: no header line") from error
    if header.get("custodia_audit_export") != 1:
        raise ExportInvalid("not a Custodia audit export (unknown header)")
    expected_sequence = int(header["first_sequence"])
    previous_hash = header["previous_hash"]
    checked = 0
    checkpoint = None
    for raw in lines:
        if not raw.strip():
            continue
        record = json.loads(raw)
        if "checkpoint" in record:
            checkpoint = record["checkpoint"]
            break
        sequence = record["sequence"]
        if sequence != expected_sequence:
            raise ExportInvalid(
                f"expected sequence {expected_sequence}, found {sequence}", expected_sequence
            )
        if record["previous_hash"] != previous_hash:
            raise ExportInvalid(f"sequence {sequence}: previous hash does not link", sequence)
        digest = content_hash([record[name] for name in CONTENT_FIELDS])
        if link_hash(sequence, previous_hash, digest) != record["hash"]:
            raise ExportInvalid(f"sequence {sequence}: content does not match its hash", sequence)
        previous_hash = record["hash"]
        expected_sequence += 1
        checked += 1
    last_sequence = expected_sequence - 1
    if checkpoint is None:
        raise ExportInvalid("the export has no checkpoint line: it may have been cut short")
    if checkpoint["sequence"] != last_sequence or checkpoint["hash"] != previous_hash:
        raise ExportInvalid(
            f"the checkpoint names sequence {checkpoint['sequence']}, the export ends at "
            f"{last_sequence}",
            last_sequence + 1,
        )
    if hmac_key is not None:
        expected = sign_checkpoint(
            hmac_key, checkpoint["sequence"], checkpoint["hash"], checkpoint["created_at"]
        )
        if not hmac.compare_digest(expected, checkpoint["signature"]):
            raise ExportInvalid("the checkpoint's signature is not valid for this key")
    return checked, last_sequence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Custodia audit export offline.")
    parser.add_argument("export", help="file written by manage.py verify_audit_chain --export")
    parser.add_argument("--hmac-key", help="AUDIT_HMAC_KEY, to check the checkpoint's signature")
    arguments = parser.parse_args(argv)
    try:
        with open(arguments.export, encoding="utf-8") as export:
            checked, last = verify_export_lines(export, arguments.hmac_key)
    except ExportInvalid as error:
        print(f"BROKEN: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as error:
        print(f"cannot read the export: {error}", file=sys.stderr)
        return 2
    signed = "signature verified" if arguments.hmac_key else "signature not checked (no key)"
    print(f"OK: {checked} events verified up to sequence {last}; {signed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
