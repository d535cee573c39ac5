"""Full do-not-call lists (the UK's TPS and CTPS, a tenant's internal opt-outs): a new version
imported from its file beside the version in force, then swapped in, in one transaction.

How an import goes, and why:

- One import of a list at a time: a session advisory lock per list (source and tenant,
  kit/locks.py::try_dnc_import_lock), held for the whole import; a second import of the same
  list is refused, naming the one under way. The lock dies with the process holding it.
- The version is a `DncList` row, `building` while it loads. Its numbers go into a table of
  their own, `compliance_dncentry_<id>`, shaped as the partitions of `compliance_dncentry`
  (its `list_id` fixed by a default and a CHECK constraint, so that attaching it needs no scan).
- The whole load is one transaction: the table created, the file streamed into it with one
  COPY (FREEZE: the table is the transaction's own, so its rows are written already visible to
  all once committed, and neither the index build nor the first checks rewrite every page to
  mark them so, which cost committed batches 40 % more), indexed, analysed, swapped in. Nobody
  sees the table before the swap commits: the version in force answers every check meanwhile,
  and an import that fails or is killed leaves no table at all (PostgreSQL rolls it back).
  The file is read piece by piece (compliance/dnc_files.py), so the memory stays flat, and
  psycopg's queued writer sends each piece from a thread of its own: PostgreSQL ingests one
  piece while Python reads the next. The version's progress (lines and bytes read) is written
  every PROGRESS_LINES lines or PROGRESS_SECONDS by a second connection, in short transactions
  of its own, where the admin's page and the terminal see it.
- Rejected lines (letters, no valid number, another country's number, a truncated last line) are
  counted and the first REPORTED_REJECTIONS kept with their line numbers. The policy: a file
  with any rejected line is refused as a whole (nothing imported, the previous version stays in
  force) unless the import allows that many (`max_rejected`, `--max-rejected`, the admin's
  field); the accepted rejections are reported on the version and on the trail. A file that is
  not UTF-8, a CSV without a number column, a file holding no number are refused whatever the
  allowance.
- Once loaded: its index on number (the index every partition carries, adopted by the attach),
  ANALYZE, then, still in that transaction: ATTACH PARTITION (which takes no lock that stops
  readers of the entries), the new version `in_force`, the one it replaces `superseded`, and
  the `dnc_list.imported` event. A check reads one version or the other, never none.
- The superseded version's table is then detached CONCURRENTLY (without stopping readers; it
  waits for the queries still reading it) and dropped, after the commit. Were the process to die
  in between, the table stays attached under a superseded id, which no check reads, until the
  next import of the list drops it.
- A failed import (a refused file, an error) marks the version `failed` with its reason and
  writes `dnc_list.import_failed`. A killed one leaves a `building` row: the next import of the
  list, holding the lock, knows nobody is loading it, marks it failed (audited) and drops any
  table a crash left (a superseded version's, between the swap and its drop). An uploaded file
  is removed after its import, whatever happened, and by that clean-up when its import died.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from psycopg.copy import QueuedLibpqWriter

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits
from kit.locks import release_dnc_import_lock, try_dnc_import_lock
from kit.null_characters import unstorable
from kit.refusals import Refused, grouped, in_english
from kit.times import in_tenant_zone

from ..dnc_files import REPORTED_REJECTIONS, FileRefused, ListFileReader, Rejection
from ..dnc_models import DncList, DncListStatus
from ..dnc_numbers import ListNumberReader
from ..dnc_sources import Delivery, DncSource, SourceRule, rule_for
from ..models import Tenant
from ..refusals import refuse_outside_date_window
from ..roles import tenant_permits

logger = logging.getLogger(__name__)

# The task's hard time limit (compliance/tasks.py::import_dnc_list): a version still `building`
# this long after it started, with no import holding the list's lock, was left by a dead one.
IMPORT_TIME_LIMIT_SECONDS = 2 * 3600
# The version's progress is written after this many lines or seconds.
PROGRESS_LINES = 250_000
PROGRESS_SECONDS = 1.0
# Clocks drift: a delivery this far ahead of ours is still "now".
DELIVERY_CLOCK_SKEW = timedelta(minutes=5)
ENTRIES = "compliance_dncentry"
UPLOAD_NAME = re.compile(r"^(?P<id>[0-9]+)\.upload$")
# Uploaded files nobody claims (a web process died before its row committed) wait this long.
ORPHAN_UPLOAD_SECONDS = 24 * 3600

ProgressHook = Callable[[DncList], None]


class DncImportFailed(Refused):
    """The import ran and failed: the version is marked failed, with `reason`, on the trail."""

    def __init__(self, dnc_list: DncList, reason: str):
        super().__init__(reason, field="file")
        self.dnc_list = dnc_list


class _Failure(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def entries_table(list_id: int) -> str:
    """The table of one version's numbers, a partition of compliance_dncentry once in force."""
    return f"{ENTRIES}_{int(list_id)}"


