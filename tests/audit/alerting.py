"""Feeding the trail events at chosen times, as the alert rules' tests need (through the trail's
own bulk append, so the chain stays valid)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from audit.alerts.engine import alert_rules_evaluate
from audit.context import AuditContext
from audit.models import Alert, AlertRuleSetting
from audit.services import Event, events_record_bulk

PARIS = ZoneInfo("Europe/Paris")
# A Wednesday and the Saturday after it, in Acme's time zone.
WEDNESDAY = datetime(2026, 12, 2, tzinfo=PARIS)
SATURDAY = datetime(2026, 12, 5, tzinfo=PARIS)


def at(day: datetime, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, second=second)


def event(
    action: str,
    *,
    when: datetime,
    user=None,
    tenant=None,
    ip: str = "",
    recording: object = None,
    outcome: str = "allowed",
    purpose: str = "",
    justification: str = "",
    extra: dict | None = None,
) -> Event:
    context = AuditContext(
        actor_id=user.pk if user else None,
        actor_username=user.username if user else "",
        client_ip=ip,
    )
    return Event(
        action=action,
        tenant_id=getattr(tenant, "pk", tenant),
        target_type="recordings.recording" if recording is not None else "",
        target_id=str(recording) if recording is not None else "",
        outcome=outcome,
        purpose=purpose,
        justification=justification,
        extra=extra or {},
        occurred_at=when,
        context=context,
    )


def feed(*events: Event) -> list[int]:
    return [recorded.sequence for recorded in events_record_bulk(list(events))]


def setting(rule: str, threshold: int, window_minutes: int = 60, tenant=None, **fields):
    return AlertRuleSetting.objects.create(
        rule=rule, threshold=threshold, window_minutes=window_minutes, tenant=tenant, **fields
    )


def alerts(rule: str | None = None) -> list[Alert]:
    found = Alert.objects.order_by("pk")
    return list(found.filter(rule=rule) if rule else found)


def evaluate(**options):
    result = alert_rules_evaluate(**options)
    assert not result.failed, result.failed
    return result


def signature(alert: Alert) -> tuple:
    """What a run decided about an alert (not when it ran)."""
    return (
        alert.rule,
        alert.tenant_id,
        alert.subject_key,
        alert.severity,
        alert.window_start,
        alert.window_end,
        tuple(alert.event_sequences),
        alert.event_count,
        alert.status,
    )
