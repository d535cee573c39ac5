"""subject.json: what a data subject's export tells them (GDPR Art. 15(1), Art. 20), in a form a
machine can read (its schema: subject.schema.json beside this file, JSON Schema 2020-12).

- `recordings`: each recording of the subject (times in ISO 8601 with the tenant's offset,
  direction, duration, purpose and legal basis with their labels, last day of retention, status,
  and the file of its audio in the ZIP when it is included);
- `consents`: every consent decision recorded for the subject's numbers or reference;
- `access_log`: the trail's events about those recordings: what was done (with its label from
  audit/actions.py), when, by which role in the tenant (a person's name only where the tenant
  chose to disclose its staff's names: `Tenant.export_names_staff`), for which purpose, why, and
  whether it was allowed.

The document is written piece by piece (`document_pieces`): an access log of a million events
is never whole in memory.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.actions import ACTION_CHOICES
from audit.models import Outcome
from compliance.access_rules import AccessNeed
from compliance.models import (
    ConsentChannel,
    ConsentDecision,
    LegalBasis,
    Membership,
    Role,
    SubjectRequest,
)

from ..audio import extension_for
from ..models import Direction, Status
from .finder import SubjectData

FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("subject.schema.json")

ACTION_LABELS = dict(ACTION_CHOICES)
OUTCOME_LABELS = dict(Outcome.choices)
DIRECTION_LABELS = dict(Direction.choices)
STATUS_LABELS = dict(Status.choices)
LEGAL_BASIS_LABELS = dict(LegalBasis.choices)
DECISION_LABELS = dict(ConsentDecision.choices)
CHANNEL_LABELS = dict(ConsentChannel.choices)
ROLE_LABELS = dict(Role.choices)
NEED_LABELS = dict(AccessNeed.choices)

# Who acted, when it was no member of the tenant. A role, never a name, unless the tenant opted in.
PLATFORM_OPERATOR = ("platform_operator", "Platform operator (the processor, Custodia)")
FORMER_MEMBER = ("former_member", "Person no longer working for the organisation")
AUTOMATED = ("automated", "Automated process (no person)")
MACHINE_CLIENT = ("recording_system", "Recording system or front office (API key)")


def in_zone(value: datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    """ISO 8601 with the tenant's offset (2026-11-28T09:15:00+01:00)."""
    if value is None:
        return None
    return timezone.localtime(value, zone).isoformat(timespec="seconds")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def audio_file_name(
    index: int, *, call_id: str, started_at: datetime, content_type: str, zone: zoneinfo.ZoneInfo
) -> str:
    """The audio's name in the ZIP: its order, the call's local start and its call id (only
    characters safe on every file system), and the extension of its format."""
    started = timezone.localtime(started_at, zone)
    safe_call_id = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:80]
    return (
        f"audio/{index:04d}_{started:%Y-%m-%d_%H%M%S}_{safe_call_id}{extension_for(content_type)}"
    )


def audio_included(*, status: str, wrapped_key) -> bool:
    """Audio goes in the ZIP for active recordings whose key still exists (a purged or erased
    recording has no audio left; a shredded key cannot decrypt any copy)."""
    return status == Status.ACTIVE and bool(wrapped_key)


@dataclass
class ActorNames:
    """How each actor of the access log is shown: their role in the tenant (read once per
    person), and their name only where the tenant opted in."""

    tenant_id: int
    names_staff: bool
    _roles: dict[int, tuple[str, str]] = field(default_factory=dict)

    def role(self, actor_id: int | None, actor_username: str) -> tuple[str, str]:
        if actor_id is None:
            return MACHINE_CLIENT if actor_username.startswith("api_key:") else AUTOMATED
        if actor_id not in self._roles:
            role = (
                Membership.objects.filter(user_id=actor_id, tenant_id=self.tenant_id)
                .values_list("role", flat=True)
                .first()
            )
            if role is not None:
                self._roles[actor_id] = (role, str(ROLE_LABELS.get(role, role)))
            elif get_user_model().objects.filter(pk=actor_id, is_superuser=True).exists():
                self._roles[actor_id] = PLATFORM_OPERATOR
            else:
                self._roles[actor_id] = FORMER_MEMBER
        return self._roles[actor_id]

    def name(self, actor_id: int | None, actor_username: str) -> str | None:
        if not self.names_staff or actor_id is None:
            return None
        return actor_username or None


# What subject.json says of a recording, read as plain values (no model instances: an export
# of thousands of recordings reads them fast).
RECORDING_VALUES = (
    "pk",
    "call_id",
    "started_at",
    "duration_seconds",
    "direction",
    "customer_number",
    "subject_reference",
    "purpose__code",
    "purpose__name",
    "legal_basis",
    "retain_until",
    "status",
    "content_type",
    "audio_sha256",
)
CONSENT_VALUES = (
    "decision",
    "decided_at",
    "channel",
    "purpose__code",
    "purpose__name",
    "customer_number",
)
EVENT_VALUES = (
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "outcome",
    "target_id",
    "purpose",
    "justification",
)


