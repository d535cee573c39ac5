"""Recording and verifying audit events. Everything that writes to the trail goes through here.

Naming: a function whose job is to record that something happened, and nothing else, is named
`<entity>_<event>_record` in every app (`event_record` itself, `customer_number_search_record`,
`recording_play_record`, `consent_view_record`, `recording_ingest_refusal_record`), so that it
does not read like a check; a business operation that also writes its event stays
`<entity>_<verb>` (`legal_hold_place`, `consent_record`)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from kit import sql

from .anchors import anchor_file, anchor_write
from .chain import (
    CHECKPOINT_FIELDS,
    CONTENT_FIELDS,
    GENESIS_HASH,
    UNKEYED,
    checkpoint_chain_problem,
    content_bytes,
    format_instant,
    link_hash,
    seal_sequence,
    sign_checkpoint,
    unkeyed_problem,
)
from .context import AuditContext, current_context
from .keys import MissingAuditKey, audit_keys, current_audit_key, keyed_records
from .models import AuditEvent, Checkpoint, CheckpointKind, Outcome
from .pseudonyms import customer_number_target

_LIMITS = {
    "actor_username": 150,
    "action": 80,
    "target_type": 60,
    "target_id": 64,
    "target_label": 200,
    "purpose": 60,
    "user_agent": 512,
    "workstation_id": 128,
    "request_id": 64,
    "client_ip": 45,
}


class AuditChainError(RuntimeError):
    pass


@dataclass
class Event:
    """One event to append. Actor and request fields default to the current audit context."""

    action: str
    tenant_id: int | None = None
    target_type: str = ""
    target_id: str = ""
    target_label: str = ""
    purpose: str = ""
    justification: str = ""
    outcome: str = Outcome.ALLOWED
    extra: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    context: AuditContext | None = None


@dataclass(frozen=True)
class RecordedEvent:
    sequence: int
    hash: str


def home_tenant_id(user) -> int | None:
    """The user's tenant when they belong to exactly one, so that the reviewers of that tenant
    see events (sign-ins, exports) that are not about one tenant's object."""
    if user is None or user.pk is None:
        return None
    tenant_ids = list(user.memberships.values_list("tenant_id", flat=True)[:2])
    return tenant_ids[0] if len(tenant_ids) == 1 else None


def describe_target(instance) -> tuple[str, str, str]:
    """(target_type, target_id, target_label) of a model instance, e.g. ("recordings.recording",
    "42", "call 7f3a…")."""
    meta = instance._meta
    return meta.label_lower, str(instance.pk), str(instance)[:200]


# One encoder for every event (json.dumps(cls=...) would build one per call).
_extra_dumps = DjangoJSONEncoder(sort_keys=True).encode
_loads = json.loads
_sha256 = hashlib.sha256


def _jsonb_number(value: float) -> float | int:
    """A float as PostgreSQL's jsonb gives it back: its numbers are decimals, so an exponent
    (1e+16, which Python writes for integral floats from 1e16 up) comes back as the integer's
    digits, and -0.0 as 0.0."""
    if value == 0:
        return 0.0
    text = repr(value)
    if "e+" in text:
        return int(Decimal(text))
    return value


def _jsonb_normalise(value: Any) -> Any:
    if isinstance(value, float):
        return _jsonb_number(value)
    if isinstance(value, dict):
        return {key: _jsonb_normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonb_normalise(item) for item in value]
    return value


def _as_jsonb_returns(extra_text: str) -> Any:
    """The extra data as `extra::text` will read it back from jsonb, for hashing. Only numbers
    written with an exponent or a negative zero differ, which the text shows."""
    value = _loads(extra_text)
    if "e+" in extra_text or "-0.0" in extra_text:
        value = _jsonb_normalise(value)
    return value