def list_key(source: str, tenant: Tenant | None) -> str:
    return f"{source}|{tenant.pk if tenant is not None else ''}"


def full_list_rule(source: str) -> SourceRule:
    """The rule of a source delivered as a full list; Refused naming `source` for the others."""
    if source not in DncSource.values:
        raise Refused(
            format_lazy(
                _("unknown source {source}: one of {value}"),
                source=repr(source),
                value=", ".join(DncSource.values),
            ),
            field="source",
        )
    rule = rule_for(source)
    if rule.delivery != Delivery.FULL_LIST:
        raise Refused(
            format_lazy(
                _(
                    "{label} is not delivered as a list: its numbers are screened "
                    "per campaign (the campaign's file is submitted to it, its "
                    "answer imported as a screening)"
                ),
                label=rule.label,
            ),
            field="source",
        )
    return rule


def import_refusal_check(
    *,
    actor,
    source: str,
    tenant: Tenant | None,
    version: str,
    delivered_at: datetime | None,
    max_rejected: int,
) -> SourceRule:
    """Whether this version may be imported (the admin's form asks it too): the source's rule,
    or Refused naming the field. `actor` None is the command line (the platform's own shell)."""
    rule = full_list_rule(source)
    if rule.country is None and tenant is None:
        raise Refused(
            format_lazy(_("{label}: name the tenant whose list it is"), label=rule.label),
            field="tenant",
        )
    if rule.country is not None and tenant is not None:
        raise Refused(
            format_lazy(
                _("{label} is a platform list, screened by every tenant: no tenant"),
                label=rule.label,
            ),
            field="tenant",
        )
    if actor is not None:
        if tenant is None:
            allowed = getattr(actor, "is_superuser", False)
        else:
            allowed = tenant_permits(actor, tenant.pk, "compliance.add_dnclist")
        if not allowed:
            owner = tenant.name if tenant is not None else "the platform"
            raise Refused(
                format_lazy(
                    _("you may not import {owner}'s {label}"), owner=owner, label=rule.label
                ),
                field="actor",
                status=403,
            )
    version = (version or "").strip()
    if not version:
        raise Refused(_("a version is required (as the list's provider names it)"), field="version")
    limit = DncList._meta.get_field("version").max_length
    if len(version) > limit or unstorable(version):
        raise Refused(
            format_lazy(_("the version must be at most {limit} printable characters"), limit=limit),
            field="version",
        )
    if delivered_at is None or timezone.is_naive(delivered_at):
        raise Refused(_("delivered_at must be a date-time with its offset"), field="delivered_at")
    refuse_outside_date_window(delivered_at, field="delivered_at")
    if delivered_at > timezone.now() + DELIVERY_CLOCK_SKEW:
        raise Refused(_("delivered_at is in the future"), field="delivered_at")
    if not isinstance(max_rejected, int) or max_rejected < 0:
        raise Refused(_("max_rejected must be a whole number, 0 or more"), field="max_rejected")
    in_force = DncList.objects.in_force().filter(source=source, tenant=tenant).first()
    if in_force is not None and delivered_at < in_force.delivered_at:
        # An older delivery would replace a fresher list (and look fresher than it is).
        raise Refused(
            format_lazy(
                _("the version in force ({version}) was delivered on {value}, after this one"),
                version=in_force.version,
                value=in_tenant_zone(in_force.delivered_at, tenant),
            ),
            field="delivered_at",
        )
    return rule


