"""Checks after the fact: every deletion certificate verifies and its recording and file are
gone; files in storage that no record claims are swept (and audited)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.keys import audit_keys
from audit.models import Outcome
from audit.services import event_record

from ...models import (
    DeletionCertificate,
    ExportStatus,
    PendingFileRemoval,
    Recording,
    Status,
    SubjectExport,
)
from ...storage import listening_copy_name, original_of_listening_copy, recordings_storage
from .certificates import certificate_is_valid


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
        if certificate.storage_name and storage.exists(
            listening_copy_name(certificate.storage_name)
        ):
            problems.append(
                f"recording {certificate.recording_id} is certified deleted but its copy for "
                "listening is still stored"
            )
    survivors = Recording.objects.filter(
        pk__in=DeletionCertificate.objects.values("recording_id")
    ).filter(Q(status=Status.ACTIVE) | Q(wrapped_key__isnull=False) | ~Q(storage_name=""))
    for recording in survivors.only("pk"):
        problems.append(f"recording {recording.pk} is certified deleted but still has its data")
    return problems


def orphan_files_sweep(*, grace: timedelta = timedelta(hours=24), remove: bool = True) -> list:
    """Files in the recordings storage that no record claims and that are older than `grace`
    (an ingestion in flight stores its file just before its row commits). Each is audited.

    A data-subject export's ZIP is claimed while its export is ready (or being published); the
    partial file of a build a killed worker left behind is claimed by nothing, and goes. A
    recording's copy for listening is claimed while the recording claims its file; one made
    while the recording was deleted, by a listener whose process then died, goes."""
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
        # A copy for listening is claimed while its recording claims the original.
        originals = {name: original_of_listening_copy(name) or name for name in names}
        claimed_originals = set(
            Recording.objects.filter(storage_name__in=set(originals.values())).values_list(
                "storage_name", flat=True
            )
        )
        claimed = {name for name, original in originals.items() if original in claimed_originals}
        claimed.update(
            SubjectExport.objects.filter(
                storage_name__in=names, status__in=(ExportStatus.READY, ExportStatus.BUILDING)
            ).values_list("storage_name", flat=True)
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
