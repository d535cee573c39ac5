"""Appending audit events: everything that writes to the trail goes through here (verifying the
chain is audit/verification.py, rotating its key audit/rotation.py).

Naming: a function whose job is to record that something happened, and nothing else, is named
`<entity>_<event>_record` in every app (`event_record` itself, `customer_number_search_record`,
`recording_play_record`, `consent_view_record`, `recording_ingest_refusal_record`), so that it
does not read like a check; a business operation that also writes its event stays
`<entity>_<verb>` (`legal_hold_place`, `consent_record`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone, translation

from kit import sql

from .chain import (
    CONTENT_FIELDS,
    content_bytes,
    format_instant,
    link_hash,
)
from .context import AuditContext, current_context
from .keys import current_audit_key
from .models import Outcome
from .pseudonyms import customer_number_target

_LIMITS = {
    "actor_username": 150,
    "action": 80,
    "target_type": 60,
    "target_id": 64,
    "target_label": 200,
    "purpose": 60,
    "user_agent": 512,
    "workstation_id": 128,
    "request_id": 64,
    "client_ip": 45,
}


class AuditChainError(RuntimeError):
    pass


@dataclass
class Event:
    """One event to append. Actor and request fields default to the current audit context."""

    action: str
    tenant_id: int | None = None
    target_type: str = ""
    target_id: str = ""
    target_label: str = ""
    purpose: str = ""
    justification: str = ""
    outcome: str = Outcome.ALLOWED
    extra: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    context: AuditContext | None = None


@dataclass(frozen=True)
class RecordedEvent:
    sequence: int
    hash: str


def home_tenant_id(user) -> int | None:
    """The user's tenant when they belong to exactly one, so that the reviewers of that tenant
    see events (sign-ins, exports) that are not about one tenant's object."""
    if user is None or user.pk is None:
        return None
    tenant_ids = list(user.memberships.values_list("tenant_id", flat=True)[:2])
    return tenant_ids[0] if len(tenant_ids) == 1 else None


def describe_target(instance) -> tuple[str, str, str]:
    """(target_type, target_id, target_label) of a model instance, e.g. ("recordings.recording",
    "42", "call 7f3a…")."""
    meta = instance._meta
    with translation.override(None):  # the trail reads in one language: its labels' English
        label = str(instance)[:200]
    return meta.label_lower, str(instance.pk), label


# One encoder for every event (json.dumps(cls=...) would build one per call).
_extra_dumps = DjangoJSONEncoder(sort_keys=True).encode
_loads = json.loads
_sha256 = hashlib.sha256


def _jsonb_number(value: float) -> float | int:
    """A float as PostgreSQL's jsonb gives it back: its numbers are decimals, so an exponent
    (1e+16, which Python writes for integral floats from 1e16 up) comes back as the integer's
    digits, and -0.0 as 0.0."""
    if value == 0:
        return 0.0
    text = repr(value)
    if "e+" in text:
        return int(Decimal(text))
    return value


def _jsonb_normalise(value: Any) -> Any:
    if isinstance(value, float):
        return _jsonb_number(value)
    if isinstance(value, dict):
        return {key: _jsonb_normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonb_normalise(item) for item in value]
    return value


def _as_jsonb_returns(extra_text: str) -> Any:
    """The extra data as `extra::text` will read it back from jsonb, for hashing. Only numbers
    written with an exponent or a negative zero differ, which the text shows."""
    value = _loads(extra_text)
    if "e+" in extra_text or "-0.0" in extra_text:
        value = _jsonb_normalise(value)
    return value


def _content(event: Event, occurred_at: datetime, instant: str | None = None) -> tuple[list, str]:
    """The canonical content values of an event, and its extra data as stored (JSON text).
    `instant` is `occurred_at` already formatted, when the caller formats one time for many."""
    context = event.context or current_context()
    with translation.override(None):  # a translatable label in the extra data, in English
        extra_text = _extra_dumps(event.extra) if event.extra else "{}"
    values = {
        "occurred_at": instant or format_instant(occurred_at),
        "tenant_id": event.tenant_id,
        "actor_id": context.actor_id,
        "actor_username": context.actor_username,
        "action": event.action,
        "outcome": str(event.outcome),
        "target_type": event.target_type,
        "target_id": str(event.target_id),
        "target_label": event.target_label,
        "purpose": event.purpose,
        "justification": event.justification,
        "client_ip": context.client_ip,
        "user_agent": context.user_agent,
        "workstation_id": context.workstation_id,
        "request_id": context.request_id,
        # Round-tripped through JSON so that what is hashed is exactly what jsonb gives back.
        "extra": _as_jsonb_returns(extra_text) if event.extra else {},
    }
    for name, limit in _LIMITS.items():
        values[name] = values[name][:limit]
    return [values[name] for name in CONTENT_FIELDS], extra_text


_COLUMNS = ", ".join(CONTENT_FIELDS)
_PLACEHOLDERS = ", ".join("%s::jsonb" if name == "extra" else "%s" for name in CONTENT_FIELDS)