def _content(event: Event, occurred_at: datetime, instant: str | None = None) -> tuple[list, str]:
    """The canonical content values of an event, and its extra data as stored (JSON text).
    `instant` is `occurred_at` already formatted, when the caller formats one time for many."""
    context = event.context or current_context()
    extra_text = _extra_dumps(event.extra) if event.extra else "{}"
    values = {
        "occurred_at": instant or format_instant(occurred_at),
        "tenant_id": event.tenant_id,
        "actor_id": context.actor_id,
        "actor_username": context.actor_username,
        "action": event.action,
        "outcome": str(event.outcome),
        "target_type": event.target_type,
        "target_id": str(event.target_id),
        "target_label": event.target_label,
        "purpose": event.purpose,
        "justification": event.justification,
        "client_ip": context.client_ip,
        "user_agent": context.user_agent,
        "workstation_id": context.workstation_id,
        "request_id": context.request_id,
        # Round-tripped through JSON so that what is hashed is exactly what jsonb gives back.
        "extra": _as_jsonb_returns(extra_text) if event.extra else {},
    }
    for name, limit in _LIMITS.items():
        values[name] = values[name][:limit]
    return [values[name] for name in CONTENT_FIELDS], extra_text


_COLUMNS = ", ".join(CONTENT_FIELDS)
_PLACEHOLDERS = ", ".join("%s::jsonb" if name == "extra" else "%s" for name in CONTENT_FIELDS)

# One round trip: the UPDATE takes the chain head's row lock (held until the caller's transaction
# ends, so concurrent appends queue behind it and the chain never forks; in READ COMMITTED the
# UPDATE re-reads the head's latest committed version after waiting), advances it, and the INSERT
# stores the event with the head's new values. PostgreSQL computes the same link hash as
# audit/chain.py::link_hash from the content digest, an HMAC computed here: the key never reaches
# PostgreSQL (nor its statement log), and the digest is stored nowhere.
_APPEND_SQL = f"""
WITH head AS (
    UPDATE audit_chainhead
       SET sequence = sequence + 1,
           previous_hash = hash,
           hash = encode(sha256(convert_to(
               (sequence + 1)::text || '|' || hash || '|' || %s, 'UTF8')), 'hex')
     WHERE id = 1
 RETURNING sequence, previous_hash, hash
)
INSERT INTO audit_auditevent (sequence, previous_hash, hash, key_id, {_COLUMNS})
SELECT head.sequence, head.previous_hash, head.hash, %s, {_PLACEHOLDERS} FROM head
RETURNING sequence, hash
"""  # nosec B608 # column names from CONTENT_FIELDS, values bound


def event_record(
    *,
    action: str,
    tenant: Any = None,
    target: Any = None,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    purpose: str = "",
    justification: str = "",
    outcome: str = Outcome.ALLOWED,
    extra: dict[str, Any] | None = None,
    context: AuditContext | None = None,
) -> RecordedEvent:
    """Append one event inside the caller's transaction: if the caller's work rolls back, so does
    the event, and if the event cannot be recorded the caller's work fails with it."""
    if target is not None:
        target_type, target_id, target_label = describe_target(target)
    event = Event(
        action=action,
        tenant_id=getattr(tenant, "pk", tenant),
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label,
        purpose=purpose,
        justification=justification,
        outcome=outcome,
        extra=extra or {},
        context=context,
    )
    occurred_at = timezone.now()
    values, extra_text = _content(event, occurred_at)
    key = current_audit_key()
    digest = key.digest(content_bytes(values))
    parameters = [digest, key.key_id, occurred_at, *values[1:-1], extra_text]
    with sql.prepared_cursor() as cursor:
        cursor.execute(_APPEND_SQL, parameters)
        row = cursor.fetchone()
    if row is None:
        raise AuditChainError("the audit chain head is missing: run migrations")
    return RecordedEvent(sequence=row[0], hash=row[1])


@transaction.atomic
def customer_number_search_record(
    *, action: str, user: Any, number: str, tenant_ids: Sequence[int]
) -> None:
    """Something was searched for a customer's number (E.164): the answer tells what concerns
    that person, personal data access (docs/architecture.md, invariant 4). The trail keeps the
    number masked and as a keyed hash (audit.pseudonyms), so that "who searched for this
    number?" can be answered without the append-only trail holding the number. One event per
    tenant searched, so that each tenant's own trail shows it (a platform operator's search spans
    several); no count of the matches (the caller's list is read after this, and counted
    capped)."""
    target = customer_number_target(number)
    for tenant_id in sorted(set(tenant_ids)):
        event_record(
            action=action,
            tenant=tenant_id,
            extra={"user": user.get_username(), "search": "customer_number"},
            **target,
        )


