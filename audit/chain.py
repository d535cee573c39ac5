#!/usr/bin/env python3
"""The audit chain's hashes and signatures, and an offline verifier for exports. Standard library
only.

This file is the documented, canonical definition of the chain. It is imported by the portal and
also runs on its own, away from the database, on a file written by
`manage.py verify_audit_chain --export FILE`:

    python3 audit/chain.py EXPORT.jsonl --hmac-key KEY [--hmac-key PREVIOUS_KEY ...]

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

Hash schemes, recorded per event by its key id:

    scheme 1 (key_id "", events written before keys):  content_digest = SHA-256(content)
    scheme 2 (key_id of the key):                      content_digest = HMAC-SHA256(key, content)

    hash = sha256(f"{sequence}|{previous_hash}|{content_digest}".encode("ascii")).hexdigest()

    key_id(key) = sha256(b"custodia-audit-key-id|" + key.encode("utf-8")).hexdigest()[:16]

The first event has sequence 1 and previous_hash GENESIS_HASH (64 zeros). Each later event's
previous_hash is the hash of the event before it, so a changed, removed or reordered event breaks
every hash after it; the first broken sequence number is where the tampering happened. The
content digest of a keyed event is never stored: without AUDIT_HMAC_KEY (which is not in the
database) nobody can compute a valid hash for changed content, however they rewrite the chain.

Checkpoints are numbered from 1 with no gap; each is signed with a key (its key id is stored) over
checkpoint_message(), which includes the previous checkpoint's signature, so checkpoints form a
signed chain of their own. Rules a verifier applies (`checkpoint_chain_problem` and
`verify_export_lines`):
- a missing number, a broken link to the previous checkpoint, a signature that does not verify,
  or a sequence lower than an earlier checkpoint's is refused;
- each checkpoint's hash is the stored hash of the event at its sequence (GENESIS_HASH at 0), and
  the chain's head is at or after the last checkpoint: a head that moved backwards is refused;
- checkpoint 1 may be the *seal* (kind "seal"), written when the keyed scheme was introduced on a
  chain that already had scheme-1 events: it vouches for them up to its sequence. A scheme-1
  event after the seal (or any scheme-1 event, without a valid seal) is refused, so an attacker
  cannot rewrite keyed events as scheme 1 (downgrade).

An export is JSON Lines: one header line {"custodia_audit_export": 2, "first_sequence": 1,
"previous_hash": GENESIS_HASH, "checkpoints": [every checkpoint stored before the export]}, one
line per event (the content fields plus sequence, previous_hash, hash and key_id), and a last line
{"checkpoint": {...}}: the checkpoint the export's own verification stored. Exports of version 1
(before keys: no key_id, one unchained checkpoint) still verify.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
# The key id of scheme-1 (unkeyed) events.
UNKEYED = ""
SEAL = "seal"
CHECKPOINT_KINDS = (SEAL, "verified", "rotation")

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
CHECKPOINT_FIELDS = (
    "number",
    "kind",
    "sequence",
    "hash",
    "created_at",
    "key_id",
    "previous_signature",
    "signature",
)

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_sha256 = hashlib.sha256
_SHA256_BLOCK = 64


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_id_of(key: str) -> str:
    """A key's public name, stored next to what it hashed or signed so that old keys can still
    verify after a rotation. It reveals nothing usable of a random key."""
    return _sha256(b"custodia-audit-key-id|" + key.encode("utf-8")).hexdigest()[:16]


def keyed_digester(key: str) -> Callable[[bytes], str]:
    """HMAC-SHA256 under `key` (RFC 2104), hex, with the key's padded blocks hashed once: each
    message then costs two SHA-256 copies, half of what `hmac.new` or a copy of an `hmac` object
    cost per message. Verification computes one per event; the result is the `hmac` module's,
    byte for byte (tests/recordings/test_purge.py checks it)."""
    material = key.encode("utf-8")
    if len(material) > _SHA256_BLOCK:
        material = _sha256(material).digest()
    material = material.ljust(_SHA256_BLOCK, b"\0")
    inner = _sha256(bytes(byte ^ 0x36 for byte in material)).copy
    outer = _sha256(bytes(byte ^ 0x5C for byte in material)).copy

    def digest(message: bytes) -> str:
        inside = inner()
        inside.update(message)
        outside = outer()
        outside.update(inside.digest())
        return outside.hexdigest()

    return digest


def content_bytes(values: list | tuple) -> bytes:
    """The canonical serialisation of the content fields, given in CONTENT_FIELDS order with
    occurred_at already formatted by `format_instant`."""
    return _dumps(values).encode("utf-8")


def content_hash(values: list | tuple) -> str:
    """Scheme 1: SHA-256 of the canonical content."""
    return _sha256(content_bytes(values)).hexdigest()


def content_digest(values: list | tuple, key: str | None) -> str:
    """Scheme 2 with a key (HMAC-SHA256 of the canonical content), scheme 1 without."""
    if key is None:
        return content_hash(values)
    return hmac.new(key.encode("utf-8"), content_bytes(values), hashlib.sha256).hexdigest()


def link_hash(sequence: int, previous_hash: str, content_digest: str) -> str:
    return _sha256(f"{sequence}|{previous_hash}|{content_digest}".encode("ascii")).hexdigest()


def checkpoint_message(
    *,
    number: int,
    kind: str,
    sequence: int,
    chain_hash: str,
    created_at: str,
    key_id: str,
    previous_signature: str,
) -> bytes:
    return (
        f"custodia-audit-checkpoint|2|{number}|{kind}|{sequence}|{chain_hash}|{created_at}|"
        f"{key_id}|{previous_signature}"
    ).encode("ascii")


def sign_checkpoint(key: str, **fields) -> str:
    """HMAC-SHA256(key, checkpoint_message(**fields))."""
    return hmac.new(key.encode("utf-8"), checkpoint_message(**fields), hashlib.sha256).hexdigest()


def legacy_checkpoint_signature(key: str, sequence: int, chain_hash: str, created_at: str) -> str:
    """The signature of a checkpoint written before checkpoints were numbered (export version 1,
    and the audit migration that replaces such checkpoints by the seal)."""
    message = f"custodia-audit-checkpoint|{sequence}|{chain_hash}|{created_at}".encode("ascii")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def checkpoint_signature_problem(checkpoint: Mapping, keys: Mapping[str, str]) -> str | None:
    key = keys.get(checkpoint["key_id"])
    if key is None:
        return (
            f"checkpoint {checkpoint['number']} is signed with key id {checkpoint['key_id']}, "
            "which is not among the keys given"
        )
    expected = sign_checkpoint(
        key,
        number=checkpoint["number"],
        kind=checkpoint["kind"],
        sequence=checkpoint["sequence"],
        chain_hash=checkpoint["hash"],
        created_at=checkpoint["created_at"],
        key_id=checkpoint["key_id"],
        previous_signature=checkpoint["previous_signature"],
    )
    if not hmac.compare_digest(expected, checkpoint["signature"]):
        return f"checkpoint {checkpoint['number']}'s signature does not verify"
    return None


def checkpoint_chain_problem(
    checkpoints: Sequence[Mapping], keys: Mapping[str, str]
) -> tuple[int, str] | None:
    """The first problem of checkpoints given in number order, as (the sequence from which the
    chain is no longer vouched for, reason), or None. See the rules in the module docstring."""
    previous = None
    for checkpoint in checkpoints:
        number = checkpoint["number"]
        expected_number = 1 if previous is None else previous["number"] + 1
        vouched = 1 if previous is None else previous["sequence"] + 1
        if number != expected_number:
            missing = (
                f"{expected_number}"
                if number == expected_number + 1
                else f"{expected_number} to {number - 1}"
            )
            return vouched, f"checkpoint {missing} missing: signed checkpoints were removed"
        problem = checkpoint_signature_problem(checkpoint, keys)
        if problem:
            return vouched, problem
        if checkpoint["kind"] == SEAL and number != 1:
            return vouched, f"checkpoint {number} is a seal, which only checkpoint 1 may be"
        if previous is not None:
            if checkpoint["previous_signature"] != previous["signature"]:
                return vouched, f"checkpoint {number} does not link to checkpoint {number - 1}"
            if checkpoint["sequence"] < previous["sequence"]:
                return checkpoint["sequence"] + 1, (
                    f"checkpoint {number} is at event {checkpoint['sequence']}, before checkpoint "
                    f"{number - 1} at {previous['sequence']}: the chain moved backwards"
                )
        elif checkpoint["previous_signature"] != "":
            return vouched, "checkpoint 1 links to an earlier checkpoint: checkpoints were removed"
        previous = checkpoint
    return None


def seal_sequence(checkpoints: Sequence[Mapping]) -> int:
    """Up to which sequence scheme-1 events are accepted: the seal's, when checkpoint 1 is one
    (its signature is checked by `checkpoint_chain_problem`), else none."""
    if checkpoints and checkpoints[0]["number"] == 1 and checkpoints[0]["kind"] == SEAL:
        return checkpoints[0]["sequence"]
    return 0


def unkeyed_problem(sequence: int, sealed_up_to: int) -> str:
    return (
        f"event {sequence} is unkeyed (scheme 1) but only events up to {sealed_up_to} may be: "
        "it was rewritten without the key"
    )


class KeyRequired(Exception):
    """The export cannot be verified without a key that was not given."""


class ExportInvalid(Exception):
    def __init__(self, message: str, sequence: int | None = None):
        super().__init__(message)
        self.sequence = sequence


def verify_export_lines(lines: Iterable[str], hmac_keys: Sequence[str] = ()) -> tuple[int, int]:
    """Verify an export with the keys given (the current AUDIT_HMAC_KEY and any previous ones);
    returns (events checked, last sequence). Raises ExportInvalid naming the first broken
    sequence number."""
    if isinstance(hmac_keys, str):
        hmac_keys = [hmac_keys]
    keys = {key_id_of(key): key for key in hmac_keys}
    lines = iter(lines)
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError) as error:
        raise ExportInvalid("not a Custodia audit export: no header line") from error
    version = header.get("custodia_audit_export")
    if version == 1:
        return _verify_version_1(header, lines, next(iter(hmac_keys), None))
    if version != 2:
        raise ExportInvalid("not a Custodia audit export (unknown header)")
    if not keys:
        raise KeyRequired("a keyed export verifies only with its keys: give --hmac-key")
    checkpoints = header["checkpoints"]
    problem = checkpoint_chain_problem(checkpoints, keys)
    if problem:
        raise ExportInvalid(problem[1], problem[0])
    vouched = {checkpoint["sequence"]: checkpoint for checkpoint in checkpoints}
    if 0 in vouched and vouched[0]["hash"] != GENESIS_HASH:
        raise ExportInvalid("checkpoint at event 0 does not name the genesis hash", 1)
    sealed_up_to = seal_sequence(checkpoints)
    digesters = {key_id: keyed_digester(key) for key_id, key in keys.items()}
    if int(header["first_sequence"]) != 1 or header["previous_hash"] != GENESIS_HASH:
        raise ExportInvalid("the export does not start at the first event", 1)

    def digest(record: dict, content: bytes) -> str:
        sequence, key_id = record["sequence"], record["key_id"]
        if key_id == UNKEYED:
            if sequence > sealed_up_to:
                raise ExportInvalid(unkeyed_problem(sequence, sealed_up_to), sequence)
            return _sha256(content).hexdigest()
        if key_id in digesters:
            return digesters[key_id](content)
        raise KeyRequired(
            f"sequence {sequence} is keyed with key id {key_id}: give its key with --hmac-key"
        )

    def vouched_for(record: dict) -> None:
        checkpoint = vouched.get(record["sequence"])
        if checkpoint is not None and checkpoint["hash"] != record["hash"]:
            raise ExportInvalid(
                f"checkpoint {checkpoint['number']} vouched for another event {record['sequence']}",
                record["sequence"],
            )

    final, checked, last_sequence = _walk_events(header, lines, digest, vouched_for)
    problem = checkpoint_chain_problem([*checkpoints, final], keys)
    if problem:
        raise ExportInvalid(problem[1], problem[0])
    return checked, last_sequence


def _verify_version_1(header: dict, lines: Iterable[str], hmac_key: str | None) -> tuple[int, int]:
    """An export written before keys: scheme-1 events and one unchained checkpoint."""
    checkpoint, checked, last_sequence = _walk_events(
        header, lines, lambda record, content: _sha256(content).hexdigest()
    )
    if hmac_key is not None:
        expected = legacy_checkpoint_signature(
            hmac_key, checkpoint["sequence"], checkpoint["hash"], checkpoint["created_at"]
        )
        if not hmac.compare_digest(expected, checkpoint["signature"]):
            raise ExportInvalid("the checkpoint's signature is not valid for this key")
    return checked, last_sequence


def _walk_events(
    header: dict,
    lines: Iterable[str],
    digest: Callable[[dict, bytes], str],
    check: Callable[[dict], None] | None = None,
) -> tuple[dict, int, int]:
    """Re-hash the export's event lines in order, each content digested by `digest` (its scheme),
    up to the closing checkpoint line, which must name the last event. Returns (that checkpoint,
    events checked, last sequence). `check` sees each event once its hash is verified."""
    expected_sequence = int(header["first_sequence"])
    previous_hash = header["previous_hash"]
    checked = 0
    final = None
    for raw in lines:
        if not raw.strip():
            continue
        record = json.loads(raw)
        if "checkpoint" in record:
            final = record["checkpoint"]
            break
        sequence = record["sequence"]
        if sequence != expected_sequence:
            raise ExportInvalid(
                f"expected sequence {expected_sequence}, found {sequence}", expected_sequence
            )
        if record["previous_hash"] != previous_hash:
            raise ExportInvalid(f"sequence {sequence}: previous hash does not link", sequence)
        content = content_bytes([record[name] for name in CONTENT_FIELDS])
        if link_hash(sequence, previous_hash, digest(record, content)) != record["hash"]:
            raise ExportInvalid(f"sequence {sequence}: content does not match its hash", sequence)
        if check is not None:
            check(record)
        previous_hash = record["hash"]
        expected_sequence += 1
        checked += 1
    last_sequence = expected_sequence - 1
    if final is None:
        raise ExportInvalid("the export has no checkpoint line: it may have been cut short")
    if final["sequence"] != last_sequence or final["hash"] != previous_hash:
        raise ExportInvalid(
            f"the checkpoint names sequence {final['sequence']}, the export ends at "
            f"{last_sequence}",
            last_sequence + 1,
        )
    return final, checked, last_sequence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Custodia audit export offline.")
    parser.add_argument("export", help="file written by manage.py verify_audit_chain --export")
    parser.add_argument(
        "--hmac-key",
        action="append",
        default=[],
        help="AUDIT_HMAC_KEY; repeat it for each of AUDIT_HMAC_PREVIOUS_KEYS still in use",
    )
    arguments = parser.parse_args(argv)
    try:
        with open(arguments.export, encoding="utf-8") as export:
            checked, last = verify_export_lines(export, arguments.hmac_key)
    except ExportInvalid as error:
        print(f"BROKEN: {error}", file=sys.stderr)
        return 1
    except KeyRequired as error:
        print(f"cannot verify: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot read the export: {error}", file=sys.stderr)
        return 2
    signed = "signature verified" if arguments.hmac_key else "signature not checked (no key)"
    print(f"OK: {checked} events verified up to sequence {last}; {signed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
