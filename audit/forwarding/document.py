"""What the SOC receives: one JSON object per event, and for syslog its RFC 5424 message in an
octet-counted frame (RFC 6587, 3.4.1)."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import translation

from ..actions import ACTION_CHOICES
from ..models import AuditEvent, Outcome

ACTION_LABELS = dict(ACTION_CHOICES)

# RFC 5424: facility 13 ("log audit"); severity 4 (warning) for a refusal, 6 (informational)
# otherwise.
FACILITY_LOG_AUDIT = 13
SEVERITY = {Outcome.DENIED: 4, Outcome.ALLOWED: 6}
APP_NAME = "custodia"
# The structured data's ID: an enterprise number of IANA's documentation range (RFC 5612).
SD_ID = "custodia@32473"


def event_document(event: AuditEvent, tenant) -> dict:
    """The event as the SOC receives it; times in the tenant's zone, with their offset."""
    zone = ZoneInfo(getattr(tenant, "time_zone", "") or "UTC")
    with translation.override(None):  # the SOC reads one language: the catalogue's English
        action_label = str(ACTION_LABELS.get(event.action, event.action))
    return {
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.astimezone(zone).isoformat(),
        "tenant": {"id": tenant.pk, "slug": tenant.slug, "name": tenant.name},
        "actor": {"id": event.actor_id, "username": event.actor_username},
        "action": event.action,
        "action_label": action_label,
        "outcome": event.outcome,
        "target": {
            "type": event.target_type,
            "id": event.target_id,
            "label": event.target_label,
        },
        "purpose": event.purpose,
        "justification": event.justification,
        "client_ip": event.client_ip,
        "user_agent": event.user_agent,
        "workstation": event.workstation_id,
        "request_id": event.request_id,
        "extra": event.extra,
        "hash": event.hash,
    }


def document_bytes(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _printable(value: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII, no space, at most `limit` characters."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return cleaned or "-"


def _param(value: object) -> str:
    """An SD-PARAM value, with ", \\ and ] escaped (RFC 5424, 6.3.3)."""
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _timestamp(instant: datetime) -> str:
    # RFC 5424, 6.2.3: RFC 3339 with at most 6 digits of fraction; UTC keeps it unambiguous.
    return instant.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def syslog_message(event: AuditEvent, tenant, *, hostname: str | None = None) -> bytes:
    """`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, MSG the event's JSON."""
    priority = FACILITY_LOG_AUDIT * 8 + SEVERITY.get(event.outcome, 6)
    structured = (
        f'[{SD_ID} sequence="{event.sequence}" tenant="{_param(tenant.slug)}" '
        f'outcome="{_param(event.outcome)}"]'
    )
    header = " ".join(
        [
            f"<{priority}>1",
            _timestamp(event.occurred_at),
            _printable(hostname or socket.gethostname(), 255),
            APP_NAME,
            "-",
            _printable(event.action, 32),
            structured,
        ]
    )
    return header.encode() + b" " + document_bytes(event_document(event, tenant))


def octet_counted(message: bytes) -> bytes:
    """RFC 6587, 3.4.1: MSG-LEN SP SYSLOG-MSG."""
    return f"{len(message)} ".encode() + message
