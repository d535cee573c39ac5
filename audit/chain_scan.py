"""Re-hashing a range of the audit chain: the rows as the verifier reads them, one pass over
them in sequence order (stopping at the first break), and the same over parallel ranges, each in
a process of its own, with the seams between them checked. audit/verification.py drives it; the
chain's definition is audit/chain.py."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import IO, Any

import orjson
from django.db import connection

from .chain import (
    CONTENT_FIELDS,
    GENESIS_HASH,
    UNKEYED,
    content_bytes,
    link_hash,
    unkeyed_problem,
)
from .keys import audit_keys

VERIFY_SQL = f"""
SELECT sequence, previous_hash, hash, key_id,
       to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       {", ".join(CONTENT_FIELDS[1:-1])}, extra::text
  FROM audit_auditevent
 WHERE sequence > %s AND sequence <= %s
 ORDER BY sequence
"""  # nosec B608 # column names from CONTENT_FIELDS, values bound
# Where the content values start in a row of VERIFY_SQL (extra::text is the last column).
CONTENT_START = 4


def export_line(row: tuple, values: list) -> str:
    record = dict(zip(CONTENT_FIELDS, values, strict=True))
    record.update(sequence=row[0], previous_hash=row[1], hash=row[2], key_id=row[3])
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


@dataclass
class Scan:
    """What one pass over a range of the chain found."""

    checked: int = 0
    expected: int = 1  # the next sequence number due
    previous_hash: str = GENESIS_HASH  # the hash of the last event that verified
    sealed_up_to: int = 0  # unkeyed events are accepted up to this sequence (audit/chain.py)
    first_link: str | None = None  # the first event's stored previous_hash (parallel ranges)
    broken_at: int | None = None
    reason: str = ""


def _digesters() -> dict[str, Any]:
    """The content digest of each scheme by the key id stored with the event."""
    digesters: dict[str, Any] = {key_id: key.digest for key_id, key in audit_keys().items()}
    digesters[UNKEYED] = lambda content: hashlib.sha256(content).hexdigest()
    return digesters


def _fast_content(values: list, extra_text: str) -> bytes | None:
    """The canonical content serialised with orjson, which writes it as the canonical form does
    (compact, UTF-8, keys sorted) about four times faster than the standard library, except for
    some floats (1e-07 against 1e-7), integers beyond 64 bits and non-finite numbers. So a digest
    of it is only ever trusted when it matches the stored hash (a different serialisation cannot
    produce the same digest); a mismatch is decided by the canonical `content_bytes`
    (audit/chain.py)."""
    try:
        values.append(orjson.loads(extra_text))
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None


def scan_rows(rows, scan: Scan, export: IO[str] | None = None, *, trust_first_link=False) -> Scan:
    """Recompute the hashes of `rows` (from `VERIFY_SQL`) in order, stopping at the first break.
    With `trust_first_link`, the first event's stored previous_hash starts the range: the caller
    checks that seam against the range before (parallel verification)."""
    loads = json.loads
    fast = export is None
    digesters = _digesters()
    sealed_up_to = scan.sealed_up_to
    previous_hash = scan.previous_hash
    expected = scan.expected
    checked = 0
    start = CONTENT_START
    for row in rows:
        sequence = row[0]
        if sequence != expected:
            scan.broken_at = expected
            scan.reason = f"event {expected} is missing (next found: {sequence})"
            break
        if trust_first_link:
            trust_first_link = False
            scan.first_link = previous_hash = row[1]
        elif row[1] != previous_hash:
            scan.broken_at = sequence
            scan.reason = f"event {sequence} does not link to the event before it"
            break
        key_id = row[3]
        digest = digesters.get(key_id)
        if digest is None:
            scan.broken_at = sequence
            scan.reason = (
                f"event {sequence} was hashed with key id {key_id}, which is neither "
                "AUDIT_HMAC_KEY's nor in AUDIT_HMAC_PREVIOUS_KEYS"
            )
            break
        if key_id == UNKEYED and sequence > sealed_up_to:
            scan.broken_at = sequence
            scan.reason = unkeyed_problem(sequence, sealed_up_to)
            break
        extra_text = row[-1]
        if fast:
            content = _fast_content(list(row[start:-1]), extra_text)
            if (
                content is not None
                and link_hash(sequence, previous_hash, digest(content)) == row[2]
            ):
                previous_hash = row[2]
                expected += 1
                checked += 1
                continue
        values = [*row[start:-1], {} if extra_text == "{}" else loads(extra_text)]
        if link_hash(sequence, previous_hash, digest(content_bytes(values))) != row[2]:
            scan.broken_at = sequence
            scan.reason = f"event {sequence} was changed after it was recorded"
            break
        if export is not None:
            export.write(export_line(row, values))
        previous_hash = row[2]
        expected += 1
        checked += 1
    scan.checked += checked
    scan.expected = expected
    scan.previous_hash = previous_hash
    return scan


# Parallel verification: below this many events one process is as fast as several.
PARALLEL_MIN_EVENTS = 200_000
PARALLEL_RANGE_MIN_EVENTS = 50_000
_RANGES_PER_WORKER = 4


def _scan_range_in_process(
    connection_parameters: dict, low: int, high: int, sealed_up_to: int
) -> Scan:
    """Verify events low+1..high on a connection of this (forked) process's own. The parent's
    inherited connection is never used or closed here."""
    import psycopg

    with psycopg.connect(**connection_parameters) as own:
        with own.cursor(name="audit_chain_verify_range") as cursor:
            cursor.itersize = 20_000
            cursor.execute(VERIFY_SQL, [low, high])
            scan = Scan(expected=low + 1, sealed_up_to=sealed_up_to)
            return scan_rows(cursor, scan, trust_first_link=True)


def _plain_connection_parameters() -> dict:
    """The default database's psycopg.connect() arguments that can cross to another process."""
    connection.ensure_connection()
    parameters = connection.get_connection_params()
    return {
        name: value
        for name, value in parameters.items()
        if isinstance(value, str | int | float | bool) or value is None
    }