# One round trip: the UPDATE takes the chain head's row lock (held until the caller's transaction
# ends, so concurrent appends queue behind it and the chain never forks; in READ COMMITTED the
# UPDATE re-reads the head's latest committed version after waiting), advances it, and the INSERT
# stores the event with the head's new values. PostgreSQL computes the same link hash as
# audit/chain.py::link_hash from the content digest, an HMAC computed here: the key never reaches
# PostgreSQL (nor its statement log), and the digest is stored nowhere.
_APPEND_SQL = f"""
WITH head AS (
    UPDATE audit_chainhead
       SET sequence = sequence + 1,
           previous_hash = hash,
           hash = encode(sha256(convert_to(
               (sequence + 1)::text || '|' || hash || '|' || %s, 'UTF8')), 'hex')
     WHERE id = 1
 RETURNING sequence, previous_hash, hash
)
INSERT INTO audit_auditevent (sequence, previous_hash, hash, key_id, {_COLUMNS})
SELECT head.sequence, head.previous_hash, head.hash, %s, {_PLACEHOLDERS} FROM head
RETURNING sequence, hash
"""  # nosec B608 # column names from CONTENT_FIELDS, values bound


def event_record(
    *,
    action: str,
    tenant: Any = None,
    target: Any = None,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    purpose: str = "",
    justification: str = "",
    outcome: str = Outcome.ALLOWED,
    extra: dict[str, Any] | None = None,
    context: AuditContext | None = None,
) -> RecordedEvent:
    """Append one event inside the caller's transaction: if the caller's work rolls back, so does
    the event, and if the event cannot be recorded the caller's work fails with it."""
    if target is not None:
        target_type, target_id, target_label = describe_target(target)
    event = Event(
        action=action,
        tenant_id=getattr(tenant, "pk", tenant),
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label,
        purpose=purpose,
        justification=justification,
        outcome=outcome,
        extra=extra or {},
        context=context,
    )
    occurred_at = timezone.now()
    values, extra_text = _content(event, occurred_at)
    key = current_audit_key()
    digest = key.digest(content_bytes(values))
    parameters = [digest, key.key_id, occurred_at, *values[1:-1], extra_text]
    with sql.prepared_cursor() as cursor:
        cursor.execute(_APPEND_SQL, parameters)
        row = cursor.fetchone()
    if row is None:
        raise AuditChainError("the audit chain head is missing: run migrations")
    return RecordedEvent(sequence=row[0], hash=row[1])


@transaction.atomic
def customer_number_search_record(
    *, action: str, user: Any, number: str, tenant_ids: Sequence[int]
) -> None:
    """Something was searched for a customer's number (E.164): the answer tells what concerns
    that person, personal data access (docs/architecture.md, invariant 4). The trail keeps the
    number masked and as a keyed hash (audit.pseudonyms), so that "who searched for this
    number?" can be answered without the append-only trail holding the number. One event per
    tenant searched, so that each tenant's own trail shows it (a platform operator's search spans
    several); no count of the matches (the caller's list is read after this, and counted
    capped)."""
    target = customer_number_target(number)
    for tenant_id in sorted(set(tenant_ids)):
        event_record(
            action=action,
            tenant=tenant_id,
            extra={"user": user.get_username(), "search": "customer_number"},
            **target,
        )


@transaction.atomic
def events_record_bulk(events: Sequence[Event]) -> list[RecordedEvent]:
    """Append many events at once (the purge): one lock, hashes computed here, one COPY."""
    if not events:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence, hash FROM audit_chainhead WHERE id = 1 FOR UPDATE")
        head = cursor.fetchone()
    if head is None:
        raise AuditChainError("the audit chain head is missing: run migrations")
    sequence, previous_hash = head
    now = timezone.now()
    now_instant = format_instant(now)
    recorded: list[RecordedEvent] = []
    key = current_audit_key()
    digest, key_id = key.digest, key.key_id
    connection.ensure_connection()
    copy_sql = (
        f"COPY audit_auditevent (sequence, previous_hash, hash, key_id, {_COLUMNS}) FROM STDIN"
    )
    with connection.connection.cursor() as cursor:
        # Each row goes to the COPY as soon as it is hashed, so that PostgreSQL inserts and
        # indexes on one core while Python hashes the next rows on the other.
        with cursor.copy(copy_sql) as copy:
            for event in events:
                sequence += 1
                if event.occurred_at is None:
                    values, extra_text = _content(event, now, now_instant)
                    occurred_at = now
                else:
                    occurred_at = event.occurred_at
                    values, extra_text = _content(event, occurred_at)
                chain_hash = link_hash(sequence, previous_hash, digest(content_bytes(values)))
                copy.write_row(
                    (
                        sequence,
                        previous_hash,
                        chain_hash,
                        key_id,
                        occurred_at,
                        *values[1:-1],
                        extra_text,
                    )
                )
                recorded.append(RecordedEvent(sequence=sequence, hash=chain_hash))
                last_previous, previous_hash = previous_hash, chain_hash
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = %s, previous_hash = %s, hash = %s WHERE id = 1",
            [sequence, last_previous, previous_hash],
        )
    return recorded