@transaction.atomic
def events_record_bulk(events: Sequence[Event]) -> list[RecordedEvent]:
    """Append many events at once (the purge): one lock, hashes computed here, one COPY."""
    if not events:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence, hash FROM audit_chainhead WHERE id = 1 FOR UPDATE")
        head = cursor.fetchone()
    if head is None:
        raise AuditChainError("the audit chain head is missing: run migrations")
    sequence, previous_hash = head
    now = timezone.now()
    now_instant = format_instant(now)
    recorded: list[RecordedEvent] = []
    key = current_audit_key()
    digest, key_id = key.digest, key.key_id
    connection.ensure_connection()
    copy_sql = (
        f"COPY audit_auditevent (sequence, previous_hash, hash, key_id, {_COLUMNS}) FROM STDIN"
    )
    with connection.connection.cursor() as cursor:
        # Each row goes to the COPY as soon as it is hashed, so that PostgreSQL inserts and
        # indexes on one core while Python hashes the next rows on the other.
        with cursor.copy(copy_sql) as copy:
            for event in events:
                sequence += 1
                if event.occurred_at is None:
                    values, extra_text = _content(event, now, now_instant)
                    occurred_at = now
                else:
                    occurred_at = event.occurred_at
                    values, extra_text = _content(event, occurred_at)
                chain_hash = link_hash(sequence, previous_hash, digest(content_bytes(values)))
                copy.write_row(
                    (
                        sequence,
                        previous_hash,
                        chain_hash,
                        key_id,
                        occurred_at,
                        *values[1:-1],
                        extra_text,
                    )
                )
                recorded.append(RecordedEvent(sequence=sequence, hash=chain_hash))
                last_previous, previous_hash = previous_hash, chain_hash
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = %s, previous_hash = %s, hash = %s WHERE id = 1",
            [sequence, last_previous, previous_hash],
        )
    return recorded


# --- verification ---------------------------------------------------------------------------


