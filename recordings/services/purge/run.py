"""The nightly purge run: every tenant's expired, unheld recordings deleted in batches that
each commit on their own (tenant locks, SKIP LOCKED), on one or more worker connections, the
files of committed batches removed meanwhile, and the run's counts kept on its PurgeRun."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Sequence
from datetime import date

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import Outcome
from audit.services import event_record
from compliance.models import Tenant
from kit import locks

from ...models import PendingFileRemoval, PurgeRun, PurgeRunStatus, Recording
from .deletion import ROW_FIELDS, delete_rows, jit_off
from .files import FileRemover, remove_pending_files
from .preview import PreviewUnsettled, purge_preview

logger = logging.getLogger(__name__)

# A batch is one transaction; 5,000 recordings keep each one well under a second (row locks,
# the audit chain's head) while making the per-batch round trips and commits negligible.
DEFAULT_BATCH_SIZE = 5000
# Batches of one tenant run on this many connections at once (SKIP LOCKED keeps them disjoint):
# while one waits for PostgreSQL, the other does its Python work.
DEFAULT_WORKERS = 2


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
    """One batch: expired, active recordings of the tenant that no active hold holds and no
    restriction (GDPR Art. 18) keeps, oldest first, locked FOR UPDATE SKIP LOCKED (concurrent
    workers and runs take disjoint batches), as rows of ROW_FIELDS. Run in the transaction that
    holds the tenant's deletion lock, so that the holds and restrictions it checks are the
    current ones until the commit (placing either takes the lock exclusively)."""
    return (
        Recording.objects.expired(on=on)
        .filter(tenant=tenant)
        .not_on_hold()
        .not_restricted()
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("retain_until", "pk")
        .values_list(*ROW_FIELDS)[:batch_size]
    )


def _select_batch(tenant: Tenant, on: date, batch_size: int) -> list[tuple]:
    return list(purge_batch_queryset(tenant, on=on, batch_size=batch_size))


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


def _purge_batch(
    tenant: Tenant, on: date, run: PurgeRun, batch_size: int, remover: FileRemover, progress
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
            jit_off()
            removed, failures = remover.take()
            names = delete_rows(
                rows,
                reason=None,
                run_id=run.pk,
                action="recording.purged",
                removed=removed,
                checks_now=own_transaction,
            )
            PurgeRun.objects.filter(pk=run.pk).update(
                purged=F("purged") + len(rows),
                files_removed=F("files_removed") + len(removed),
                failed=F("failed") + len(failures),
            )
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
    remover: FileRemover,
    progress: _Progress,
) -> None:
    """Batches until one comes back short (nothing left but what other transactions hold). With
    more than a batch to do (`expected`, from the preview, or a first batch that came back full),
    `workers` connections run batches at once."""
    on = tenant.today()

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


def _settle_files(remover: FileRemover, progress: _Progress) -> None:
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
        expired_found=sum(
            row["to_delete"] + row["held_back"] + row["restricted"] for row in preview
        ),
        skipped_held=sum(row["held_back"] for row in preview),
        errors=unsettled,
    )
    if dry_run:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        return run
    locks.try_session_lock(locks.PURGE_RUN_NAMESPACE, run.pk)
    remover, progress = FileRemover(), _Progress(run)
    expected: dict[int, int] = {}
    for row in preview:
        expected[row["tenant_id"]] = expected.get(row["tenant_id"], 0) + row["to_delete"]
    try:
        _adopt_interrupted_runs(run)
        # Files whose records an earlier, interrupted run deleted.
        removed, failures = remove_pending_files()
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
