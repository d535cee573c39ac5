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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, Q
from django.utils import timezone

from audit.models import Outcome
from audit.services import Event, event_record, events_record_bulk
from compliance.models import ExpiryAction, LegalHold, RetentionPolicy, Tenant
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
    matching_active_holds,
)
from ..storage import recordings_storage

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


def _hmac(message: str) -> str:
    key = settings.AUDIT_HMAC_KEY.encode()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def call_id_hash(tenant_id: int, call_id: str) -> str:
    """Keyed, so that nobody without AUDIT_HMAC_KEY can test guesses of call ids against it."""
    return _hmac(f"custodia-call-id|{tenant_id}|{call_id}")


def certificate_message(certificate: DeletionCertificate) -> str:
    values = {}
    for name in CERTIFICATE_FIELDS:
        value = getattr(certificate, name)
        if isinstance(value, datetime):
            value = value.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif isinstance(value, date):
            value = value.isoformat()
        values[name] = value
    return "custodia-deletion-certificate|" + json.dumps(values, sort_keys=True)


def certificate_is_valid(certificate: DeletionCertificate) -> bool:
    return hmac.compare_digest(_hmac(certificate_message(certificate)), certificate.signature)


# --- the deletion core -------------------------------------------------------------------------


def _policy_versions(recordings: Iterable[Recording]) -> dict[int, int | None]:
    """The history id of each policy as it stands now: which version of the rule deleted."""
    policy_ids = {r.retention_policy_id for r in recordings if r.retention_policy_id}
    history = RetentionPolicy.history.model
    latest = (
        history.objects.filter(id__in=policy_ids).values("id").annotate(version=Max("history_id"))
    )
    return {row["id"]: row["version"] for row in latest}


def _delete_locked(
    recordings: list[Recording], *, reason: str | None, run: PurgeRun | None, action: str
) -> list[str]:
    """Delete recordings already locked (FOR UPDATE) and checked against holds, inside the
    caller's transaction. Returns the storage names whose files are now pending removal."""
    now = timezone.now()
    versions = _policy_versions(recordings)
    actions = dict(
        RetentionPolicy.objects.filter(
            pk__in={r.retention_policy_id for r in recordings if r.retention_policy_id}
        ).values_list("pk", "action_at_expiry")
    )
    certificates, events, pending = [], [], []
    to_delete, to_anonymise = [], []
    for recording in recordings:
        final_reason = reason or recording.deletion_reason
        certificate = DeletionCertificate(
            recording_id=recording.pk,
            tenant_id=recording.tenant_id,
            call_id_hash=call_id_hash(recording.tenant_id, recording.call_id),
            audio_sha256=recording.audio_sha256,
            storage_name=recording.storage_name,
            purpose_code=recording.purpose.code,
            policy_id=recording.retention_policy_id,
            policy_version=versions.get(recording.retention_policy_id),
            retain_until=recording.retain_until,
            reason=final_reason,
            purge_run=run,
            deleted_at=now,
        )
        certificate.signature = _hmac(certificate_message(certificate))
        certificates.append(certificate)
        events.append(
            Event(
                action=action,
                tenant_id=recording.tenant_id,
                target_type="recordings.recording",
                target_id=str(recording.pk),
                target_label=f"call {recording.call_id}"[:200],
                purpose=recording.purpose.code,
                extra={
                    "reason": final_reason,
                    "retain_until": recording.retain_until.isoformat(),
                    "audio_sha256": recording.audio_sha256,
                    "purge_run": run.pk if run else None,
                },
                occurred_at=now,
            )
        )
        if recording.storage_name:
            pending.append(PendingFileRemoval(storage_name=recording.storage_name, purge_run=run))
        keep_metadata = (
            final_reason == DeletionReason.EXPIRED
            and actions.get(recording.retention_policy_id) == ExpiryAction.ANONYMISE
        )
        (to_anonymise if keep_metadata else to_delete).append(recording.pk)
    DeletionCertificate.objects.bulk_create(certificates)
    PendingFileRemoval.objects.bulk_create(pending, ignore_conflicts=True)
    events_record_bulk(events)
    history = Recording.history.model
    if to_delete:
        # Set-based deletes, not Django's collector: it would load every row and fire
        # django-simple-history's per-row signal (a history INSERT per row, deleted again right
        # after). Everything that points at a recording is removed explicitly first.
        AccessGrant.objects.filter(recording_id__in=to_delete).delete()
        LegalHold.recordings.through.objects.filter(recording_id__in=to_delete).delete()
        Recording.objects.filter(pk__in=to_delete)._raw_delete(Recording.objects.db)
        # Metadata history holds the same personal data: it goes with the record.
        history.objects.filter(id__in=to_delete)._raw_delete(history.objects.db)
    if to_anonymise:
        personal = {"customer_number": "", "subject_reference": "", "agent_code": ""}
        history.objects.filter(id__in=to_anonymise).update(**personal, agent=None)
        Recording.objects.filter(pk__in=to_anonymise).update(
            **personal,
            agent=None,
            status=Status.PURGED,
            wrapped_key=None,  # crypto-shredding: every copy of the audio is now unreadable
            storage_name="",
        )
    return [item.storage_name for item in pending]