def _waiting(dnc_list: DncList) -> bool:
    """Whether a `building` version nobody is importing waits for its worker: uploaded (its file
    is stored) less than the import's time limit ago. A worker killed mid-way leaves its file
    too: Celery delivers its task again. Any other `building` version was left by a dead import."""
    since = timezone.now() - timedelta(seconds=IMPORT_TIME_LIMIT_SECONDS)
    return dnc_list.started_at >= since and (upload_root() / f"{dnc_list.pk}.upload").exists()


def _refuse_another_import(source: str, tenant: Tenant | None, *, lock_held: bool) -> None:
    """Another import of the list stands in the way: one running (it holds the list's lock), or
    an uploaded version waiting for its worker."""
    if not lock_held:
        key = list_key(source, tenant)
        if not try_dnc_import_lock(key):
            raise Refused(
                _("another import of this list is under way: try again once it is done"),
                field="source",
                status=409,
            )
        release_dnc_import_lock(key)
    building = DncList.objects.filter(
        source=source, tenant=tenant, status=DncListStatus.BUILDING
    ).order_by("started_at")
    for waiting in building:
        if _waiting(waiting):
            started = in_tenant_zone(waiting.started_at, tenant)
            raise Refused(
                format_lazy(
                    _(
                        "a version of this list ({version}, uploaded {started}) is "
                        "waiting to be imported: try again once it is done"
                    ),
                    version=waiting.version,
                    started=started,
                ),
                field="source",
                status=409,
            )


@contextmanager
def _list_lock(source: str, tenant: Tenant | None) -> Iterator[None]:
    key = list_key(source, tenant)
    if not try_dnc_import_lock(key):
        raise Refused(
            _("another import of this list is under way: try again once it is done"),
            field="source",
            status=409,
        )
    try:
        yield
    finally:
        try:
            release_dnc_import_lock(key)
        except Exception:  # noqa: BLE001 - the session is unusable; closing it frees the lock
            logger.exception("could not release the import lock of %s", key)
            connection.close()


def _refuse_inside_a_transaction() -> None:
    if connection.in_atomic_block:
        # The import commits as it goes (its progress, its load, the swap) and detaches the
        # superseded version CONCURRENTLY, which no transaction block may do.
        raise RuntimeError("a do-not-call list import runs outside any transaction")


# --- the command's import ----------------------------------------------------------------------


@names_its_actor
def dnc_list_import(
    *,
    actor,
    source: str,
    tenant: Tenant | None,
    path: Path | str,
    version: str,
    delivered_at: datetime,
    max_rejected: int = 0,
    file_name: str = "",
    on_progress: ProgressHook | None = None,
) -> DncList:
    """Import `path` as a new version of the list (`manage.py import_dnc_list`): the version in
    force, or DncImportFailed (the version failed, on the trail) or Refused (nothing started).
    `on_progress` is called with the version after each committed batch, and once more when
    the whole file is loaded and indexed, before the swap."""
    _refuse_inside_a_transaction()
    rule = import_refusal_check(
        actor=actor,
        source=source,
        tenant=tenant,
        version=version,
        delivered_at=delivered_at,
        max_rejected=max_rejected,
    )
    path = Path(path)
    if not path.is_file():
        raise Refused(format_lazy(_("no file at {path}"), path=path), field="file")
    with _list_lock(source, tenant):
        _refuse_another_import(source, tenant, lock_held=True)
        dnc_list = DncList.objects.create(
            source=source,
            tenant=tenant,
            version=version.strip(),
            delivered_at=delivered_at,
            status=DncListStatus.BUILDING,
            file_name=(file_name or path.name)[:255],
            file_size=path.stat().st_size,
            rejected_allowed=max_rejected,
            imported_by=actor if getattr(actor, "pk", None) else None,
            imported_by_label=_actor_label(actor),
        )
        return _import(dnc_list, path, rule, on_progress)