@dataclass
class Verification:
    """What one verification re-hashed (events first_sequence..last_sequence, none when last <
    first) and found."""

    full: bool = True
    checked: int = 0
    first_sequence: int = 1
    last_sequence: int = 0
    last_hash: str = GENESIS_HASH
    broken_at: int | None = None
    reason: str = ""
    seconds: float = 0.0
    checkpoint_used: int | None = None  # the number of the checkpoint an incremental run began at
    checkpoint_stored: int | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    @property
    def rate(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else float(self.checked)

    @property
    def rehashed(self) -> str:
        """The range re-hashed, as people read it: "events 1..1200", "no event"."""
        if self.last_sequence < self.first_sequence:
            return "no event"
        return f"events {self.first_sequence}..{self.last_sequence}"

    def describe(self) -> str:
        if self.full:
            how = "full verification"
        elif self.checkpoint_used is not None:
            how = f"incremental, after checkpoint {self.checkpoint_used}"
        else:
            how = "incremental, no checkpoint yet: from the first event"
        text = f"re-hashed {self.rehashed} ({how})"
        if not self.intact:
            text += f", then broken at {self.broken_at}"
        return text

    def summary(self) -> dict:
        """What the task returns and the alert event keeps."""
        return {
            "intact": self.intact,
            "full": self.full,
            "checked": self.checked,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "broken_at": self.broken_at,
            "reason": self.reason,
        }


_VERIFY_SQL = f"""
SELECT sequence, previous_hash, hash, key_id,
       to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       {", ".join(CONTENT_FIELDS[1:-1])}, extra::text
  FROM audit_auditevent
 WHERE sequence > %s AND sequence <= %s
 ORDER BY sequence
"""  # nosec B608 # column names from CONTENT_FIELDS, values bound
# Where the content values start in a row of _VERIFY_SQL (extra::text is the last column).
_CONTENT_START = 4

# Every checkpoint in number order, with the stored hash of the event it vouches for.
_CHECKPOINTS_SQL = """
SELECT c.number, c.kind, c.sequence, c.hash, c.created_at, c.key_id, c.previous_signature,
       c.signature, e.hash
  FROM audit_checkpoint c
  LEFT JOIN audit_auditevent e ON e.sequence = c.sequence
 ORDER BY c.number
"""


def _checkpoints() -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(_CHECKPOINTS_SQL)
        rows = cursor.fetchall()
    checkpoints = []
    for *values, stored_hash in rows:
        checkpoint = dict(zip(CHECKPOINT_FIELDS, values, strict=True))
        checkpoint["created_at"] = format_instant(checkpoint["created_at"])
        checkpoint["stored_hash"] = GENESIS_HASH if checkpoint["sequence"] == 0 else stored_hash
        checkpoints.append(checkpoint)
    return checkpoints


def _key_materials() -> dict[str, str]:
    return {key_id: key.material for key_id, key in audit_keys().items()}


def _checkpoints_problem(checkpoints: list[dict], head_sequence: int) -> tuple[int, str] | None:
    """The signed checkpoints against themselves (numbering, links, signatures) and against the
    chain as stored: the head not behind any of them, each one's event still holding its hash."""
    problem = checkpoint_chain_problem(checkpoints, _key_materials())
    if problem is not None:
        return problem
    if checkpoints and checkpoints[-1]["sequence"] > head_sequence:
        last = checkpoints[-1]
        return head_sequence + 1, (
            f"the chain head is at {head_sequence} but signed checkpoint {last['number']} "
            f"vouches for event {last['sequence']}: the chain moved backwards"
        )
    for checkpoint in checkpoints:
        if checkpoint["stored_hash"] != checkpoint["hash"]:
            return checkpoint["sequence"], (
                f"signed checkpoint {checkpoint['number']} at event {checkpoint['sequence']} no "
                "longer matches the chain: events were removed or the chain was rewritten"
            )
    return None


def _export_line(row: tuple, values: list) -> str:
    record = dict(zip(CONTENT_FIELDS, values, strict=True))
    record.update(sequence=row[0], previous_hash=row[1], hash=row[2], key_id=row[3])
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def _export_checkpoint(checkpoint: dict) -> dict:
    return {name: checkpoint[name] for name in CHECKPOINT_FIELDS}


@dataclass
class _Scan:
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
    digesters[UNKEYED] = lambda content: _sha256(content).hexdigest()
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


def _scan(rows, scan: _Scan, export: IO[str] | None = None, *, trust_first_link=False) -> _Scan:
    """Recompute the hashes of `rows` (from `_VERIFY_SQL`) in order, stopping at the first break.
    With `trust_first_link`, the first event's stored previous_hash starts the range: the caller
    checks that seam against the range before (parallel verification)."""
    loads = json.loads
    fast = export is None
    digesters = _digesters()
    sealed_up_to = scan.sealed_up_to
    previous_hash = scan.previous_hash
    expected = scan.expected
    checked = 0
    start = _CONTENT_START
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
            export.write(_export_line(row, values))
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
) -> _Scan:
    """Verify events low+1..high on a connection of this (forked) process's own. The parent's
    inherited connection is never used or closed here."""
    import psycopg

    with psycopg.connect(**connection_parameters) as own:
        with own.cursor(name="audit_chain_verify_range") as cursor:
            cursor.itersize = 20_000
            cursor.execute(_VERIFY_SQL, [low, high])
            scan = _Scan(expected=low + 1, sealed_up_to=sealed_up_to)
            return _scan(cursor, scan, trust_first_link=True)


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


def _scan_parallel(scan: _Scan, head_sequence: int, workers: int) -> _Scan:
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


def _against_problem(against: tuple[int, str], result: Verification) -> tuple[int, str] | None:
    """An anchor kept outside the database (SEQUENCE, HASH) against a fully verified chain."""
    sequence, expected = against
    if sequence > result.last_sequence:
        return result.last_sequence + 1, (
            f"the anchor names event {sequence} but the chain ends at {result.last_sequence}: "
            "events were removed"
        )
    if sequence == 0:
        stored = GENESIS_HASH
    else:
        stored = AuditEvent.objects.filter(sequence=sequence).values_list("hash", flat=True)[0]
    if stored != expected:
        return sequence, (
            f"event {sequence}'s hash is not the anchor's: the chain was rewritten up to there"
        )
    return None


