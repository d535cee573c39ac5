"""Rotating AUDIT_HMAC_KEY: every key id in use must have its key, the chain verifies, and a
checkpoint signed with the new key marks the handover."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .chain import (
    UNKEYED,
)
from .keys import MissingAuditKey, audit_keys, current_audit_key, keyed_records
from .models import CheckpointKind
from .services import AuditChainError, event_record
from .verification import Verification, audit_chain_verify


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
