"""The export answering an access (GDPR Art. 15) or portability (Art. 20) request: one ZIP holding
README.txt (in the requester's language), subject.json (recordings' metadata, consents, access
log: recordings/subject_requests/document.py) and the audio of the subject's active recordings.

How it is made, and why:

- Nothing is disclosed before the requester's identity is verified (Art. 12(6)), nor for another
  kind of request, nor once the request is closed: `export_refusal`, checked when the export is
  asked for and again when it is built.
- Only the request's handler, still a compliance officer of its tenant (or a platform
  operator), asks for it and downloads it: `may_handle_export`.
- The ZIP is streamed (stdlib zipfile writing to a sink it cannot seek, so data descriptors and
  ZIP64 where needed) through chunked AES-GCM into private storage: each recording's audio is
  decrypted piece by piece by the same decryption listening uses
  (recordings/storage.py::plain_audio_chunks), never copied in clear, and the worker holds a
  few megabytes whatever the export's size.
- The ZIP is encrypted like a recording (its own data key, wrapped by the tenant's key; bound to
  its tenant and storage name), written under a partial name and renamed when whole
  (recordings/storage.py::publish); the row turns `ready` in the same transaction. A worker killed
  mid-way leaves a `building` row and at most a partial file, which no record claims: a re-run of
  the task (Celery redelivers it) removes it and starts again, the nightly job cleans up a build
  nobody re-ran, and the orphan sweep would remove the file a day later in any case.
- Downloadable for SUBJECT_EXPORT_DAYS, then deleted by the nightly job, its key destroyed
  (`subject_exports_expire`). Asking, building, failing, each download, each refusal and the
  deletion are audit events on the request.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
import zipfile
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.models import Outcome
from audit.services import event_record
from compliance.models import RequestKind, RequestStatus, SubjectRequest
from compliance.roles import tenant_permits
from kit import locks
from kit.refusals import Refused

from .. import crypto
from ..models import ExportStatus, Recording, Status, SubjectExport
from ..storage import (
    ChunkedContent,
    decrypted_chunks,
    partial_name,
    plain_audio_chunks,
    publish,
    recordings_storage,
    store_encrypted,
)
from .document import Listing, document_pieces, in_zone, listings
from .finder import subject_data_find
from .readme import readme_text

logger = logging.getLogger(__name__)

EXPORTABLE_KINDS = (RequestKind.ACCESS, RequestKind.PORTABILITY)
# The build task's hard time limit (recordings/tasks.py): a `building` export older than this
# whose build holds no lock was left behind by a killed worker.
BUILD_TIME_LIMIT_SECONDS = 2 * 3600
EXPORT_FOLDER = "exports"


def new_export_name(tenant_id: int) -> str:
    """Random, never derived from the request (no guessable names)."""
    return f"{EXPORT_FOLDER}/{tenant_id}/{uuid.uuid4().hex}.zip.cstd"


# --- who, and when -------------------------------------------------------------------------------


def export_refusal(request: SubjectRequest) -> Refused | None:
    """Why the request may not be answered with an export now, or None."""
    if request.kind not in EXPORTABLE_KINDS:
        return Refused(
            format_lazy(
                _("an export answers an access or portability request, not {kind}"),
                kind=RequestKind(request.kind).label,
            ),
            field="kind",
        )
    if not request.is_open:
        return Refused(
            format_lazy(
                _("the request is closed ({status})"), status=RequestStatus(request.status).label
            ),
            field="status",
        )
    if not request.identity_verified:
        return Refused(
            _(
                "verify the requester's identity first: nothing is disclosed "
                "before (GDPR Art. 12(6))"
            ),
            field="identity_method",
        )
    return None


def may_handle_export(user, request: SubjectRequest) -> bool:
    """The request's handler who is still a compliance officer of its tenant (the role there
    carries the requests' change permission), or a platform operator."""
    if user is None or not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    return request.handled_by_id == user.pk and tenant_permits(
        user, request.tenant_id, "compliance.change_subjectrequest"
    )