def audit_chain_verify(
    *,
    full: bool = True,
    export: IO[str] | None = None,
    workers: int | None = None,
    parallel_min_events: int = PARALLEL_MIN_EVENTS,
    against: tuple[int, str] | None = None,
    kind: str = CheckpointKind.VERIFIED,
) -> Verification:
    """Recompute the chain in sequence order with a server-side cursor, after checking the
    signed checkpoints (numbering, links, signatures, the head not behind them, their events'
    hashes: audit/chain.py).

    Re-hashes the whole chain unless `full` is False, which starts after the latest checkpoint
    (`export` and `against`, an anchor kept outside the database, need the whole chain). Stores
    a new signed and anchored checkpoint when the chain is intact. The result says which range
    was re-hashed and names the first broken sequence number: changed content, a removed,
    reordered or downgraded (unkeyed) event, removed checkpoints, a chain cut back.

    A long stretch (at least `parallel_min_events`, no export) is split into ranges verified by
    `workers` processes (default: one per CPU, none in a daemonic process); each reads committed
    rows up to the head read first, so the result is the one a single pass gives.
    """
    started = time.perf_counter()
    full = full or export is not None or against is not None
    result = Verification(full=full)
    start_after, previous_hash = 0, GENESIS_HASH
    # The head first: appends hold its row lock until they commit, so every event up to the head
    # read now is committed, and events appended during the scan are left to the next run.
    head_sequence, head_hash = _chain_head() or (0, GENESIS_HASH)
    checkpoints = _checkpoints()
    problem = _checkpoints_problem(checkpoints, head_sequence)
    if problem is not None:
        result.broken_at, result.reason = problem
        result.first_sequence, result.last_sequence = 1, 0
        result.seconds = time.perf_counter() - started
        return result
    if not full and checkpoints:
        latest = checkpoints[-1]
        start_after, previous_hash = latest["sequence"], latest["hash"]
        result.checkpoint_used = latest["number"]
    result.first_sequence = start_after + 1
    if export is not None:
        header = {
            "custodia_audit_export": 2,
            "first_sequence": 1,
            "previous_hash": GENESIS_HASH,
            "checkpoints": [_export_checkpoint(checkpoint) for checkpoint in checkpoints],
        }
        export.write(json.dumps(header) + "\n")
    scan = _Scan(
        expected=start_after + 1,
        previous_hash=previous_hash,
        sealed_up_to=seal_sequence(checkpoints),
    )
    workers = parallel_workers_available() if workers is None else workers
    if export is None and workers > 1 and head_sequence - start_after >= parallel_min_events:
        _scan_parallel(scan, head_sequence, workers)
    else:
        with transaction.atomic():
            connection.ensure_connection()
            with connection.connection.cursor(name="audit_chain_verify") as cursor:
                cursor.itersize = 20_000
                cursor.execute(_VERIFY_SQL, [start_after, head_sequence])
                _scan(cursor, scan, export)
    result.checked = scan.checked
    result.broken_at, result.reason = scan.broken_at, scan.reason
    result.last_sequence = scan.expected - 1
    result.last_hash = scan.previous_hash
    if result.intact and result.last_sequence < head_sequence:
        result.broken_at = result.last_sequence + 1
        result.reason = (
            f"the chain head is at {head_sequence} but the events end at {result.last_sequence}"
        )
    elif (
        result.intact and result.last_sequence == head_sequence and scan.previous_hash != head_hash
    ):
        result.broken_at = head_sequence
        result.reason = f"event {head_sequence} does not match the chain head"
    if result.intact and against is not None:
        problem = _against_problem(against, result)
        if problem is not None:
            result.broken_at, result.reason = problem
    result.seconds = time.perf_counter() - started
    if result.intact:
        checkpoint = _checkpoint_store(result.last_sequence, result.last_hash, kind=kind)
        if checkpoint is not None:
            result.checkpoint_stored = checkpoint["number"]
            if export is not None:
                export.write(json.dumps({"checkpoint": _export_checkpoint(checkpoint)}) + "\n")
        elif export is not None:
            raise AuditChainError("a later checkpoint was stored during the export: export again")
    return result


def _chain_head() -> tuple[int, str] | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence, hash FROM audit_chainhead WHERE id = 1")
        return cursor.fetchone()