def parallel_workers_available() -> int:
    """How many processes verification may fork: none inside a daemonic process (a Celery
    prefork worker's child may not have children of its own)."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 1
    return max(os.cpu_count() or 1, 1)


def scan_parallel(scan: Scan, head_sequence: int, workers: int) -> Scan:
    """Verify (scan.expected - 1, head_sequence] in ranges, each in a process of its own, then
    check the seams between them in order. Each event stores its previous hash, so a range
    verifies on its own; the seam check (a range's first stored previous_hash against the hash
    the range before it ended with) makes the whole the same chain a single pass would check."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    low, total = scan.expected - 1, head_sequence - (scan.expected - 1)
    count = min(workers * _RANGES_PER_WORKER, max(total // PARALLEL_RANGE_MIN_EVENTS, 1))
    bounds = [low + total * index // count for index in range(count + 1)]
    parameters = _plain_connection_parameters()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [
            pool.submit(
                _scan_range_in_process, parameters, bounds[i], bounds[i + 1], scan.sealed_up_to
            )
            for i in range(count)
        ]
        try:
            for index, future in enumerate(futures):
                part = future.result()
                if part.first_link is not None and part.first_link != scan.previous_hash:
                    scan.broken_at = scan.expected
                    scan.reason = f"event {scan.expected} does not link to the event before it"
                    return scan
                scan.checked += part.checked
                if part.broken_at is None and part.expected != bounds[index + 1] + 1:
                    part.broken_at = part.expected  # the range's rows ended early
                    part.reason = f"event {part.expected} is missing"
                scan.expected, scan.previous_hash = part.expected, part.previous_hash
                if part.broken_at is not None:
                    scan.broken_at, scan.reason = part.broken_at, part.reason
                    return scan
        finally:
            for future in futures:
                future.cancel()
    return scan