def remove_pending_files(names: Iterable[str] | None = None, *, run: PurgeRun | None = None):
    """Unlink files whose records are gone; a file that cannot be removed stays pending (and is
    reported), the others proceed. Returns (removed, failures)."""
    pending = PendingFileRemoval.objects.order_by("pk")
    if names is not None:
        pending = pending.filter(storage_name__in=list(names))
    storage = recordings_storage()
    removed, failures = 0, []
    for item in pending.iterator(chunk_size=1000):
        try:
            storage.delete(item.storage_name)  # a file already gone is not an error
        except OSError as error:
            failures.append({"file": item.storage_name, "error": str(error)})
            logger.warning("purge: could not remove %s: %s", item.storage_name, error)
            continue
        PendingFileRemoval.objects.filter(pk=item.pk).delete()
        removed += 1
    return removed, failures


# --- erasure of one recording ------------------------------------------------------------------


def recording_erase(*, actor, recording: Recording, reason: str = DeletionReason.ERASURE_REQUEST):
    """Delete one recording now (granted erasure request, withdrawn consent). Refused, with the
    holds named and the refusal audited, when a legal hold applies (GDPR Art. 17(3)(b),(e))."""
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
            names = _delete_locked([locked], reason=reason, run=None, action="recording.erased")
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
    remove_pending_files(names)


# --- the purge -------------------------------------------------------------------------------


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


def purge_preview(*, for_next_run: bool = True) -> list[dict]:
    """What a run would delete, per tenant and purpose, and what holds keep back: by default the
    next scheduled run; with for_next_run=False, a run started now."""
    rows = []
    for tenant in Tenant.objects.order_by("name"):
        on = next_run_date(tenant) if for_next_run else tenant_today(tenant)
        expired = (
            Recording.objects.expired(on=on)
            .filter(tenant=tenant)
            .annotate(held=Exists(matching_active_holds()))
            .values("purpose__code", "deletion_reason")
            .annotate(total=Count("pk"), held_back=Count("pk", filter=Q(held=True)))
            .order_by("purpose__code", "deletion_reason")
        )
        for row in expired:
            rows.append(
                {
                    "tenant": tenant.name,
                    "tenant_id": tenant.pk,
                    "purpose": row["purpose__code"],
                    "reason": row["deletion_reason"],
                    "to_delete": row["total"] - row["held_back"],
                    "held_back": row["held_back"],
                }
            )
    return rows


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


def _purge_tenant(tenant: Tenant, run: PurgeRun, *, batch_size: int) -> None:
    expired = Recording.objects.expired(on=tenant_today(tenant)).filter(tenant=tenant)
    while True:
        with transaction.atomic():
            locks.deletion_lock(tenant.pk)
            batch = list(
                expired.not_on_hold()
                .select_related("purpose")
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("retain_until", "pk")[:batch_size]
            )
            if not batch:
                return
            names = _delete_locked(batch, reason=None, run=run, action="recording.purged")
        removed, failures = remove_pending_files(names, run=run)
        run.purged += len(batch)
        run.files_removed += removed
        run.failed += len(failures)
        run.errors = [*run.errors, *failures][:1000]
        run.save(update_fields=["purged", "files_removed", "failed", "errors"])


def purge_expired_recordings(
    *, batch_size: int = 1000, dry_run: bool = False, triggered_by: str = ""
) -> PurgeRun:
    """Delete every expired, unheld recording of every tenant, in batches that each commit on
    their own; safe to run concurrently (tenant locks, SKIP LOCKED) and to kill at any instant."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    preview = purge_preview(for_next_run=False)
    run = PurgeRun.objects.create(
        started_at=timezone.now(),
        status=PurgeRunStatus.DRY_RUN if dry_run else PurgeRunStatus.RUNNING,
        triggered_by=triggered_by[:150],
        preview=preview,
        expired_found=sum(row["to_delete"] + row["held_back"] for row in preview),
        skipped_held=sum(row["held_back"] for row in preview),
    )
    if dry_run:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        return run
    locks.try_session_lock(locks.PURGE_RUN_NAMESPACE, run.pk)
    try:
        _adopt_interrupted_runs(run)
        # Files whose records an earlier, interrupted run deleted.
        removed, failures = remove_pending_files(run=run)
        run.files_removed += removed
        run.failed += len(failures)
        run.errors = [*run.errors, *failures]
        for tenant in Tenant.objects.order_by("pk"):
            if not locks.try_session_lock(locks.PURGE_TENANT_NAMESPACE, tenant.pk):
                run.errors = [*run.errors, f"{tenant.name}: another purge run is on it"]
                continue
            try:
                _purge_tenant(tenant, run, batch_size=batch_size)
            finally:
                locks.release_session_lock(locks.PURGE_TENANT_NAMESPACE, tenant.pk)
        run.status = PurgeRunStatus.FINISHED
    except Exception as error:
        run.status = PurgeRunStatus.FAILED
        run.errors = [*run.errors, f"{type(error).__name__}: {error}"]
        raise
    finally:
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
    for certificate in DeletionCertificate.objects.order_by("pk").iterator(chunk_size=2000):
        if not certificate_is_valid(certificate):
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
