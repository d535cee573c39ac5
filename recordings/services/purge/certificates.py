"""Deletion certificates: the text that is signed, and the keyed hash of a call id.

The text is defined once, by `certificate_text`: the deletion core signs it for every recording
it deletes, and verification recomputes it from a stored certificate (`certificate_message`).
It must never change, since the certificates already signed verify only against the same bytes:
the canonical JSON form of the fields (sorted keys, json.dumps' separators and ASCII escapes),
which tests/recordings/test_purge.py pins.
"""

from __future__ import annotations

import functools
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
# The JSON object without a json.dumps per certificate (a batch signs thousands): the keys in
# sorted order, json.dumps' separators, each string through the encoder json.dumps uses
# (ASCII-escaped, quoted), integers as json.dumps writes them, None as null. Kept for figure 3a
# of benchmarks/README.md: 2.9 against 11.3 us per certificate for json.dumps of the fields
# (with the instant's strftime), the largest share of the purge's own CPU that plain code adds.
_CERTIFICATE_TEMPLATE = (
    'custodia-deletion-certificate|{"audio_sha256": %s, "call_id_hash": %s, "deleted_at": %s, '
    '"policy_id": %s, "policy_version": %s, "purge_run_id": %s, "purpose_code": %s, '
    '"reason": %s, "recording_id": %d, "retain_until": %s, "storage_name": %s, "tenant_id": %d}'
)
_json_string = json.encoder.encode_basestring_ascii


def _json_number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


# Cached: a batch's certificates share one deletion instant and a few last days of retention.
@functools.lru_cache(maxsize=1024)
def _json_date(value: date) -> str:
    return _json_string(value.isoformat())


@functools.lru_cache(maxsize=64)
def _json_instant(value: datetime) -> str:
    return _json_string(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


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
    string = _json_string
    return _CERTIFICATE_TEMPLATE % (
        string(audio_sha256),
        string(call_id_hash),
        _json_instant(deleted_at),
        _json_number(policy_id),
        _json_number(policy_version),
        _json_number(purge_run_id),
        string(purpose_code),
        string(reason),
        recording_id,
        _json_date(retain_until),
        string(storage_name),
        tenant_id,
    )


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
