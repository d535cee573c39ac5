"""Deleting recordings, and proving it: the nightly purge and erasure share one deletion core.

Invariants (DESIGN.md 1-3):
- A held recording is never deleted: every deleting transaction takes the tenant's shared
  deletion lock (legal_hold_place takes it exclusively) and re-checks holds while it holds the
  rows' locks.
- Every deleted recording leaves exactly one signed certificate (unique recording id) and one
  audit event, written in the transaction that deletes the row and destroys its wrapped key.
- Files are removed after that commit. Each is first listed in PendingFileRemoval in the same
  transaction, so a crash between commit and unlink is finished by the next run, and no record
  ever claims a file that is gone. A run killed at any instant leaves either the whole batch
  done (and its files pending) or nothing of it.

Throughput (a million recordings a night): a batch is a handful of statements whatever its size
(the selection, a COPY of the certificates, one statement for the deletes and the pending files,
the audit events' COPY, the run's counts); certificates are built as tuples and signed without a
model instance per row; a thread removes the files of committed batches while the next batches
run; and a tenant's batches run on two connections at once, so that PostgreSQL works on one
batch while Python prepares the other.
"""

from __future__ import annotations

import contextvars
import functools
import hmac
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from audit.context import current_context
from audit.keys import AuditKey, audit_keys, current_audit_key
from audit.models import Outcome
from audit.services import Event, event_record, events_record_bulk
from compliance import holds as hold_scope
from compliance.models import ExpiryAction, LegalHold, Purpose, RetentionPolicy, Tenant
from portal import locks

from ..models import (
    AccessGrant,
    DeletionCertificate,
    DeletionReason,
    PendingFileRemoval,
    PurgeRun,
    PurgeRunStatus,
    Recording,
    Status,
)
from ..storage import recordings_storage
from . import purge_unlink

logger = logging.getLogger(__name__)


class RecordingHeld(Exception):
    def __init__(self, holds: list[LegalHold]):
        references = ", ".join(hold.reference for hold in holds)
        super().__init__(f"the recording is under legal hold ({references})")
        self.holds = holds


# --- certificates ------------------------------------------------------------------------------

CERTIFICATE_FIELDS = (
    "recording_id",
    "tenant_id",
    "call_id_hash",
    "audio_sha256",
    "storage_name",
    "purpose_code",
    "policy_id",
    "policy_version",
    "retain_until",
    "reason",
    "purge_run_id",
    "deleted_at",
)
_UTC = ZoneInfo("UTC")


def _instant(value: datetime) -> str:
    return value.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def call_id_hash(tenant_id: int, call_id: str, key: AuditKey | None = None) -> str:
    """Keyed (the current AUDIT_HMAC_KEY unless another key is given), so that nobody without
    the key can test guesses of call ids against it."""
    key = key or current_audit_key()
    return key.digest(f"custodia-call-id|{tenant_id}|{call_id}".encode())


def call_id_hashes(tenant_id: int, call_id: str) -> list[str]:
    """The call id's hash under every known key, for look-ups across a key rotation."""
    return [call_id_hash(tenant_id, call_id, key) for key in audit_keys().values()]


def certificate_message(certificate: DeletionCertificate) -> str:
    """The signed text: the canonical definition (the purge builds the same text faster, with
    _CERTIFICATE_TEMPLATE)."""
    values = {}
    for name in CERTIFICATE_FIELDS:
        value = getattr(certificate, name)
        if isinstance(value, datetime):
            value = _instant(value)
        elif isinstance(value, date):
            value = value.isoformat()
        values[name] = value
    return "custodia-deletion-certificate|" + json.dumps(values, sort_keys=True)


def certificate_is_valid(certificate: DeletionCertificate) -> bool:
    """The signature verifies under the key its key id names (current or previous)."""
    key = audit_keys().get(certificate.key_id)
    if key is None:
        return False
    expected = key.digest(certificate_message(certificate).encode())
    return hmac.compare_digest(expected, certificate.signature)


# certificate_message's text without a model instance or a json.dumps per certificate: the keys
# in sorted order, json.dumps' separators, each string through the encoder json.dumps uses
# (ASCII-escaped, quoted), integers as json.dumps writes them, None as null.
_CERTIFICATE_TEMPLATE = (
    'custodia-deletion-certificate|{"audio_sha256": %s, "call_id_hash": %s, "deleted_at": %s, '
    '"policy_id": %s, "policy_version": %s, "purge_run_id": %s, "purpose_code": %s, '
    '"reason": %s, "recording_id": %d, "retain_until": %s, "storage_name": %s, "tenant_id": %d}'
)
_json_string = json.encoder.encode_basestring_ascii


