"""Master-key rotation: rewrap each recording's data key (and each data-subject export's); the audio
is never rewritten."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from audit.services import event_record

from .. import crypto
from ..models import Recording, SubjectExport


class MissingMasterKey(Exception):
    pass


@dataclass
class RotationSummary:
    rewrapped: int = 0
    current_key_id: str = ""
    exports_rewrapped: int = 0


def master_key_rotate(*, batch_size: int = 1000) -> RotationSummary:
    """Rewrap every data key still wrapped under a previous master key with the current one.
    Restartable: each batch commits on its own; a row another run has just rewrapped no longer
    matches when its lock is released, so nothing is rewrapped twice."""
    current = crypto.current_master_key()
    keys = crypto.master_keys()
    summary = RotationSummary(current_key_id=current.key_id)
    pending = Recording.objects.filter(wrapped_key__isnull=False).exclude(
        master_key_id=current.key_id
    )
    while True:
        with transaction.atomic():
            batch = list(
                pending.order_by("pk")
                # Wait for locked rows: a skipped one would stay under the old master key.
                .select_for_update(no_key=True)
                .only("pk", "tenant_id", "storage_name", "wrapped_key", "master_key_id")[
                    :batch_size
                ]
            )
            if not batch:
                break
            for recording in batch:
                old = keys.get(recording.master_key_id)
                if old is None:
                    raise MissingMasterKey(
                        f"recording {recording.pk} is wrapped under master key "
                        f"{recording.master_key_id}, which is not in "
                        "RECORDINGS_PREVIOUS_MASTER_KEYS"
                    )
                context = {"tenant_id": recording.tenant_id, "storage_name": recording.storage_name}
                data_key = crypto.unwrap_key(bytes(recording.wrapped_key), master=old, **context)
                recording.wrapped_key = crypto.wrap_key(data_key, master=current, **context)
                recording.master_key_id = current.key_id
            Recording.objects.bulk_update(batch, ["wrapped_key", "master_key_id"])
            summary.rewrapped += len(batch)
    summary.exports_rewrapped = _exports_rewrap(current, keys)
    event_record(
        action="recording.master_key_rotated",
        target_type="recordings.recording",
        extra={
            "rewrapped": summary.rewrapped,
            "exports_rewrapped": summary.exports_rewrapped,
            "current_key_id": current.key_id,
        },
    )
    return summary


def _exports_rewrap(current: crypto.MasterKey, keys: dict[str, crypto.MasterKey]) -> int:
    """The data-subject exports still downloadable are encrypted like recordings: their keys are
    rewrapped too, so that the previous master key can go once the rotation is done. Few rows
    (one per request answered in the last SUBJECT_EXPORT_DAYS): one transaction."""
    with transaction.atomic():
        exports = list(
            SubjectExport.objects.filter(wrapped_key__isnull=False)
            .exclude(master_key_id=current.key_id)
            .select_for_update(no_key=True)
            .only("pk", "tenant_id", "storage_name", "wrapped_key", "master_key_id")
        )
        for export in exports:
            old = keys.get(export.master_key_id)
            if old is None:
                raise MissingMasterKey(
                    f"export {export.pk} is wrapped under master key {export.master_key_id}, "
                    "which is not in RECORDINGS_PREVIOUS_MASTER_KEYS"
                )
            context = {"tenant_id": export.tenant_id, "storage_name": export.storage_name}
            data_key = crypto.unwrap_key(bytes(export.wrapped_key), master=old, **context)
            export.wrapped_key = crypto.wrap_key(data_key, master=current, **context)
            export.master_key_id = current.key_id
        SubjectExport.objects.bulk_update(exports, ["wrapped_key", "master_key_id"])
    return len(exports)
