"""Delivery from a stored cursor, at least once, in order (docs/architecture.md, "The trail
forwarded to a tenant's SOC").

Each batch is one transaction holding the forwarder's row lock (SELECT ... FOR UPDATE SKIP
LOCKED: a second runner skips a forwarder already being served): read the tenant's events after
`last_sequence`, send them, and only then move the cursor. A crash between the send and the
commit leaves the cursor where it was, and the batch is sent again (a duplicate, never a gap:
the SOC deduplicates on `sequence`). A refused batch stores the error, counts the failure and
waits before the next attempt, twice as long each time (up to an hour).

Sequence order is commit order: an append holds the chain head's row lock until its transaction
ends (audit/services.py), so the events visible to a reader are always every event up to some
sequence, and a cursor never skips one that commits later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import AuditEvent, SiemForwarder
from .transports import DeliveryFailed, batch_send

BATCH_SIZE = 500
MAX_BACKOFF_SECONDS = 3600
# A run stops after this many batches; the next run continues from the cursor.
MAX_BATCHES_PER_RUN = 20


@dataclass
class ForwardResult:
    forwarder_id: int
    status: str  # caught_up, failed, waiting, busy, disabled, more
    delivered: int = 0
    error: str = ""

    def summary(self) -> dict:
        return {
            "forwarder": self.forwarder_id,
            "status": self.status,
            "delivered": self.delivered,
            **({"error": self.error} if self.error else {}),
        }


def backoff_seconds(failures: int) -> int:
    """The wait after `failures` refused attempts in a row: the beat's period, doubled each
    time, at most an hour."""
    base = max(1, int(settings.SIEM_FORWARD_EVERY_SECONDS))
    return min(MAX_BACKOFF_SECONDS, base * 2 ** min(max(failures - 1, 0), 20))


def _failure_note(forwarder: SiemForwarder, error: str) -> None:
    now = timezone.now()
    forwarder.consecutive_failures += 1
    forwarder.last_error = error[:500]
    forwarder.last_error_at = now
    forwarder.next_attempt_at = now + timedelta(
        seconds=backoff_seconds(forwarder.consecutive_failures)
    )
    forwarder.save(
        update_fields=["consecutive_failures", "last_error", "last_error_at", "next_attempt_at"]
    )


def _cursor_advance(forwarder: SiemForwarder, sequence: int) -> None:
    forwarder.last_sequence = sequence
    forwarder.last_delivered_at = timezone.now()
    forwarder.consecutive_failures = 0
    forwarder.next_attempt_at = None
    forwarder.save(
        update_fields=[
            "last_sequence",
            "last_delivered_at",
            "consecutive_failures",
            "next_attempt_at",
        ]
    )


def _batch_forward(forwarder_id: int, *, ignore_backoff: bool) -> ForwardResult:
    with transaction.atomic():
        forwarder = (
            SiemForwarder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant")
            .filter(pk=forwarder_id)
            .first()
        )
        if forwarder is None:
            return ForwardResult(forwarder_id, "busy")
        if not forwarder.enabled:
            return ForwardResult(forwarder_id, "disabled")
        due = forwarder.next_attempt_at
        if not ignore_backoff and due is not None and due > timezone.now():
            return ForwardResult(forwarder_id, "waiting")
        events = list(
            AuditEvent.objects.filter(
                tenant_id=forwarder.tenant_id, sequence__gt=forwarder.last_sequence
            ).order_by("sequence")[:BATCH_SIZE]
        )
        if not events:
            return ForwardResult(forwarder_id, "caught_up")
        try:
            batch_send(forwarder, events)
        except DeliveryFailed as failure:
            _failure_note(forwarder, str(failure))
            return ForwardResult(forwarder_id, "failed", error=str(failure))
        _cursor_advance(forwarder, events[-1].sequence)
        status = "more" if len(events) == BATCH_SIZE else "caught_up"
        return ForwardResult(forwarder_id, status, delivered=len(events))


def audit_trail_forward(*, forwarder_id: int, ignore_backoff: bool = False) -> ForwardResult:
    """Send one forwarder's undelivered events, batch after batch, until it is caught up, a
    batch is refused, or MAX_BATCHES_PER_RUN batches went. `ignore_backoff` tries at once (the
    command's --now)."""
    delivered = 0
    result = ForwardResult(forwarder_id, "caught_up")
    for _ in range(MAX_BATCHES_PER_RUN):
        result = _batch_forward(forwarder_id, ignore_backoff=ignore_backoff)
        delivered += result.delivered
        if result.status != "more":
            break
    result.delivered = delivered
    return result


def audit_trails_forward(*, ignore_backoff: bool = False) -> list[ForwardResult]:
    """Every enabled forwarder that is due (or all of them, with `ignore_backoff`)."""
    forwarders = SiemForwarder.objects.filter(enabled=True).order_by("pk")
    if not ignore_backoff:
        now = timezone.now()
        forwarders = forwarders.exclude(next_attempt_at__gt=now)
    return [
        audit_trail_forward(forwarder_id=pk, ignore_backoff=ignore_backoff)
        for pk in forwarders.values_list("pk", flat=True)
    ]


def forwarder_lag(forwarder: SiemForwarder, *, cap: int = 10_000) -> tuple[int, object]:
    """(events of the tenant not yet delivered, counted up to `cap`; when the oldest of them
    happened, or None)."""
    pending = AuditEvent.objects.filter(
        tenant_id=forwarder.tenant_id, sequence__gt=forwarder.last_sequence
    )
    count = pending.order_by().values("sequence")[:cap].count()
    oldest = pending.order_by("sequence").values_list("occurred_at", flat=True).first()
    return count, oldest