def _json_number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _certificate_text(
    *,
    recording_id: int,
    tenant_id: int,
    call_id_hash: str,
    audio_sha256: str,
    storage_name: str,
    purpose_code: str,
    policy_id: int | None,
    policy_version: int | None,
    retain_until: str,
    reason: str,
    purge_run: str,
    deleted_at: str,
) -> str:
    """certificate_message() of these values; `retain_until` as date.isoformat(), and
    `purge_run` and `deleted_at` already JSON (the same for a whole batch)."""
    string = _json_string
    return _CERTIFICATE_TEMPLATE % (
        string(audio_sha256),
        string(call_id_hash),
        deleted_at,
        _json_number(policy_id),
        _json_number(policy_version),
        purge_run,
        string(purpose_code),
        string(reason),
        recording_id,
        string(retain_until),
        string(storage_name),
        tenant_id,
    )


# --- the deletion core -------------------------------------------------------------------------

# What the deletion of one recording needs, in this order (a row of the batch query).
ROW_FIELDS = (
    "pk",
    "tenant_id",
    "call_id",
    "audio_sha256",
    "storage_name",
    "purpose__code",
    "retention_policy_id",
    "retain_until",
    "deletion_reason",
)
_NO_POLICY = (None, None)
_CERTIFICATE_COPY = (
    "COPY {table} (recording_id, tenant_id, call_id_hash, audio_sha256, storage_name, "
    "purpose_code, policy_id, policy_version, retain_until, reason, purge_run_id, deleted_at, "
    "signature, key_id) FROM STDIN"
)
# One statement for the rows and everything that points at them (set-based: Django's collector
# would load every row and fire django-simple-history's per-row signal), the files now pending
# removal, and the pending rows of files that the file remover has since removed. The foreign
# keys are DEFERRABLE INITIALLY DEFERRED: checked once all of it is done.
_DELETE_SQL = """
WITH recordings AS (
    DELETE FROM {recording} WHERE id = ANY(%(delete)s::bigint[])
), history AS (
    -- Metadata history holds the same personal data: it goes with the record.
    DELETE FROM {history} WHERE id = ANY(%(delete)s::bigint[])
), grants AS (
    DELETE FROM {grant} WHERE recording_id = ANY(%(delete)s::bigint[])
), hold_links AS (
    DELETE FROM {hold_link} WHERE recording_id = ANY(%(delete)s::bigint[])
), removed AS (
    DELETE FROM {pending} WHERE storage_name = ANY(%(removed)s::text[])
)
INSERT INTO {pending} (storage_name, purge_run_id, created_at)
SELECT unnest(%(pending)s::text[]), %(run)s, %(now)s
    ON CONFLICT (storage_name) DO NOTHING
"""


@functools.cache
def _sql() -> dict[str, str]:
    tables = {
        "recording": Recording._meta.db_table,
        "history": Recording.history.model._meta.db_table,
        "grant": AccessGrant._meta.db_table,
        "hold_link": LegalHold.recordings.through._meta.db_table,
        "pending": PendingFileRemoval._meta.db_table,
    }
    quoted = {name: connection.ops.quote_name(table) for name, table in tables.items()}
    return {
        "delete": _DELETE_SQL.format(**quoted),
        "copy": _CERTIFICATE_COPY.format(table=DeletionCertificate._meta.db_table),
    }