def _actor_label(actor) -> str:
    if actor is None:
        return "command:import_dnc_list"
    if hasattr(actor, "get_username"):
        return actor.get_username()[:150]
    return str(actor)[:150]


# --- the admin's upload, imported by the worker ------------------------------------------------


def upload_root() -> Path:
    return Path(settings.DNC_UPLOAD_ROOT)


def upload_path(name: str) -> Path:
    """The stored upload called `name` (as the task receives it): only a name this module
    gives, inside DNC_UPLOAD_ROOT."""
    if not UPLOAD_NAME.match(name or ""):
        raise ValueError(f"not an uploaded do-not-call list: {name!r}")
    return upload_root() / name


def _store_upload(list_id: int, upload) -> str:
    """The upload written whole, synced to disk and renamed into place before the row commits:
    the worker finds it, even after a crash of the web process once committed."""
    root = upload_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{list_id}.upload"
    partial = root / f"{name}.partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        for chunk in upload.chunks():
            stream.write(chunk)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, root / name)
    folder = os.open(root, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return name


def dnc_list_upload_check(
    *,
    actor,
    source: str,
    tenant: Tenant | None,
    version: str,
    delivered_at: datetime | None,
    max_rejected: int,
    size: int,
) -> SourceRule:
    """Whether a file of `size` bytes may be uploaded as a new version (the admin's form asks
    it too): import_refusal_check's rules, the size, and no other import of the list under way
    or waiting."""
    rule = import_refusal_check(
        actor=actor,
        source=source,
        tenant=tenant,
        version=version,
        delivered_at=delivered_at,
        max_rejected=max_rejected,
    )
    if size > settings.DNC_UPLOAD_MAX_BYTES:
        raise Refused(
            format_lazy(
                _(
                    "the file is larger than {dnc_upload_max_bytes} bytes "
                    "(DNC_UPLOAD_MAX_BYTES): import it with manage.py import_dnc_list"
                ),
                dnc_upload_max_bytes=grouped(settings.DNC_UPLOAD_MAX_BYTES),
            ),
            field="file",
            status=413,
        )
    if not size:
        raise Refused(_("the file is empty"), field="file")
    _refuse_another_import(source, tenant, lock_held=False)
    return rule


@names_its_actor
@transaction.atomic
def dnc_list_upload(
    *,
    actor,
    source: str,
    tenant: Tenant | None,
    upload,
    version: str,
    delivered_at: datetime,
    max_rejected: int = 0,
) -> DncList:
    """A list's file uploaded in the admin: stored durably (DNC_UPLOAD_ROOT), a `building`
    version, and the worker's task sent once this commits (compliance.tasks.import_dnc_list),
    which imports it as `dnc_list_import` does and removes the file."""
    dnc_list_upload_check(
        actor=actor,
        source=source,
        tenant=tenant,
        version=version,
        delivered_at=delivered_at,
        max_rejected=max_rejected,
        size=upload.size,
    )
    dnc_list = DncList.objects.create(
        source=source,
        tenant=tenant,
        version=version.strip(),
        delivered_at=delivered_at,
        status=DncListStatus.BUILDING,
        file_name=os.path.basename(upload.name or "")[:255],
        file_size=upload.size,
        rejected_allowed=max_rejected,
        imported_by=actor,
        imported_by_label=_actor_label(actor),
    )
    name = _store_upload(dnc_list.pk, upload)
    try:
        event_record(
            action="dnc_list.uploaded",
            tenant=tenant,
            target=dnc_list,
            extra={
                "source": source,
                "version": dnc_list.version,
                "file_size": dnc_list.file_size,
                "max_rejected": max_rejected,
            },
        )
    except BaseException:
        upload_path(name).unlink(missing_ok=True)
        raise
    # By name: compliance.tasks imports this module.
    from ..tasks import import_dnc_list

    transaction.on_commit(lambda: import_dnc_list.delay(dnc_list.pk, name))
    return dnc_list


def dnc_list_import_upload(*, dnc_list_id: int, upload_name: str) -> DncList | None:
    """The worker's half of an upload: imports the stored file into its `building` version,
    then removes the file, whatever happened. A version no longer building (imported, failed,
    or gone) is left as it is: the task may be delivered twice. A version whose uploader may no
    longer import it fails, on the trail."""
    _refuse_inside_a_transaction()
    path = upload_path(upload_name)
    try:
        dnc_list = (
            DncList.objects.select_related("tenant", "imported_by").filter(pk=dnc_list_id).first()
        )
        if dnc_list is None or dnc_list.status != DncListStatus.BUILDING:
            return dnc_list
        try:
            rule = import_refusal_check(
                actor=dnc_list.imported_by,
                source=dnc_list.source,
                tenant=dnc_list.tenant,
                version=dnc_list.version,
                delivered_at=dnc_list.delivered_at,
                max_rejected=dnc_list.rejected_allowed,
            )
            if not path.is_file():
                raise Refused(_("the uploaded file is gone: upload it again"), field="file")
            with _list_lock(dnc_list.source, dnc_list.tenant):
                return _import(dnc_list, path, rule, None)
        except DncImportFailed as failed:
            return failed.dnc_list
        except Refused as refusal:
            return _fail(dnc_list, refusal.message, _Totals())
    finally:
        path.unlink(missing_ok=True)


# --- the import itself -------------------------------------------------------------------------


@dataclass
class _Totals:
    count: int = 0
    lines: int = 0
    bytes: int = 0
    rejected: int = 0
    first_rejections: list[Rejection] = field(default_factory=list)
    stopped_at: int = 0

    @classmethod
    def of(cls, dnc_list: DncList) -> _Totals:
        """What a version had read when its import died."""
        return cls(
            lines=dnc_list.lines_read,
            bytes=dnc_list.bytes_read,
            rejected=dnc_list.rejected_count,
            first_rejections=[
                Rejection(int(item.get("line", 0)), str(item.get("reason", "")))
                for item in dnc_list.rejected_lines or []
                if isinstance(item, dict)
            ],
        )

    def add(self, rejections: list[Rejection]) -> None:
        self.rejected += len(rejections)
        room = REPORTED_REJECTIONS - len(self.first_rejections)
        if room > 0:
            self.first_rejections.extend(rejections[:room])

    @property
    def rejected_lines(self) -> list[dict[str, object]]:
        return [rejection.as_json() for rejection in self.first_rejections]


def _import(
    dnc_list: DncList, path: Path, rule: SourceRule, on_progress: ProgressHook | None
) -> DncList:
    """Load, index and swap in `dnc_list` (building, its list's lock held), in one
    transaction; its progress written meanwhile by a connection of its own."""
    region = rule.default_region or dnc_list.tenant.country_code
    numbers = ListNumberReader(country=rule.country, default_region=region)
    totals = _Totals()
    dnc_list_leftovers_clean(source=dnc_list.source, tenant=dnc_list.tenant, keep=dnc_list.pk)
    progress = None
    try:
        files = ListFileReader(path, numbers=numbers)
        DncList.objects.filter(pk=dnc_list.pk).update(file_size=files.size)
        dnc_list.file_size = files.size
        progress = _Progress(dnc_list, on_progress)
        with transaction.atomic():
            _create_table(dnc_list.pk)
            _load(dnc_list, files, totals, progress)
            if totals.rejected > dnc_list.rejected_allowed:
                raise _Failure(_rejections_reason(totals, dnc_list.rejected_allowed))
            if not totals.count:
                raise _Failure("the file holds no number")
            _index(entries_table(dnc_list.pk))
            dnc_list.file_sha256 = files.sha256
            progress.write(totals, loaded=True)
            superseded = _swap(dnc_list, totals)
    except FileRefused as refused:
        raise DncImportFailed(_fail(dnc_list, refused.reason, totals), refused.reason) from None
    except _Failure as failure:
        raise DncImportFailed(_fail(dnc_list, failure.reason, totals), failure.reason) from None
    except BaseException as error:
        # A database error, a bug, a signal turned into an exception: the version fails, the
        # one in force stays. The error goes on to the caller.
        try:
            _fail(dnc_list, f"the import stopped: {type(error).__name__}: {error}", totals)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            logger.exception("could not record the failure of do-not-call list %s", dnc_list.pk)
        raise
    finally:
        if progress is not None:
            progress.close()
    for previous in superseded:
        _drop_table(previous)
    return dnc_list


class _Progress:
    """The version's progress (lines and bytes read, numbers, rejected lines), written every
    PROGRESS_LINES lines or PROGRESS_SECONDS by a connection of its own, in its own short
    transactions: the load's transaction shows nothing to others until it commits, the admin's
    page and the terminal follow it through this. `on_progress` is called after each write."""

    def __init__(self, dnc_list: DncList, on_progress: ProgressHook | None):
        self.dnc_list = dnc_list
        self.on_progress = on_progress
        self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        self.written_at = time.monotonic()
        self.lines_written = 0

    def due(self, totals: _Totals) -> bool:
        return (
            totals.lines - self.lines_written >= PROGRESS_LINES
            or time.monotonic() - self.written_at >= PROGRESS_SECONDS
        )

    def write(self, totals: _Totals, *, loaded: bool = False) -> None:
        dnc_list = self.dnc_list
        dnc_list.lines_read = totals.lines
        # Read whole, it is at 100% only once indexed, before the swap.
        dnc_list.bytes_read = (
            dnc_list.file_size if loaded else min(totals.bytes, dnc_list.file_size - 1)
        )
        dnc_list.entry_count = totals.count
        dnc_list.rejected_count = totals.rejected
        dnc_list.rejected_lines = totals.rejected_lines
        with self.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE compliance_dnclist SET lines_read = %s, bytes_read = %s, "
                "entry_count = %s, rejected_count = %s, rejected_lines = %s::jsonb "
                "WHERE id = %s AND status = %s",
                [
                    dnc_list.lines_read,
                    dnc_list.bytes_read,
                    dnc_list.entry_count,
                    dnc_list.rejected_count,
                    json.dumps(dnc_list.rejected_lines),
                    dnc_list.pk,
                    DncListStatus.BUILDING,
                ],
            )
        self.written_at = time.monotonic()
        self.lines_written = totals.lines
        if self.on_progress is not None:
            self.on_progress(dnc_list)

    def close(self) -> None:
        self.connection.close()


