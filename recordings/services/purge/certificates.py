"""Deletion certificates: the text that is signed, and the keyed hash of a call id.

The text is defined once, by `certificate_text`: the deletion core signs it for every recording
it deletes, and verification recomputes it from a stored certificate (`certificate_message`).
It must never change, since the certificates already signed verify only against the same bytes:
the canonical JSON form of the fields (sorted keys, json.dumps' separators and ASCII escapes),
which tests/recordings/test_purge.py pins.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, date, datetime

from audit.keys import AuditKey, audit_keys, current_audit_key

from ...models import DeletionCertificate

# The fields signed, as DeletionCertificate names them (certificate_text's arguments).
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


def certificate_text(
    *,
    recording_id: int,
    tenant_id: int,
    call_id_hash: str,
    audio_sha256: str,
    storage_name: str,
    purpose_code: str,
    policy_id: int | None,
    policy_version: int | None,
    retain_until: date,
    reason: str,
    purge_run_id: int | None,
    deleted_at: datetime,
) -> str:
    """The signed text of the certificate with these values (the deletion instant in UTC, to
    the microsecond)."""
    fields = {
        "recording_id": recording_id,
        "tenant_id": tenant_id,
        "call_id_hash": call_id_hash,
        "audio_sha256": audio_sha256,
        "storage_name": storage_name,
        "purpose_code": purpose_code,
        "policy_id": policy_id,
        "policy_version": policy_version,
        "retain_until": retain_until.isoformat(),
        "reason": reason,
        "purge_run_id": purge_run_id,
        "deleted_at": deleted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    return "custodia-deletion-certificate|" + json.dumps(fields, sort_keys=True)


def certificate_message(certificate: DeletionCertificate) -> str:
    """The signed text of a stored certificate."""
    return certificate_text(**{name: getattr(certificate, name) for name in CERTIFICATE_FIELDS})


def certificate_is_valid(certificate: DeletionCertificate) -> bool:
    """The signature verifies under the key its key id names (current or previous)."""
    key = audit_keys().get(certificate.key_id)
    if key is None:
        return False
    expected = key.digest(certificate_message(certificate).encode())
    return hmac.compare_digest(expected, certificate.signature)


def call_id_hash(tenant_id: int, call_id: str, key: AuditKey | None = None) -> str:
    """Keyed (the current AUDIT_HMAC_KEY unless another key is given), so that nobody without
    the key can test guesses of call ids against it."""
    key = key or current_audit_key()
    return key.digest(f"custodia-call-id|{tenant_id}|{call_id}".encode())


def call_id_hashes(tenant_id: int, call_id: str) -> list[str]:
    """The call id's hash under every known key, for look-ups across a key rotation."""
    return [call_id_hash(tenant_id, call_id, key) for key in audit_keys().values()]