def _policies(policy_ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """Each policy's action at expiry and its version: the history id of the policy as it stands
    now, i.e. which version of the rule deleted."""
    if not policy_ids:
        return {}
    history = RetentionPolicy.history.model
    latest = history.objects.filter(id=OuterRef("pk")).order_by("-history_id").values("history_id")
    rows = (
        RetentionPolicy.objects.filter(pk__in=policy_ids)
        .annotate(version=Subquery(latest[:1]))
        .values_list("pk", "action_at_expiry", "version")
    )
    return {pk: (action, version) for pk, action, version in rows}


def _bigint_array(values: Sequence[int]) -> str:
    """An array literal (the driver's list adaptation costs microseconds per element)."""
    return "{" + ",".join(map(str, values)) + "}"


def _text_array(values: Sequence[str]) -> str:
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _copy_certificates(certificates: list[tuple]) -> None:
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(_sql()["copy"]) as copy:
        for certificate in certificates:
            copy.write_row(certificate)


def _delete_rows(
    rows: Sequence[tuple],
    *,
    reason: str | None,
    run_id: int | None,
    action: str,
    removed: Sequence[str] = (),
    checks_now: bool = False,
) -> list[str]:
    """Delete recordings already locked (FOR UPDATE) and checked against holds, given as rows of
    ROW_FIELDS, inside the caller's transaction: a signed certificate and an audit event each,
    the row (or its personal fields) gone, its file listed as pending removal. Also forgets the
    pending removals of `removed` files. Returns the storage names now pending removal.
    `checks_now`: the transaction is the purge's own, and its deferred constraints may be
    checked before the audit events are appended (SET CONSTRAINTS lasts to its end)."""
    now = timezone.now()
    key = current_audit_key()
    key_id = key.key_id

    def sign(message: str) -> str:
        return key.digest(message.encode())

    deleted_at = _json_string(_instant(now))
    run_text = _json_number(run_id)
    policies = _policies({row[6] for row in rows if row[6] is not None})
    context = current_context()
    days: dict[date, str] = {}
    certificates, events, pending, to_delete, to_anonymise = [], [], [], [], []
    for pk, tenant_id, call_id, sha, name, purpose, policy_id, retain_until, own_reason in rows:
        final_reason = reason or own_reason
        policy_action, version = policies.get(policy_id, _NO_POLICY)
        call_hash = sign(f"custodia-call-id|{tenant_id}|{call_id}")
        day = days.get(retain_until)
        if day is None:
            day = days[retain_until] = retain_until.isoformat()
        signature = sign(
            _certificate_text(
                recording_id=pk,
                tenant_id=tenant_id,
                call_id_hash=call_hash,
                audio_sha256=sha,
                storage_name=name,
                purpose_code=purpose,
                policy_id=policy_id,
                policy_version=version,
                retain_until=day,
                reason=final_reason,
                purge_run=run_text,
                deleted_at=deleted_at,
            )
        )
        certificates.append(
            (
                pk,
                tenant_id,
                call_hash,
                sha,
                name,
                purpose,
                policy_id,
                version,
                retain_until,
                final_reason,
                run_id,
                now,
                signature,
                key_id,
            )
        )
        events.append(
            Event(
                action=action,
                tenant_id=tenant_id,
                target_type="recordings.recording",
                target_id=str(pk),
                target_label=f"call {call_id}"[:200],
                purpose=purpose,
                extra={
                    "reason": final_reason,
                    "retain_until": day,
                    "audio_sha256": sha,
                    "purge_run": run_id,
                },
                context=context,  # occurred_at: when events_record_bulk appends them
            )
        )
        if name:
            pending.append(name)
        if final_reason == DeletionReason.EXPIRED and policy_action == ExpiryAction.ANONYMISE:
            to_anonymise.append(pk)
        else:
            to_delete.append(pk)
    sql = _sql()
    _copy_certificates(certificates)
    with connection.cursor() as cursor:
        cursor.execute(
            sql["delete"],
            {
                "delete": _bigint_array(to_delete),
                "removed": _text_array(removed),
                "pending": _text_array(pending),
                "run": run_id,
                "now": now,
            },
        )
    if to_anonymise:
        history = Recording.history.model
        personal = {"customer_number": "", "subject_reference": "", "agent_code": ""}
        history.objects.filter(id__in=to_anonymise).update(**personal, agent=None)
        Recording.objects.filter(pk__in=to_anonymise).update(
            **personal,
            agent=None,
            status=Status.PURGED,
            wrapped_key=None,  # crypto-shredding: every copy of the audio is now unreadable
            storage_name="",
        )
    if checks_now:
        # The deferred foreign-key checks of all the above run now rather than at the commit:
        # the audit chain's head, locked by the next step until the commit, then waits for no
        # more than the events' COPY and the commit (concurrent batches queue up there only).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    events_record_bulk(events)
    return pending


# --- removing files ----------------------------------------------------------------------------

FILE_REMOVAL_THREADS = 8
_FILE_REMOVAL_CHUNK = 100
_UNLINK_SCRIPT = str(Path(__file__).with_name("purge_unlink.py"))
# The names ingestion gives (recordings.storage.new_storage_name): safe to join to the folder.
_STORAGE_NAME = purge_unlink.STORAGE_NAME
_filesystem_delete = FileSystemStorage.delete


def _plain_filesystem(storage) -> bool:
    """Django's own FileSystemStorage, its delete not overridden (nor replaced, as in tests)."""
    return isinstance(storage, FileSystemStorage) and type(storage).delete is _filesystem_delete


def _file_remover(storage) -> Callable[[str], None]:
    """A function removing one stored file; a file already gone is not an error. With a plain
    FileSystemStorage, a name in the form ingestion gives is unlinked directly: the same effect
    as FileSystemStorage.delete without its path resolution and extra stat per file. Anything
    else goes through storage.delete."""
    if not _plain_filesystem(storage):
        return storage.delete
    location, match, unlink = storage.location, _STORAGE_NAME.fullmatch, os.unlink

    def remove(name: str) -> None:
        if not match(name):
            storage.delete(name)
            return
        try:
            unlink(f"{location}/{name}")
        except FileNotFoundError:
            pass

    return remove


def remove_pending_files(names: Iterable[str] | None = None, *, run: PurgeRun | None = None):
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


class _FileRemover:
    """Removes the files of committed batches while the next batches run (PostgreSQL's work and
    the unlinks overlap). What it removed is reported to the next batch, whose transaction
    deletes those PendingFileRemoval rows; a crash before that leaves them, and the next run
    finds the files gone. A file that cannot be removed stays pending and is reported.

    With Django's own FileSystemStorage the unlinks run in a helper process (purge_unlink.py),
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


# --- erasure of one recording ------------------------------------------------------------------


def recording_erase(*, actor, recording: Recording, reason: str = DeletionReason.ERASURE_REQUEST):
    """Delete one recording now (granted erasure request, withdrawn consent). Refused, with the
    holds named and the refusal audited, when a legal hold applies (GDPR Art. 17(3)(b),(e)).

    The audio file is removed once the deletion has committed, which inside a caller's
    transaction is that transaction's commit: if it rolls back, the row, its key and its file are
    all still there, and the file's pending removal is rolled back with the rest. A crash (or an
    unlink failing) between the commit and the removal leaves the file pending: the next purge
    run removes it."""
    with transaction.atomic():
        locks.deletion_lock(recording.tenant_id)
        locked = (
            Recording.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .filter(pk=recording.pk, status=Status.ACTIVE)
            .first()
        )
        if locked is None:
            raise Recording.DoesNotExist(f"recording {recording.pk} is not active")
        holds = list(locked.active_holds())
        if not holds:
            row = (
                locked.pk,
                locked.tenant_id,
                locked.call_id,
                locked.audio_sha256,
                locked.storage_name,
                locked.purpose.code,
                locked.retention_policy_id,
                locked.retain_until,
                locked.deletion_reason,
            )
            names = _delete_rows([row], reason=reason, run_id=None, action="recording.erased")
            # Registered in this block: discarded if it (or an enclosing block) rolls back.
            # robust: the erasure has committed by then; a failure only leaves files pending.
            transaction.on_commit(functools.partial(remove_pending_files, names), robust=True)
    if holds:
        with transaction.atomic():
            event_record(
                action="legal_hold.blocked_erasure",
                tenant=recording.tenant_id,
                target=recording,
                outcome=Outcome.DENIED,
                extra={"holds": [hold.reference for hold in holds], "reason": reason},
            )
        raise RecordingHeld(holds)


# --- the purge -------------------------------------------------------------------------------

# A batch is one transaction; 5,000 recordings keep each one well under a second (row locks,
# the audit chain's head) while making the per-batch round trips and commits negligible.
DEFAULT_BATCH_SIZE = 5000
# Batches of one tenant run on this many connections at once (SKIP LOCKED keeps them disjoint):
# while one waits for PostgreSQL, the other does its Python work.
DEFAULT_WORKERS = 2


def tenant_today(tenant: Tenant) -> date:
    return timezone.localdate(timezone=ZoneInfo(tenant.time_zone))


def next_run_date(tenant: Tenant, *, now: datetime | None = None) -> date:
    """The tenant's date at the next scheduled purge (PURGE_AT in TIME_ZONE): what the preview
    of "tonight's run" must look at, since a run at 02:30 deletes what expired the day before."""
    now = timezone.localtime(now or timezone.now())  # in TIME_ZONE
    hour, minute = (int(part) for part in settings.PURGE_AT.split(":"))
    run_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if run_at <= now:
        run_at += timedelta(days=1)
    return run_at.astimezone(ZoneInfo(tenant.time_zone)).date()


def _jit_off() -> None:
    """For the rest of the transaction. The purge's statements are estimated expensive at scale
    (hundreds of thousands of rows, arrays of thousands of ids), and PostgreSQL's JIT then
    compiles each one for longer than it runs (seconds for the preview's counts)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")


# The preview, every tenant in one statement (one snapshot: what holds keep back is counted
# among the very rows counted as expired). Per tenant, its expired recordings per purpose and
# reason: what RecordingQuerySet.expired(on=...) selects (active, retain_until before the tenant's
# date), read from the partial index recording_tenant_expiry alone, which carries the purpose and
# the reason for this.
_EXPIRED_TOTALS_PART = (
    "SELECT %s AS tenant_id, purpose_id, deletion_reason, count(*) AS total FROM {recording}"
    " WHERE tenant_id = %s AND status = %s AND retain_until < %s"
    " GROUP BY purpose_id, deletion_reason"
)
# Of those, the ones an active hold holds (RecordingQuerySet.on_hold(), the purge's own test),
# found from the holds rather than by testing every expired recording against every hold: the
# expired recordings a hold names, and for each hold with criteria the expired recordings
# matching them all (each an index lookup: number, campaign, start time), counted once (UNION).
# Holds are few and hold few recordings; the semi-join of every expired recording with them
# took seconds at 200,000 expired rows.
_HELD_TOTALS_PART = (
    "SELECT %s AS tenant_id, purpose_id, deletion_reason, count(*) AS total"
    " FROM ({held}) AS held_rows GROUP BY purpose_id, deletion_reason"
)
# The holds in force as the statement sees them: they must be those the statement was built
# from (a hold's scope never changes once placed; placing and releasing change this list).
_PREVIEW = (
    "SELECT totals.tenant_id, purpose.code, totals.deletion_reason, totals.total,"
    " coalesce(held.total, 0),"
    " (SELECT array_agg(id ORDER BY id) FROM {legal_hold} WHERE released_at IS NULL)"
    " FROM ({totals}) AS totals JOIN {purpose} AS purpose ON purpose.id = totals.purpose_id"
    " LEFT JOIN ({held}) AS held ON held.tenant_id = totals.tenant_id"
    " AND held.purpose_id = totals.purpose_id AND held.deletion_reason = totals.deletion_reason"
    " ORDER BY purpose.code, totals.deletion_reason"
)
# Attempts at a preview while holds are being placed or released, before giving up.
_PREVIEW_ATTEMPTS = 5


def _held_rows_sql(tenant_id: int, on: date, holds: list[LegalHold]) -> tuple[str, tuple]:
    """SQL selecting (id, purpose, reason) of the tenant's recordings expired before `on` that
    `holds` (its active holds) hold, each once: those named, and those matching every criterion
    of a hold that gives criteria, as compliance.holds states the rule."""
    expired = (
        Recording.objects.expired(on=on)
        .filter(tenant_id=tenant_id)
        .order_by()
        .values_list("id", "purpose_id", "deletion_reason")
    )
    named = expired.filter(hold_scope.named_by(hold.pk for hold in holds))
    matching = [
        expired.filter(criteria)
        for hold in holds
        if (criteria := hold_scope.matching_criteria(hold)) is not None
    ]
    held = named.union(*matching) if matching else named
    return held.query.sql_with_params()


class PreviewUnsettled(RuntimeError):
    """Holds were placed or released during every attempt at the preview."""


def purge_preview(*, for_next_run: bool = True) -> list[dict]:
    """What a run would delete, per tenant and purpose, and what holds keep back: by default the
    next scheduled run; with for_next_run=False, a run started now. Exact: the counts are those
    of the run's own selection (expired, and on hold or not) at one instant."""
    tenants = list(Tenant.objects.order_by("name"))
    if not tenants:
        return []
    days = {
        tenant.pk: next_run_date(tenant) if for_next_run else tenant_today(tenant)
        for tenant in tenants
    }
    for _ in range(_PREVIEW_ATTEMPTS):
        holds = list(LegalHold.objects.active().order_by("pk"))
        found = _preview_counts(tenants, days, holds)
        if found is not None:
            break
    else:
        raise PreviewUnsettled("legal holds kept changing during the purge preview; try again")
    rows = []
    for tenant in tenants:
        for purpose, reason, total, held_back in found[tenant.pk]:
            rows.append(
                {
                    "tenant": tenant.name,
                    "tenant_id": tenant.pk,
                    "purpose": purpose,
                    "reason": reason,
                    "to_delete": total - held_back,
                    "held_back": held_back,
                }
            )
    return rows


def _preview_counts(
    tenants: list[Tenant], days: dict[int, date], holds: list[LegalHold]
) -> dict[int, list[tuple]] | None:
    """Per tenant id, (purpose code, reason, expired, held back) in one statement; None when the
    holds in force changed since `holds` was read (the counts would not be those holds')."""
    by_tenant: dict[int, list[LegalHold]] = {}
    for hold in holds:
        by_tenant.setdefault(hold.tenant_id, []).append(hold)
    recording = connection.ops.quote_name(Recording._meta.db_table)
    totals_sql, totals_params, held_sql, held_params = [], [], [], []
    for tenant in tenants:
        expired = [tenant.pk, tenant.pk, Status.ACTIVE.value, days[tenant.pk]]
        totals_sql.append(_EXPIRED_TOTALS_PART.format(recording=recording))
        totals_params += expired
        if tenant.pk in by_tenant:
            held, params = _held_rows_sql(tenant.pk, days[tenant.pk], by_tenant[tenant.pk])
            held_sql.append(_HELD_TOTALS_PART.format(held=held))
            held_params += [tenant.pk, *params]
    if not held_sql:  # no active hold anywhere: an empty relation of the same columns
        held_sql.append(
            "SELECT 0::bigint AS tenant_id, 0::bigint AS purpose_id,"
            " ''::varchar AS deletion_reason, 0::bigint AS total WHERE false"
        )
    sql = _PREVIEW.format(
        totals=" UNION ALL ".join(totals_sql),
        held=" UNION ALL ".join(held_sql),
        purpose=connection.ops.quote_name(Purpose._meta.db_table),
        legal_hold=connection.ops.quote_name(LegalHold._meta.db_table),
    )
    found: dict[int, list[tuple]] = {tenant.pk: [] for tenant in tenants}
    expected_holds = [hold.pk for hold in holds] or None  # array_agg of no row is NULL
    with transaction.atomic():
        _jit_off()
        with connection.cursor() as cursor:
            cursor.execute(sql, [*totals_params, *held_params])
            for tenant_id, purpose, reason, total, held_back, holds_now in cursor.fetchall():
                if holds_now != expected_holds:
                    return None
                found[tenant_id].append((purpose, reason, total, held_back))
    return found


def _adopt_interrupted_runs(run: PurgeRun) -> None:
    """Runs still marked running whose process is gone (its run lock is free) are closed; the
    work they left is simply still expired, and this run does it."""
    for stale in PurgeRun.objects.filter(status=PurgeRunStatus.RUNNING).exclude(pk=run.pk):
        if locks.try_session_lock(locks.PURGE_RUN_NAMESPACE, stale.pk):
            locks.release_session_lock(locks.PURGE_RUN_NAMESPACE, stale.pk)
            stale.status = PurgeRunStatus.FAILED
            stale.finished_at = timezone.now()
            stale.errors = [*stale.errors, f"interrupted; resumed by run {run.pk}"]
            stale.save(update_fields=["status", "finished_at", "errors"])


def purge_batch_queryset(tenant: Tenant, *, on: date, batch_size: int):
    """One batch: expired, active recordings of the tenant that no active hold holds, oldest
    first, locked FOR UPDATE SKIP LOCKED (concurrent workers and runs take disjoint batches), as
    rows of ROW_FIELDS. Run in the transaction that holds the tenant's deletion lock, so that the
    holds it checks are the current ones until the commit."""
    return (
        Recording.objects.expired(on=on)
        .filter(tenant=tenant)
        .not_on_hold()
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("retain_until", "pk")
        .values_list(*ROW_FIELDS)[:batch_size]
    )


# Compiling the batch query costs milliseconds (the holds' subquery): it is compiled once, with
# these stand-ins for the tenant and the date, which each batch replaces with its own.
_ANY_TENANT = -1_730_173_017
_ANY_DAY = date(1001, 1, 1)


@functools.lru_cache(maxsize=8)
def _batch_sql(alias: str, batch_size: int) -> tuple[str, tuple] | None:
    query = purge_batch_queryset(Tenant(pk=_ANY_TENANT), on=_ANY_DAY, batch_size=batch_size).query
    sql, params = query.get_compiler(using=alias).as_sql()
    if params.count(_ANY_TENANT) != 1 or params.count(_ANY_DAY) != 1:
        return None  # not as expected: compile each batch instead
    return sql, params


def _select_batch(tenant: Tenant, on: date, batch_size: int) -> list[tuple]:
    compiled = _batch_sql(connection.alias, batch_size)
    if compiled is None:
        sql, params = purge_batch_queryset(
            tenant, on=on, batch_size=batch_size
        ).query.sql_with_params()
    else:
        sql, template = compiled
        stand_ins = {_ANY_TENANT: tenant.pk, _ANY_DAY: on}
        params = [stand_ins.get(value, value) for value in template]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class _Progress:
    """A run's counts, shared by its batch workers; each batch also adds its counts to the
    PurgeRun row in its own transaction, so a run that dies shows what it did."""

    def __init__(self, run: PurgeRun):
        self.run = run
        self._lock = threading.Lock()

    def add(self, *, purged: int = 0, removed: int = 0, failures: Sequence[dict] = ()) -> None:
        with self._lock:
            run = self.run
            run.purged += purged
            run.files_removed += removed
            run.failed += len(failures)
            if failures:
                run.errors = [*run.errors, *failures][:1000]


_PROGRESS_SQL = (
    f"UPDATE {PurgeRun._meta.db_table} SET purged = purged + %s, "  # noqa: S608  # nosec B608 # a model's table
    "files_removed = files_removed + %s, failed = failed + %s WHERE id = %s"
)


def _purge_batch(
    tenant: Tenant, on: date, run: PurgeRun, batch_size: int, remover: _FileRemover, progress
) -> int:
    """One batch in a transaction of its own; returns how many recordings it purged."""
    removed: list[str] = []
    failures: list[dict] = []
    own_transaction = not connection.in_atomic_block
    try:
        with transaction.atomic():
            locks.deletion_lock(tenant.pk)
            rows = _select_batch(tenant, on, batch_size)
            if not rows:
                return 0
            _jit_off()
            removed, failures = remover.take()
            names = _delete_rows(
                rows,
                reason=None,
                run_id=run.pk,
                action="recording.purged",
                removed=removed,
                checks_now=own_transaction,
            )
            with connection.cursor() as cursor:
                cursor.execute(_PROGRESS_SQL, [len(rows), len(removed), len(failures), run.pk])
    except BaseException:
        remover.give_back(removed, failures)
        raise
    remover.submit(names)  # committed: the files may go now
    progress.add(purged=len(rows), removed=len(removed), failures=failures)
    return len(rows)


def _purge_tenant(
    tenant: Tenant,
    run: PurgeRun,
    *,
    batch_size: int,
    workers: int,
    expected: int,
    remover: _FileRemover,
    progress: _Progress,
) -> None:
    """Batches until one comes back short (nothing left but what other transactions hold). With
    more than a batch to do (`expected`, from the preview, or a first batch that came back full),
    `workers` connections run batches at once."""
    on = tenant_today(tenant)

    def batch() -> int:
        return _purge_batch(tenant, on, run, batch_size, remover, progress)

    if (workers <= 1 or expected <= batch_size) and batch() < batch_size:
        return
    if workers <= 1:
        while batch() == batch_size:
            pass
        return
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set() and batch() == batch_size:
                pass
        except BaseException as error:
            errors.append(error)
            stop.set()

    def worker(context: contextvars.Context) -> None:
        try:
            context.run(loop)  # the caller's audit context (acting_as) comes along
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(
            target=worker,
            args=(contextvars.copy_context(),),
            name=f"purge-worker-{index}",
            daemon=True,
        )
        for index in range(1, workers)
    ]
    for thread in threads:
        thread.start()
    loop()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _settle_files(remover: _FileRemover, progress: _Progress) -> None:
    """The files of the last batches: wait for their removal and forget their pending rows."""
    remover.finish()
    removed, failures = remover.take()
    try:
        for start in range(0, len(removed), 10_000):
            PendingFileRemoval.objects.filter(
                storage_name__in=removed[start : start + 10_000]
            ).delete()
    except Exception:
        # The rows stay: the next run finds their files gone and forgets them.
        logger.exception("purge: could not forget %s removed files", len(removed))
        removed = []
    progress.add(removed=len(removed), failures=failures)


