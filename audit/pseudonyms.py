"""Keyed hashes and masks that stand in for personal data on the trail.

The trail is append-only: whatever an event holds stays as long as the trail does, out of reach
of an erasure request. When an event must still be found by a personal value ("who searched for
this customer's number?"), it keeps an HMAC-SHA256 of the value under AUDIT_HMAC_KEY instead of
the value. The portal, which holds the key, recomputes it for a reviewer who types the value;
nobody without the key can test guesses against it (a plain hash of a phone number is reversed by
trying every number). The event's key id names the key (the pseudonym is written in the same
event as its hash); a look-up recomputes the value under every known key, so that events written
before a rotation are still found.
"""

from __future__ import annotations

from kit.masking import mask_number

from .keys import AuditKey, audit_keys, current_audit_key

# The target type of events about a customer's number rather than a row (a search by number).
CUSTOMER_NUMBER = "customer_number"


def customer_number_hash(number: str, key: AuditKey | None = None) -> str:
    """Of a number in E.164 (+33612345678), under the current key unless another is given. Not
    bound to a tenant, unlike the call-id hashes of deletion certificates: E.164 numbers are
    global, and one search can span several tenants."""
    key = key or current_audit_key()
    return key.digest(f"custodia-customer-number|{number}".encode())


def customer_number_hashes(number: str) -> list[str]:
    """The number's hash under every known key (current and previous), for look-ups."""
    return [customer_number_hash(number, key) for key in audit_keys().values()]


def customer_number_target(number: str) -> dict[str, str]:
    """The target of an event about a customer's number (E.164): its keyed hash, by which a
    reviewer finds the event, and its mask as the label; never the number itself."""
    return {
        "target_type": CUSTOMER_NUMBER,
        "target_id": customer_number_hash(number),
        "target_label": mask_number(number),
    }