def _refused_record(*, request: SubjectRequest, refusal: Refused, action: str, **extra) -> None:
    with transaction.atomic():
        event_record(
            action=action,
            tenant=request.tenant_id,
            target=request,
            outcome=Outcome.DENIED,
            extra={"field": refusal.field or "", "reason": refusal.for_trail, **extra},
        )


# --- asking for it -------------------------------------------------------------------------------


@names_its_actor
def subject_export_start(*, actor, request: SubjectRequest) -> SubjectExport:
    """The handler asks for the export: a `building` row, and the task that builds it sent once
    the row commits. Refused (and audited) before the identity is verified, for a request of
    another kind or closed, for anyone but the handler, or while another build is under way."""
    try:
        return _start(actor=actor, request=request)
    except Refused as refusal:
        _refused_record(request=request, refusal=refusal, action="subject_request.export_refused")
        raise


@transaction.atomic
def _start(*, actor, request: SubjectRequest) -> SubjectExport:
    locked = SubjectRequest.objects.select_for_update().select_related("tenant").get(pk=request.pk)
    if not may_handle_export(actor, locked):
        raise Refused(
            _(
                "only the request's handler, a compliance officer of its tenant, may export its "
                "data (take the request first)"
            ),
            field="actor",
            status=403,
        )
    refusal = export_refusal(locked)
    if refusal is not None:
        raise refusal
    recent = timezone.now() - timedelta(seconds=BUILD_TIME_LIMIT_SECONDS)
    if locked.exports.filter(status=ExportStatus.BUILDING, created_at__gt=recent).exists():
        raise Refused(_("an export of this request is already being built"), field="status")
    export = SubjectExport.objects.create(
        tenant_id=locked.tenant_id,
        request=locked,
        storage_name=new_export_name(locked.tenant_id),
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    event_record(
        action="subject_request.export_requested",
        tenant=locked.tenant_id,
        target=locked,
        extra={"export": export.pk},
    )
    from ..tasks import build_subject_export  # the task calls this module

    transaction.on_commit(lambda: build_subject_export.delay(export.pk))
    return export


# --- building it ---------------------------------------------------------------------------------


class _Sink:
    """What zipfile writes to: it keeps the bytes until they are drained. It has no tell() or
    seek(), so zipfile streams (data descriptors after each member)."""

    def __init__(self):
        self._pieces: list[bytes] = []

    def write(self, data) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        pieces, self._pieces = self._pieces, []
        yield from pieces


@dataclass
class _Measured:
    """The plain ZIP's bytes on their way to encryption: counted and hashed."""

    pieces: Iterable[bytes]
    size: int = 0
    digest: object = field(default_factory=hashlib.sha256)

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.size += len(piece)
            self.digest.update(piece)
            yield piece


# Small writes into subject.json are gathered into pieces of this size before deflating.
_TEXT_BATCH = 64 * 1024


def _member(name: str, when, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def zip_pieces(
    *,
    request: SubjectRequest,
    listed: list[Listing],
    recordings: dict[int, AudioRow],
    readme: str,
    document: Iterable[str],
    generated_local,
) -> Iterator[bytes]:
    """The plain ZIP, piece by piece: README.txt, subject.json, then each audio file decrypted
    piece by piece. Audio is stored (already compressed or PCM that deflates poorly and slowly);
    text is deflated."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        readme_info = _member("README.txt", generated_local, zipfile.ZIP_DEFLATED)
        archive.writestr(readme_info, readme.encode("utf-8"))
        yield from sink.drain()
        document_info = _member("subject.json", generated_local, zipfile.ZIP_DEFLATED)
        # Its size is not known in advance: ZIP64 fields from the start, whatever it grows to.
        with archive.open(document_info, "w", force_zip64=True) as member:
            batch: list[str] = []
            batched = 0
            for text in document:
                batch.append(text)
                batched += len(text)
                if batched >= _TEXT_BATCH:
                    member.write("".join(batch).encode("utf-8"))
                    batch, batched = [], 0
                    yield from sink.drain()
            member.write("".join(batch).encode("utf-8"))
        yield from sink.drain()
        zone = zoneinfo.ZoneInfo(request.tenant.time_zone)
        for listing in listed:
            if listing.audio_name is None:
                continue
            recording = recordings[listing.recording_id]
            audio = plain_audio_chunks(recording)
            started = timezone.localtime(recording.started_at, zone)
            info = _member(listing.audio_name, started, zipfile.ZIP_STORED)
            info.file_size = recording.size_bytes  # ZIP64 is chosen from it when needed
            with archive.open(info, "w") as member:
                for piece in audio:
                    member.write(piece)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()


@dataclass(frozen=True)
class AudioRow:
    """What decrypting one recording's audio needs (the fields of Recording that
    recordings/storage.py::plain_audio_chunks reads), and what its ZIP entry needs."""

    pk: int
    tenant_id: int
    storage_name: str
    wrapped_key: bytes | None
    master_key_id: str
    size_bytes: int
    started_at: object


AUDIO_FIELDS = ("pk", "tenant_id", "storage_name", "wrapped_key", "master_key_id", "size_bytes")


class _AudioRows(dict):
    """The recordings whose audio goes in the ZIP, read 500 at a time as the ZIP asks for them
    (in the export's order), as plain values: no model instances, the key material included."""

    def __init__(self, listed: list[Listing]):
        super().__init__()
        wanted = [listing.recording_id for listing in listed if listing.audio_name is not None]
        self._batches = (wanted[start : start + 500] for start in range(0, len(wanted), 500))

    def __missing__(self, key: int) -> AudioRow:
        self.clear()
        for ids in self._batches:
            rows = Recording.objects.filter(pk__in=ids, status=Status.ACTIVE)
            for values in rows.values(*AUDIO_FIELDS, "started_at"):
                self[values["pk"]] = AudioRow(**values)
            if key in self:
                return self[key]
        raise RuntimeError(
            f"recording {key} was deleted while its export was being built: build it again"
        )


def subject_export_build(*, export_id: int) -> SubjectExport:
    """Build (or build again) one export; the task's body. One build per export at a time (a
    session lock of PostgreSQL, released if the process dies); a second run while one is going
    returns at once. Idempotent: a ready or expired export is returned as it is."""
    if not locks.try_session_lock(locks.SUBJECT_EXPORT_NAMESPACE, export_id):
        return SubjectExport.objects.get(pk=export_id)
    try:
        return _build(export_id)
    finally:
        locks.release_session_lock(locks.SUBJECT_EXPORT_NAMESPACE, export_id)


def _remove_files(export: SubjectExport) -> None:
    """The partial file of an attempt, and the final one if a crash came between the rename and
    the commit. A file that cannot be removed is left to the orphan sweep."""
    storage = recordings_storage()
    for name in (partial_name(export.storage_name), export.storage_name):
        try:
            storage.delete(name)
        except OSError:
            logger.exception("export %s: could not remove %s", export.pk, name)


def _failed(export: SubjectExport, reason: str) -> SubjectExport:
    with transaction.atomic():
        locked = SubjectExport.objects.select_for_update().get(pk=export.pk)
        if locked.status != ExportStatus.BUILDING:
            return locked
        locked.status = ExportStatus.FAILED
        locked.failure = reason[:500]
        locked.save(update_fields=["status", "failure"])
        event_record(
            action="subject_request.export_failed",
            tenant=locked.tenant_id,
            target=export.request,
            outcome=Outcome.DENIED,
            extra={"export": locked.pk, "reason": locked.failure},
        )
    return locked


def _build(export_id: int) -> SubjectExport:
    export = SubjectExport.objects.select_related("request__tenant").get(pk=export_id)
    if export.status in (ExportStatus.READY, ExportStatus.EXPIRED):
        return export
    request = export.request
    # What an earlier attempt (killed, or failed) may have left.
    _remove_files(export)
    refusal = export_refusal(request)
    if refusal is not None:
        SubjectExport.objects.filter(pk=export.pk).update(status=ExportStatus.BUILDING)
        return _failed(export, refusal.message)
    export.status, export.failure, export.attempted_at = ExportStatus.BUILDING, "", timezone.now()
    export.save(update_fields=["status", "failure", "attempted_at"])
    try:
        return _write(export, request)
    except BaseException as error:  # the soft time limit and a shutdown too: clean up, re-raise
        _remove_files(export)
        _failed(export, f"{type(error).__name__}: {error}")
        raise


def _write(export: SubjectExport, request: SubjectRequest) -> SubjectExport:
    tenant = request.tenant
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    generated_at = timezone.now()
    data = subject_data_find(request)
    listed = listings(data, zone)
    audio_count = sum(1 for listing in listed if listing.audio_name is not None)
    readme = readme_text(
        language=request.language,
        kind=request.kind,
        controller=tenant.name,
        reference=request.pk,
        received=in_zone(request.received_at, zone),
        generated=in_zone(generated_at, zone),
        recordings=len(listed),
        audio_files=audio_count,
    )
    plain = _Measured(
        zip_pieces(
            request=request,
            listed=listed,
            recordings=_AudioRows(listed),
            readme=readme,
            document=document_pieces(
                request=request, data=data, listed=listed, generated_at=generated_at
            ),
            generated_local=timezone.localtime(generated_at, zone),
        )
    )
    data_key = crypto.new_data_key()
    master = crypto.current_master_key()
    binding = {"tenant_id": tenant.pk, "storage_name": export.storage_name}
    partial = partial_name(export.storage_name)
    store_encrypted(
        partial,
        ChunkedContent(crypto.encrypt_chunks(data_key, plain, **binding), size=None, name=partial),
    )
    with transaction.atomic():
        locked = SubjectExport.objects.select_for_update().get(pk=export.pk)
        if locked.status != ExportStatus.BUILDING:
            raise RuntimeError(f"export {export.pk} is {locked.status}, no longer being built")
        publish(partial, export.storage_name)
        now = timezone.now()
        locked.status = ExportStatus.READY
        locked.wrapped_key = crypto.wrap_key(data_key, master=master, **binding)
        locked.master_key_id = master.key_id
        locked.size_bytes = plain.size
        locked.sha256 = plain.digest.hexdigest()
        locked.recordings_count = len(listed)
        locked.audio_files = audio_count
        locked.ready_at = now
        locked.expires_at = now + timedelta(days=settings.SUBJECT_EXPORT_DAYS)
        locked.save()
        event_record(
            action="subject_request.export_built",
            tenant=tenant.pk,
            target=request,
            extra={
                "export": locked.pk,
                "recordings": locked.recordings_count,
                "audio_files": audio_count,
                "size_bytes": locked.size_bytes,
                "sha256": locked.sha256,
                "expires_at": locked.expires_at.isoformat(),
                "staff_names": tenant.export_names_staff,
            },
        )
    return locked


# --- downloading it ------------------------------------------------------------------------------


def subject_export_chunks(export: SubjectExport) -> Iterator[bytes]:
    """The plain ZIP, piece by piece (the last one only once the file's tag verified). Raises
    crypto.DecryptionFailed or FileNotFoundError before the first piece when it cannot be read."""
    return decrypted_chunks(
        wrapped_key=export.wrapped_key,
        master_key_id=export.master_key_id,
        tenant_id=export.tenant_id,
        storage_name=export.storage_name,
    )


def subject_export_download_record(*, user, export: SubjectExport) -> None:
    with transaction.atomic():
        event_record(
            action="subject_request.export_downloaded",
            tenant=export.tenant_id,
            target=export.request,
            extra={
                "export": export.pk,
                "user": user.get_username(),
                "sha256": export.sha256,
                "size_bytes": export.size_bytes,
            },
        )


def subject_export_download_refusal_record(*, user, export: SubjectExport, reason: str) -> None:
    with transaction.atomic():
        event_record(
            action="subject_request.export_download_denied",
            tenant=export.tenant_id,
            target=export.request,
            outcome=Outcome.DENIED,
            extra={"export": export.pk, "user": user.get_username(), "reason": reason},
        )


# --- the nightly job -----------------------------------------------------------------------------


@dataclass
class ExpirySummary:
    deleted: int = 0
    abandoned: int = 0
    errors: list[str] = field(default_factory=list)


def _ready_export_delete(export: SubjectExport, *, now, errors: list[str], **extra) -> bool:
    """Remove a ready export's file, then mark it expired with its key destroyed, audited on its
    request (`extra` says why). False, the row left ready, when the file cannot be removed."""
    try:
        recordings_storage().delete(export.storage_name)
    except OSError as error:
        errors.append(f"export {export.pk}: {error}")
        logger.warning("export %s: could not delete its file: %s", export.pk, error)
        return False
    with transaction.atomic():
        locked = SubjectExport.objects.select_for_update().get(pk=export.pk)
        if locked.status != ExportStatus.READY:
            return False
        locked.status = ExportStatus.EXPIRED
        locked.deleted_at = now
        locked.wrapped_key = None
        locked.save(update_fields=["status", "deleted_at", "wrapped_key"])
        event_record(
            action="subject_request.export_deleted",
            tenant=locked.tenant_id,
            target=export.request,
            extra={"export": locked.pk, **extra},
        )
    return True


def subject_exports_withdraw(*, request: SubjectRequest) -> list[str]:
    """After an erasure: the subject's exports still downloadable (built for another request of
    the same subject: a number in common, or the same reference) are deleted now rather than at
    their expiry, so that no copy of erased audio outlives it. Returns what could not be removed
    (left to the nightly job)."""
    same_subject = (
        Q(request__customer_numbers__overlap=request.customer_numbers)
        if request.customer_numbers
        else Q(pk__in=[])
    )
    if request.subject_reference:
        same_subject |= Q(request__subject_reference=request.subject_reference)
    ready = SubjectExport.objects.filter(
        tenant_id=request.tenant_id, status=ExportStatus.READY
    ).filter(same_subject)
    errors: list[str] = []
    for export in ready.select_related("request").order_by("pk"):
        _ready_export_delete(export, now=timezone.now(), errors=errors, erasure_request=request.pk)
    return errors


def subject_exports_expire(*, now=None) -> ExpirySummary:
    """Delete the exports whose download period has passed (file removed, data key destroyed:
    a copy of the file in a backup no longer decrypts), and clean up builds a killed worker left
    behind that nobody re-ran. Each is an audit event on its request. Restartable: a file already
    gone is not an error; a file that cannot be removed keeps its row ready (and refused for
    download) until the next night."""
    now = now or timezone.now()
    summary = ExpirySummary()
    expired = SubjectExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now)
    for export in expired.select_related("request").order_by("pk").iterator(chunk_size=200):
        if _ready_export_delete(
            export, now=now, errors=summary.errors, expired_at=export.expires_at.isoformat()
        ):
            summary.deleted += 1
    stale = SubjectExport.objects.filter(
        status=ExportStatus.BUILDING,
        created_at__lt=now - timedelta(seconds=BUILD_TIME_LIMIT_SECONDS),
    ).select_related("request")
    for export in stale.order_by("pk").iterator(chunk_size=200):
        if export.attempted_at and export.attempted_at > now - timedelta(
            seconds=BUILD_TIME_LIMIT_SECONDS
        ):
            continue  # re-run lately: its own time limit has not passed
        if not locks.try_session_lock(locks.SUBJECT_EXPORT_NAMESPACE, export.pk):
            continue  # being built right now
        try:
            _remove_files(export)
            _failed(export, "the build stopped before the end (worker killed or time limit)")
        finally:
            locks.release_session_lock(locks.SUBJECT_EXPORT_NAMESPACE, export.pk)
        summary.abandoned += 1
    return summary