def purge_expired_recordings(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    triggered_by: str = "",
    workers: int = DEFAULT_WORKERS,
) -> PurgeRun:
    """Delete every expired, unheld recording of every tenant, in batches that each commit on
    their own; safe to run concurrently (tenant locks, SKIP LOCKED) and to kill at any instant.
    Inside a caller's transaction, batches run on this connection only (worker connections
    could not see the caller's uncommitted work)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if connection.in_atomic_block:
        workers = 1
    try:
        preview, unsettled = purge_preview(for_next_run=False), []
    except PreviewUnsettled as error:
        # The run deletes correctly without it (each batch selects and re-checks holds under its
        # locks); only its counts of what it found and what holds kept back are then unknown,
        # and the run says so rather than leaving a night's deletions undone.
        preview, unsettled = [], [f"{error}: expired found and held back were not counted"]
    run = PurgeRun.objects.create(
        started_at=timezone.now(),
        status=PurgeRunStatus.DRY_RUN if dry_run else PurgeRunStatus.RUNNING,
        triggered_by=triggered_by[:150],
        preview=preview,
        expired_found=sum(row["to_delete"] + row["held_back"] for row in preview),
        skipped_held=sum(row["held_back"] for row in preview),
        errors=unsettled,
    )
    if dry_run:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        return run
    locks.try_session_lock(locks.PURGE_RUN_NAMESPACE, run.pk)
    remover, progress = _FileRemover(), _Progress(run)
    expected: dict[int, int] = {}
    for row in preview:
        expected[row["tenant_id"]] = expected.get(row["tenant_id"], 0) + row["to_delete"]
    try:
        _adopt_interrupted_runs(run)
        # Files whose records an earlier, interrupted run deleted.
        removed, failures = remove_pending_files(run=run)
        progress.add(removed=removed, failures=failures)
        for tenant in Tenant.objects.order_by("pk"):
            if not locks.try_session_lock(locks.PURGE_TENANT_NAMESPACE, tenant.pk):
                run.errors = [*run.errors, f"{tenant.name}: another purge run is on it"]
                continue
            try:
                _purge_tenant(
                    tenant,
                    run,
                    batch_size=batch_size,
                    workers=workers,
                    expected=expected.get(tenant.pk, 0),
                    remover=remover,
                    progress=progress,
                )
            finally:
                locks.release_session_lock(locks.PURGE_TENANT_NAMESPACE, tenant.pk)
        run.status = PurgeRunStatus.FINISHED
    except Exception as error:
        run.status = PurgeRunStatus.FAILED
        run.errors = [*run.errors, f"{type(error).__name__}: {error}"]
        raise
    finally:
        _settle_files(remover, progress)
        run.finished_at = timezone.now()
        run.save()
        locks.release_session_lock(locks.PURGE_RUN_NAMESPACE, run.pk)
        event_record(
            action="purge.finished",
            target=run,
            outcome=Outcome.ALLOWED if run.status == PurgeRunStatus.FINISHED else Outcome.DENIED,
            extra={
                "status": run.status,
                "purged": run.purged,
                "skipped_held": run.skipped_held,
                "failed": run.failed,
                "files_removed": run.files_removed,
            },
        )
    return run


# --- verification ------------------------------------------------------------------------------


def deletion_certificates_verify() -> list[str]:
    """Problems found: a signature that does not verify, a certified recording that still has
    its data, or a certified file still in storage."""
    problems = []
    storage = recordings_storage()
    keys = audit_keys()
    for certificate in DeletionCertificate.objects.order_by("pk").iterator(chunk_size=2000):
        if certificate.key_id not in keys:
            problems.append(
                f"certificate {certificate.pk}: signed with key id {certificate.key_id}, which is "
                "neither AUDIT_HMAC_KEY's nor in AUDIT_HMAC_PREVIOUS_KEYS"
            )
        elif not certificate_is_valid(certificate):
            problems.append(f"certificate {certificate.pk}: signature does not verify")
        if certificate.storage_name and storage.exists(certificate.storage_name):
            problems.append(
                f"recording {certificate.recording_id} is certified deleted but its audio file "
                "is still stored"
            )
    survivors = Recording.objects.filter(
        pk__in=DeletionCertificate.objects.values("recording_id")
    ).filter(Q(status=Status.ACTIVE) | Q(wrapped_key__isnull=False) | ~Q(storage_name=""))
    for recording in survivors.only("pk"):
        problems.append(f"recording {recording.pk} is certified deleted but still has its data")
    return problems


def orphan_files_sweep(*, grace: timedelta = timedelta(hours=24), remove: bool = True) -> list:
    """Files in the recordings storage that no record claims and that are older than `grace`
    (an ingestion in flight stores its file just before its row commits). Each is audited."""
    storage = recordings_storage()
    cutoff = timezone.now() - grace
    orphans: list[str] = []

    def walk(folder: str):
        directories, files = storage.listdir(folder)
        for name in files:
            yield f"{folder}/{name}" if folder else name
        for directory in directories:
            yield from walk(f"{folder}/{directory}" if folder else directory)

    def check(names: list[str]) -> None:
        claimed = set(
            Recording.objects.filter(storage_name__in=names).values_list("storage_name", flat=True)
        )
        for name in names:
            if name in claimed or storage.get_modified_time(name) > cutoff:
                continue
            orphans.append(name)
            with transaction.atomic():
                event_record(
                    action="recording.orphan_file_removed" if remove else "recording.orphan_file",
                    target_type="recordings.file",
                    target_id=name[-64:],
                    outcome=Outcome.DENIED,
                    extra={"file": name, "removed": remove},
                )
            if remove:
                storage.delete(name)
                PendingFileRemoval.objects.filter(storage_name=name).delete()

    batch: list[str] = []
    for name in walk(""):
        batch.append(name)
        if len(batch) >= 1000:
            check(batch)
            batch = []
    if batch:
        check(batch)
    return orphans