def _rejections_reason(totals: _Totals, allowed: int) -> str:
    first = totals.first_rejections[0]
    counted = f"{totals.rejected:,} rejected lines"
    if totals.stopped_at:
        counted = f"at least {counted} (reading stopped at line {totals.stopped_at:,})"
    return (
        f"{counted}, {allowed:,} allowed: nothing was imported; the first: line {first.line}: "
        f"{first.reason}"
    )


def _execute(sql: str, parameters: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchall() if cursor.description else []


def _create_table(list_id: int) -> None:
    """The version's table, in the load's transaction (which COPY FREEZE needs)."""
    table = entries_table(list_id)
    # A table left by an earlier attempt at this very version (a redelivered task).
    _execute(f"DROP TABLE IF EXISTS {table}")  # nosec B608 # an id
    _execute(
        f"CREATE TABLE {table} ("  # nosec B608 # an id
        f"list_id bigint NOT NULL DEFAULT {int(list_id)} "
        f"CONSTRAINT {table}_list CHECK (list_id = {int(list_id)}), "
        "number bigint NOT NULL)"
    )


def _load(dnc_list: DncList, files: ListFileReader, totals: _Totals, progress: _Progress) -> None:
    """Stream the file's numbers into the version's table: one COPY, FREEZE (the table is
    this transaction's own: its rows are written visible to all once it commits, so that
    neither the index build nor the first checks rewrite every page to mark them so)."""
    table = entries_table(dnc_list.pk)
    allowed = dnc_list.rejected_allowed
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        copy_sql = f"COPY {table} (number) FROM STDIN (FREEZE)"  # nosec B608 # an id
        with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
            for piece in files.pieces():
                if piece.numbers:
                    copy.write(piece.numbers)
                totals.count += piece.count
                totals.lines = piece.lines_read
                totals.bytes = piece.bytes_read
                if piece.rejections:
                    totals.add(piece.rejections)
                    if totals.rejected > allowed + REPORTED_REJECTIONS:
                        # Enough to report; the file is refused whatever follows.
                        totals.stopped_at = piece.rejections[-1].line
                        raise _Failure(_rejections_reason(totals, allowed))
                if progress.due(totals):
                    progress.write(totals)


def _index(table: str) -> None:
    # The sort of tens of millions of numbers, in memory rather than in temporary files.
    _execute("SET LOCAL maintenance_work_mem = '256MB'")
    _execute(f"CREATE INDEX {table}_number ON {table} (number)")  # nosec B608 # an id
    _execute(f"ANALYZE {table}")  # nosec B608 # an id


def _swap(dnc_list: DncList, totals: _Totals) -> list[int]:
    """The end of the load's transaction: the new version attached and in force, the one it
    replaces superseded, the event; all or nothing. Returns the superseded versions' ids."""
    now = timezone.now()
    with transaction.atomic():
        locked = DncList.objects.select_for_update().get(pk=dnc_list.pk)
        if locked.status != DncListStatus.BUILDING:
            raise _Failure(f"the version was marked {locked.get_status_display()} meanwhile")
        previous = list(
            DncList.objects.select_for_update()
            .filter(source=dnc_list.source, tenant=dnc_list.tenant, status=DncListStatus.IN_FORCE)
            .order_by("pk")
        )
        table = entries_table(dnc_list.pk)
        _execute(
            f"ALTER TABLE {ENTRIES} ATTACH PARTITION {table} "  # nosec B608 # an id
            f"FOR VALUES IN ({int(dnc_list.pk)})"
        )
        DncList.objects.filter(pk__in=[p.pk for p in previous]).update(
            status=DncListStatus.SUPERSEDED, superseded_at=now
        )
        dnc_list.status = DncListStatus.IN_FORCE
        dnc_list.imported_at = now
        dnc_list.entry_count = totals.count
        dnc_list.lines_read = totals.lines
        dnc_list.bytes_read = dnc_list.file_size
        dnc_list.rejected_count = totals.rejected
        dnc_list.rejected_lines = totals.rejected_lines
        dnc_list.save(
            update_fields=[
                "status",
                "imported_at",
                "entry_count",
                "lines_read",
                "bytes_read",
                "rejected_count",
                "rejected_lines",
                "file_sha256",
            ]
        )
        event_record(
            action="dnc_list.imported",
            tenant=dnc_list.tenant_id,
            target=dnc_list,
            extra={
                "source": dnc_list.source,
                "version": dnc_list.version,
                "delivered_at": dnc_list.delivered_at,
                "numbers": totals.count,
                "lines": totals.lines,
                "rejected": totals.rejected,
                "rejected_allowed": dnc_list.rejected_allowed,
                "file_name": dnc_list.file_name,
                "file_size": dnc_list.file_size,
                "file_sha256": dnc_list.file_sha256,
                "superseded": [{"id": p.pk, "version": p.version} for p in previous],
                "seconds": round((now - dnc_list.started_at).total_seconds(), 1),
            },
        )
    return [p.pk for p in previous]


def _fail(dnc_list: DncList, reason: str, totals: _Totals) -> DncList:
    """The version failed (its load's transaction rolled back, its table with it; any table of
    an earlier attempt dropped): the row marked with the reason and what was read, the event
    written. The version in force is untouched."""
    _drop_table(dnc_list.pk)
    # Kept, and on the trail, in English (a list's refusal may be a translatable message).
    reason = in_english(reason)[: limits.DNC_FAILURE]
    with transaction.atomic():
        DncList.objects.filter(pk=dnc_list.pk, status=DncListStatus.BUILDING).update(
            status=DncListStatus.FAILED,
            failure=reason,
            lines_read=totals.lines,
            bytes_read=totals.bytes,
            entry_count=0,
            rejected_count=totals.rejected,
            rejected_lines=totals.rejected_lines,
        )
        event_record(
            action="dnc_list.import_failed",
            tenant=dnc_list.tenant_id,
            target=dnc_list,
            extra={
                "source": dnc_list.source,
                "version": dnc_list.version,
                "reason": reason,
                "lines": totals.lines,
                "rejected": totals.rejected,
                "file_name": dnc_list.file_name,
            },
        )
    dnc_list.refresh_from_db()
    return dnc_list


def _drop_table(list_id: int) -> None:
    """A version's table gone: detached first when attached (CONCURRENTLY: queries reading it
    finish, new ones never see it; a detach an earlier crash left pending is finished), then
    dropped. A failure is logged: the next import's clean-up tries again."""
    table = entries_table(list_id)
    try:
        attached = _execute(
            "SELECT i.inhdetachpending FROM pg_inherits i "
            "WHERE i.inhrelid = to_regclass(%s) AND i.inhparent = %s::regclass",
            [table, ENTRIES],
        )
        if attached:
            how = "FINALIZE" if attached[0][0] else "CONCURRENTLY"
            _execute(f"ALTER TABLE {ENTRIES} DETACH PARTITION {table} {how}")  # nosec B608
        _execute(f"DROP TABLE IF EXISTS {table}")  # nosec B608 # an id
    except Exception:  # noqa: BLE001 - left for the next import's clean-up
        logger.exception("could not drop %s", table)


def dnc_list_leftovers_clean(*, source: str, tenant: Tenant | None, keep: int | None = None) -> int:
    """What dead imports of this list left behind, cleaned up (its import lock held, so no
    import of it is running): versions still `building` that are not waiting for their worker
    (`_waiting`) marked failed (on the trail), their tables and uploaded files removed; the
    tables of its superseded and failed versions dropped (a crash between a swap and its drop);
    tables of versions that do not exist dropped; uploaded files nobody claims removed.
    `keep` is the version being imported. Returns how many tables were dropped."""
    _refuse_inside_a_transaction()
    tables = {
        int(name.rsplit("_", 1)[1])
        for (name,) in _execute(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname ~ %s",
            [rf"^{ENTRIES}_[0-9]+$"],
        )
    }
    rows = {
        row.pk: row
        for row in DncList.objects.filter(pk__in=tables)
        | DncList.objects.filter(source=source, tenant=tenant, status=DncListStatus.BUILDING)
    }
    dropped = 0
    for list_id in sorted(tables | set(rows)):
        if list_id == keep:
            continue
        row = rows.get(list_id)
        if row is None:
            _drop_table(list_id)
            dropped += 1
            continue
        if row.source != source or row.tenant_id != getattr(tenant, "pk", None):
            continue
        if row.status == DncListStatus.BUILDING:
            if _waiting(row):
                continue  # uploaded, its task not run yet (or to run again)
            _fail(
                row,
                "the import was interrupted before it finished (its process stopped)",
                _Totals.of(row),
            )
            (upload_root() / f"{list_id}.upload").unlink(missing_ok=True)
            dropped += list_id in tables
        elif row.status != DncListStatus.IN_FORCE and list_id in tables:
            _drop_table(list_id)
            dropped += 1
    _uploads_sweep()
    return dropped


def _uploads_sweep() -> None:
    """Uploaded files whose import is over (the worker died before removing one) removed; a
    file of no version at all only once a day old (its upload may be committing now)."""
    root = upload_root()
    if not root.is_dir():
        return
    files = {}
    for path in root.iterdir():
        found = UPLOAD_NAME.match(path.name.removesuffix(".partial"))
        if found is not None:
            files.setdefault(int(found["id"]), []).append(path)
    statuses = dict(DncList.objects.filter(pk__in=files).values_list("pk", "status"))
    cutoff = time.time() - ORPHAN_UPLOAD_SECONDS
    for list_id, paths in files.items():
        status = statuses.get(list_id)
        if status == DncListStatus.BUILDING:
            continue
        for path in paths:
            try:
                if status is not None or path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                logger.exception("could not remove the unclaimed upload %s", path)
