"""Raising an alert, or merging into the open one: the one way an Alert comes to exist.

The integrity jobs (audit/verification.py, the recordings' re-hash) call `alert_raise`; the trail
rules (audit/alerts/engine.py) call `alerts_raise` with a chunk's findings of one rule, which reads
their open alerts in one query and then does what `alert_raise` does for each. A new alert is
made by `alert_create` only, the single place where something must happen when an alert first
appears (notifications of high-severity alerts hook there); a repeat on the same rule and subject
while its alert is open (new or investigating) widens that alert instead (`_alert_merge`). Both
are audit events, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ALERT_OPEN_STATUSES, Alert
from ..notifications import alert_raised_notify
from ..services import event_record

# The trail's sequence numbers an alert lists (the first ones): the admin links to them; the
# count keeps going.
EVENT_SEQUENCES_CAP = 200


@dataclass
class Finding:
    """What a rule saw about one subject: the alert to raise, or to merge into the open one."""

    rule: str
    severity: str
    tenant_id: int | None
    subject_key: str
    subject_label: str
    summary: str
    window_start: datetime
    window_end: datetime
    event_sequences: list[int] = field(default_factory=list)
    event_count: int = 0
    subject_actor_id: int | None = None

    def absorb(self, other: Finding) -> None:
        """Another finding of the same rule and subject in the same run: one write for both."""
        self.window_start = min(self.window_start, other.window_start)
        self.window_end = max(self.window_end, other.window_end)
        self.event_sequences = _capped(self.event_sequences, other.event_sequences)
        self.event_count += other.event_count
        self.summary = other.summary


def _capped(first: Sequence[int], more: Sequence[int]) -> list[int]:
    if len(first) >= EVENT_SEQUENCES_CAP:
        return list(first)  # full already (a long spike absorbs a finding per event)
    seen = set(first)
    merged = list(first)
    for sequence in more:
        if len(merged) >= EVENT_SEQUENCES_CAP:
            break
        if sequence not in seen:
            seen.add(sequence)
            merged.append(sequence)
    return merged


def _event_extra(alert: Alert, finding: Finding) -> dict:
    return {
        "rule": alert.rule,
        "severity": alert.severity,
        "subject": alert.subject_key,
        "events": finding.event_count,
        "first_sequences": finding.event_sequences[:20],
    }


def alert_create(finding: Finding) -> Alert:
    """Make a new alert and record `alert.raised`: the ONLY place an Alert is created. Whatever
    must follow a new alert (a notification of a high-severity one) belongs here. Raises
    IntegrityError when an open alert for the rule and subject appeared meanwhile."""
    now = timezone.now()
    alert = Alert.objects.create(
        tenant_id=finding.tenant_id,
        rule=finding.rule,
        severity=finding.severity,
        subject_key=finding.subject_key,
        subject_actor_id=finding.subject_actor_id,
        subject_label=finding.subject_label[:200],
        summary=finding.summary[:300],
        window_start=finding.window_start,
        window_end=finding.window_end,
        event_sequences=_capped([], finding.event_sequences),
        event_count=finding.event_count,
        raised_at=now,
        updated_at=now,
    )
    event_record(
        action="alert.raised",
        tenant=alert.tenant_id,
        target=alert,
        extra=_event_extra(alert, finding),
    )
    # A high-severity alert is mailed to the tenant's compliance officers once this commits.
    alert_raised_notify(alert)
    return alert


def _alert_merge(alert: Alert, finding: Finding) -> Alert:
    alert.window_start = min(alert.window_start, finding.window_start)
    alert.window_end = max(alert.window_end, finding.window_end)
    alert.event_sequences = _capped(alert.event_sequences, finding.event_sequences)
    alert.event_count += finding.event_count
    alert.summary = finding.summary[:300]
    alert.updated_at = timezone.now()
    alert.save(
        update_fields=[
            "window_start",
            "window_end",
            "event_sequences",
            "event_count",
            "summary",
            "updated_at",
        ]
    )
    event_record(
        action="alert.merged",
        tenant=alert.tenant_id,
        target=alert,
        extra=_event_extra(alert, finding),
    )
    return alert


def _open_alert(finding: Finding) -> Alert | None:
    return (
        Alert.objects.select_for_update()
        .filter(
            tenant_id=finding.tenant_id,
            rule=finding.rule,
            subject_key=finding.subject_key,
            status__in=ALERT_OPEN_STATUSES,
        )
        .first()
    )


@transaction.atomic
def alert_raise(finding: Finding) -> tuple[Alert, bool]:
    """Raise the alert a finding describes, or merge it into the open alert of the same rule and
    subject (in the same tenant). Returns (alert, created). Two callers at once never both
    create it: the partial unique constraint `audit_alert_one_open_per_subject` refuses the
    second, which then merges."""
    alert = _open_alert(finding)
    if alert is not None:
        return _alert_merge(alert, finding), False
    try:
        with transaction.atomic():
            return alert_create(finding), True
    except IntegrityError:
        alert = _open_alert(finding)
        if alert is None:
            raise
        return _alert_merge(alert, finding), False


@transaction.atomic
def alerts_raise(findings: Sequence[Finding]) -> list[bool]:
    """`alert_raise` for each finding, in order (the findings are of different subjects), the
    open alerts to merge into read and locked in one query rather than one each (a long run
    merges into the same alerts chunk after chunk). Returns whether each alert was created."""
    if not findings:
        return []
    open_alerts = {
        (alert.tenant_id, alert.rule, alert.subject_key): alert
        for alert in Alert.objects.select_for_update().filter(
            rule__in={finding.rule for finding in findings},
            subject_key__in={finding.subject_key for finding in findings},
            status__in=ALERT_OPEN_STATUSES,
        )
    }
    created = []
    for finding in findings:
        alert = open_alerts.get((finding.tenant_id, finding.rule, finding.subject_key))
        if alert is not None:
            _alert_merge(alert, finding)
            created.append(False)
        else:
            created.append(alert_raise(finding)[1])
    return created
