"""The HMAC keys of the audit trail: AUDIT_HMAC_KEY (current) and AUDIT_HMAC_PREVIOUS_KEYS.

Everything keyed (event hashes, checkpoint signatures, deletion certificates and their call-id
hashes, the pseudonyms of searched numbers) stores the key id of the key that made it, so that a
rotation only changes which key makes new ones: the previous keys stay listed for verification
and look-ups as long as anything made with them is kept (`manage.py rotate_audit_key` counts them).
Key material never leaves this process: nothing here is sent to PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from .chain import key_id_of, keyed_digester


class MissingAuditKey(LookupError):
    """Something was made with a key that is neither AUDIT_HMAC_KEY nor a previous key."""


@dataclass(frozen=True)
class AuditKey:
    key_id: str
    material: str

    def digest(self, message: bytes) -> str:
        return _digester(self.material)(message)


@functools.lru_cache(maxsize=8)
def _digester(material: str) -> Callable[[bytes], str]:
    return keyed_digester(material)


@functools.lru_cache(maxsize=8)
def _key(material: str) -> AuditKey:
    return AuditKey(key_id_of(material), material)


def current_audit_key() -> AuditKey:
    return _key(settings.AUDIT_HMAC_KEY)


def audit_keys() -> dict[str, AuditKey]:
    """The current key and the previous ones, by key id."""
    keys = [current_audit_key(), *(_key(value) for value in settings.AUDIT_HMAC_PREVIOUS_KEYS)]
    return {key.key_id: key for key in keys}


def audit_key(key_id: str) -> AuditKey:
    try:
        return audit_keys()[key_id]
    except KeyError:
        raise MissingAuditKey(
            f"key id {key_id} is neither AUDIT_HMAC_KEY's nor in AUDIT_HMAC_PREVIOUS_KEYS"
        ) from None


# Tables outside the audit app whose rows store a key id ("label", "app_label.Model", field):
# apps register them in AppConfig.ready(), since the audit app imports no other app.
_KEYED_RECORDS: list[tuple[str, str, str]] = [
    ("audit events", "audit.AuditEvent", "key_id"),
    ("checkpoints", "audit.Checkpoint", "key_id"),
]


def keyed_records_register(label: str, model: str, field: str) -> None:
    if (label, model, field) not in _KEYED_RECORDS:
        _KEYED_RECORDS.append((label, model, field))


def keyed_records() -> list[tuple[str, str, str]]:
    return list(_KEYED_RECORDS)
