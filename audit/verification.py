"""Verifying the audit chain: re-hashing it in sequence order (in parallel ranges when long),
checking the numbered, signed checkpoints and an anchor kept elsewhere, and storing a checkpoint
(anchored outside the database) when the chain is intact. The chain's definition is
audit/chain.py; appending is audit/services.py."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import IO

from django.db import connection, transaction
from django.utils import timezone

from .alerts.rules import IntegrityRule
from .anchors import anchor_file, anchor_write
from .chain import (
    CHECKPOINT_FIELDS,
    GENESIS_HASH,
    checkpoint_chain_problem,
    format_instant,
    seal_sequence,
    sign_checkpoint,
)
from .chain_scan import (
    PARALLEL_MIN_EVENTS,
    VERIFY_SQL,
    Scan,
    parallel_workers_available,
    scan_parallel,
    scan_rows,
)
from .keys import audit_keys, current_audit_key
from .models import AuditEvent, Checkpoint, CheckpointKind, Outcome
from .services import AuditChainError, event_record


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


def _export_checkpoint(checkpoint: dict) -> dict:
    return {name: checkpoint[name] for name in CHECKPOINT_FIELDS}


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
    scan = Scan(
        expected=start_after + 1,
        previous_hash=previous_hash,
        sealed_up_to=seal_sequence(checkpoints),
    )
    workers = parallel_workers_available() if workers is None else workers
    if export is None and workers > 1 and head_sequence - start_after >= parallel_min_events:
        scan_parallel(scan, head_sequence, workers)
    else:
        with transaction.atomic():
            connection.ensure_connection()
            with connection.connection.cursor(name="audit_chain_verify") as cursor:
                cursor.itersize = 20_000
                cursor.execute(VERIFY_SQL, [start_after, head_sequence])
                scan_rows(cursor, scan, export)
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
        recorded = event_record(
            action="audit.chain_broken",
            outcome=Outcome.DENIED,
            target_type="audit.auditevent",
            target_id=str(result.broken_at),
            extra=result.summary(),
        )
        IntegrityRule.raise_now(
            tenant_id=None,
            summary=f"Audit chain broken at event {result.broken_at}: {result.reason}",
            event_sequence=recorded.sequence,
        )
    return result