def recording_entry(
    row: dict, audio_name: str | None, zone: zoneinfo.ZoneInfo
) -> dict[str, object]:
    ended = row["started_at"] + timedelta(seconds=float(row["duration_seconds"]))
    return {
        "call_id": row["call_id"],
        "started_at": in_zone(row["started_at"], zone),
        "ended_at": in_zone(ended, zone),
        "duration_seconds": float(row["duration_seconds"]),
        "direction": row["direction"],
        "direction_label": str(DIRECTION_LABELS.get(row["direction"], row["direction"])),
        "customer_number": row["customer_number"],
        "subject_reference": row["subject_reference"],
        "purpose": row["purpose__code"],
        "purpose_label": row["purpose__name"],
        "legal_basis": row["legal_basis"],
        "legal_basis_label": str(LEGAL_BASIS_LABELS.get(row["legal_basis"], row["legal_basis"])),
        "retain_until": _day(row["retain_until"]),
        "status": row["status"],
        "status_label": str(STATUS_LABELS.get(row["status"], row["status"])),
        "audio_file": audio_name,
        "audio_content_type": row["content_type"] if audio_name else None,
        "audio_sha256": row["audio_sha256"] if audio_name else None,
    }


def consent_entry(row: dict, zone: zoneinfo.ZoneInfo) -> dict[str, object]:
    return {
        "decision": row["decision"],
        "decision_label": str(DECISION_LABELS.get(row["decision"], row["decision"])),
        "decided_at": in_zone(row["decided_at"], zone),
        "channel": row["channel"],
        "channel_label": str(CHANNEL_LABELS.get(row["channel"], row["channel"])),
        "purpose": row["purpose__code"],
        "purpose_label": row["purpose__name"],
        "customer_number": row["customer_number"],
    }


def access_entry(
    row: dict, call_ids: dict[str, str], actors: ActorNames, zone: zoneinfo.ZoneInfo
) -> dict[str, object]:
    role, role_label = actors.role(row["actor_id"], row["actor_username"])
    purpose = row["purpose"]
    return {
        "time": in_zone(row["occurred_at"], zone),
        "call_id": call_ids.get(row["target_id"], ""),
        "action": row["action"],
        "action_label": str(ACTION_LABELS.get(row["action"], row["action"])),
        "actor_role": role,
        "actor_role_label": role_label,
        "actor_name": actors.name(row["actor_id"], row["actor_username"]),
        "purpose": purpose,
        "purpose_label": str(NEED_LABELS[purpose]) if purpose in NEED_LABELS else None,
        "justification": row["justification"],
        "outcome": row["outcome"],
        "outcome_label": str(OUTCOME_LABELS.get(row["outcome"], row["outcome"])),
    }


@dataclass
class Listing:
    """One recording of the export: its entry's audio name (None: no audio in the ZIP)."""

    recording_id: int
    call_id: str
    audio_name: str | None


def listings(data: SubjectData, zone: zoneinfo.ZoneInfo) -> list[Listing]:
    """The recordings in the export's order, with their audio's name in the ZIP (the wrapped key
    is read to know whether audio is included, not kept)."""
    found = []
    rows = data.recordings.values_list(
        "pk", "call_id", "started_at", "status", "wrapped_key", "content_type"
    )
    for index, (pk, call_id, started_at, status, wrapped_key, content_type) in enumerate(
        rows.iterator(chunk_size=2000), start=1
    ):
        name = None
        if audio_included(status=status, wrapped_key=wrapped_key):
            name = audio_file_name(
                index, call_id=call_id, started_at=started_at, content_type=content_type, zone=zone
            )
        found.append(Listing(pk, call_id, name))
    return found


def document_pieces(
    *,
    request: SubjectRequest,
    data: SubjectData,
    listed: list[Listing],
    generated_at: datetime,
) -> Iterator[str]:
    """subject.json as text pieces, in order (valid JSON once joined)."""
    tenant = request.tenant
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    names = {listing.recording_id: listing.audio_name for listing in listed}
    call_ids = {str(listing.recording_id): listing.call_id for listing in listed}
    head = {
        "format_version": FORMAT_VERSION,
        "generated_at": in_zone(generated_at, zone),
        "controller": tenant.name,
        "request": {
            "reference": request.pk,
            "kind": request.kind,
            "kind_label": str(request.get_kind_display()),
            "received_at": in_zone(request.received_at, zone),
            "language": request.language,
        },
        "subject": {
            "customer_numbers": list(request.customer_numbers),
            "subject_reference": request.subject_reference,
        },
        "staff_names_included": tenant.export_names_staff,
    }
    actors = ActorNames(tenant_id=tenant.pk, names_staff=tenant.export_names_staff)
    # The recordings listed when the build started (one arriving meanwhile waits for the next
    # export), and the trail's events about them.
    data.recording_ids = list(names)
    recordings = (
        recording_entry(row, names[row["pk"]], zone)
        for row in data.recordings.filter(pk__in=data.recording_ids)
        .values(*RECORDING_VALUES)
        .iterator(chunk_size=2000)
    )
    consents = (
        consent_entry(row, zone)
        for row in data.consents.values(*CONSENT_VALUES).iterator(chunk_size=2000)
    )
    accesses = (
        access_entry(row, call_ids, actors, zone)
        for row in data.access_events.values(*EVENT_VALUES).iterator(chunk_size=2000)
    )
    yield from _object_pieces(
        head, {"recordings": recordings, "consents": consents, "access_log": accesses}
    )


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _object_pieces(head: dict, arrays: dict[str, Iterable[dict]]) -> Iterator[str]:
    """One JSON object: `head`'s members, then each array written item by item."""
    members = [f"\n  {_dumps(key)}: {_dumps(value)}" for key, value in head.items()]
    yield "{" + ",".join(members)
    for key, items in arrays.items():
        yield f",\n  {_dumps(key)}: ["
        separator = "\n    "
        for item in items:
            yield separator + _dumps(item)
            separator = ",\n    "
        yield "\n  ]"
    yield "\n}\n"