@transaction.atomic
def _checkpoint_store(sequence: int, chain_hash: str, *, kind: str) -> dict | None:
    """Sign and store the next checkpoint at `sequence`, and anchor it outside the database.
    None when a concurrent verification already stored one further on (checkpoints never move
    backwards)."""
    with connection.cursor() as cursor:
        # Numbers are consecutive: two verifications finishing together take turns here.
        cursor.execute("LOCK TABLE audit_checkpoint IN SHARE ROW EXCLUSIVE MODE")
    last = Checkpoint.objects.order_by("-number").first()
    if last is not None and last.sequence > sequence:
        return None
    key = current_audit_key()
    fields = {
        "number": last.number + 1 if last else 1,
        "kind": str(kind),
        "sequence": sequence,
        "hash": chain_hash,
        "created_at": timezone.now(),
        "key_id": key.key_id,
        "previous_signature": last.signature if last else "",
    }
    signed = {**fields, "created_at": format_instant(fields["created_at"])}
    signature = sign_checkpoint(
        key.material,
        **{name: value for name, value in signed.items() if name != "hash"},
        chain_hash=chain_hash,
    )
    Checkpoint.objects.create(**fields, signature=signature)
    signed["signature"] = signature
    try:
        anchor_write(signed)
    except OSError as error:
        # The checkpoint rolls back with this error: none is kept without its anchor.
        raise AuditChainError(
            f"the checkpoint's anchor could not be written to {anchor_file()}: "
            f"{error.strerror or error}"
        ) from error
    return signed


@transaction.atomic
def audit_chain_verify_and_alert(
    *, full: bool = True, workers: int | None = None, against: tuple[int, str] | None = None
) -> Verification:
    """Verify, and record an alert event when the chain is broken, naming the range re-hashed."""
    result = audit_chain_verify(full=full, workers=workers, against=against)
    if not result.intact:
        event_record(
            action="audit.chain_broken",
            outcome=Outcome.DENIED,
            target_type="audit.auditevent",
            target_id=str(result.broken_at),
            extra=result.summary(),
        )
    return result


# --- key rotation -----------------------------------------------------------------------------


@dataclass
class KeyRotation:
    current_key_id: str
    # {label: {key_id: count}}; key id "" counts the unkeyed events of scheme 1.
    counts: dict[str, dict[str, int]]
    verification: Verification


def keyed_record_counts() -> dict[str, dict[str, int]]:
    """How many records each key id made, per kind of record (audit.keys.keyed_records)."""
    from django.apps import apps
    from django.db.models import Count

    counts: dict[str, dict[str, int]] = {}
    for label, model_label, field_name in keyed_records():
        model = apps.get_model(model_label)
        rows = model.objects.order_by().values_list(field_name).annotate(count=Count("*"))
        counts[label] = {key_id: count for key_id, count in rows}
    return counts


@transaction.atomic
def audit_key_rotate() -> KeyRotation:
    """After AUDIT_HMAC_KEY was replaced (the old key moved to AUDIT_HMAC_PREVIOUS_KEYS): check
    that every key id in use has its key, verify the whole chain, and store a checkpoint signed
    with the new key (kind "rotation"). New hashes and signatures use the new key from then on;
    what older keys made stays verifiable while they are listed, which they must stay as long as
    the records they made are kept (the trail is append-only: nothing is rehashed)."""
    keys = audit_keys()
    counts = keyed_record_counts()
    for label, by_key in counts.items():
        for key_id, count in sorted(by_key.items()):
            if key_id != UNKEYED and key_id not in keys:
                raise MissingAuditKey(
                    f"key id {key_id} made {count} {label} but is neither AUDIT_HMAC_KEY's nor "
                    "in AUDIT_HMAC_PREVIOUS_KEYS: list that key before rotating"
                )
    verification = audit_chain_verify(full=True, kind=CheckpointKind.ROTATION)
    if not verification.intact:
        raise AuditChainError(
            f"the chain is broken at {verification.broken_at}: {verification.reason}"
        )
    current = current_audit_key().key_id
    event_record(
        action="audit.key_rotated",
        target_type="audit.checkpoint",
        target_id=str(verification.checkpoint_stored or ""),
        extra={"key_id": current, "counts": counts},
    )
    return KeyRotation(current_key_id=current, counts=counts, verification=verification)
