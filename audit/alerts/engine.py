"""Evaluating the alert rules (audit/alerts/rules.py) over the events that arrived since the last
run, in sequence order, in chunks.

Each rule has a cursor (`AlertRuleCursor`): the last sequence number it evaluated, and its
windows. A chunk is one transaction: under `kit/locks.py::alert_rules_lock` it reads the cursors,
then the next events after them (keyset on the primary key: a run costs what arrived since the
last one, and a run with nothing new is one index probe), feeds each rule the events of the
actions it reads, and, per rule in a savepoint, raises or merges its alerts and advances its
cursor with its state. So a run killed half-way has committed whole chunks only (its next run
resumes after them and raises nothing twice), two runs at once take turns chunk by chunk, and a
rule that fails is logged and left behind at its cursor (the next run retries it) while the
others go on.

The trail's sequence numbers commit in order (audit/services.py: the chain head's row lock is
held until the appending transaction ends), so no event can appear later behind a cursor.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass, field

from django.db import connection, transaction
from psycopg.rows import namedtuple_row

from kit.locks import alert_rules_lock

from ..models import AlertRuleCursor, AlertRuleSetting, AuditEvent, Outcome
from .base import Limits, Rule, WorkingHours
from .raising import Finding, alert_raise
from .rules import ALL_RULES, TRAIL_RULES

logger = logging.getLogger(__name__)

CHUNK_SIZE = 10_000

# Only what the rules read; justification and the recording's purpose only where they are used.
_EVENTS_SQL = """
SELECT sequence, extract(epoch FROM occurred_at)::float8 AS at, tenant_id, actor_id,
       actor_username, action, outcome, target_type, target_id, purpose, client_ip,
       CASE WHEN action = 'recording.access_granted' THEN justification ELSE '' END
           AS justification,
       CASE WHEN action = 'recording.access_granted'
            THEN coalesce(extra->>'recording_purpose', '') ELSE '' END AS recording_purpose,
       CASE WHEN action = 'recording.access_granted'
            THEN coalesce(extra->>'recording_purpose_platform', '') ELSE '' END
           AS recording_purpose_platform
  FROM audit_auditevent
 WHERE sequence > %s
 ORDER BY sequence
 LIMIT %s
"""


class RunContext:
    """What the rules may ask during one run: limits per rule and tenant (a tenant's setting,
    else the platform's, else the rule's defaults), tenants' working hours, past sign-ins."""

    def __init__(self) -> None:
        self._settings = {
            (setting.rule, setting.tenant_id): setting for setting in AlertRuleSetting.objects.all()
        }
        self._limits: dict[tuple[str, int | None], Limits] = {}
        self._hours: dict[int, WorkingHours | None] = {}

    def limits(self, rule: str, tenant_id: int | None) -> Limits:
        key = (rule, tenant_id)
        limits = self._limits.get(key)
        if limits is None:
            limits = self._limits[key] = rule_limits(rule, tenant_id, self._settings)
        return limits

    def working_hours(self, tenant_id: int | None) -> WorkingHours | None:
        if tenant_id is None:
            return None
        if tenant_id not in self._hours:
            tenants = AuditEvent._meta.get_field("tenant").related_model.objects
            row = (
                tenants.filter(pk=tenant_id)
                .values_list("time_zone", "working_hours_start", "working_hours_end")
                .first()
            )
            self._hours[tenant_id] = (
                WorkingHours(zoneinfo.ZoneInfo(row[0]), row[1], row[2]) if row else None
            )
        return self._hours[tenant_id]

    def previous_sign_in(self, actor_id: int, before_sequence: int) -> float | None:
        at = (
            AuditEvent.objects.filter(
                actor_id=actor_id, action="auth.login", sequence__lt=before_sequence
            )
            .order_by("-sequence")
            .values_list("occurred_at", flat=True)
            .first()
        )
        return at.timestamp() if at else None


def rule_limits(rule: str, tenant_id: int | None, settings: dict) -> Limits:
    """A tenant's own setting overrides the platform's default, which overrides the code's."""
    setting = settings.get((rule, tenant_id)) or settings.get((rule, None))
    if setting is None:
        defaults = ALL_RULES[rule]
        return Limits(
            True,
            defaults.default_threshold,
            defaults.default_window_minutes * 60,
            frozenset({5, 6}),
        )
    return Limits(
        setting.enabled,
        setting.threshold,
        setting.window_minutes * 60,
        frozenset(setting.days_off),
    )


@dataclass
class Evaluation:
    events_read: int = 0
    chunks: int = 0
    raised: int = 0
    merged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "events_read": self.events_read,
            "raised": self.raised,
            "merged": self.merged,
            "failed": self.failed,
        }


def _cursors(codes: list[str]) -> dict[str, int]:
    cursors = dict(
        AlertRuleCursor.objects.filter(rule__in=codes).values_list("rule", "last_sequence")
    )
    missing = [code for code in codes if code not in cursors]
    if missing:
        # A rule with no cursor yet starts from the first event (migration 0006 started the
        # shipped rules at the chain head of the day it ran).
        AlertRuleCursor.objects.bulk_create(
            [AlertRuleCursor(rule=code) for code in missing], ignore_conflicts=True
        )
        cursors.update(dict.fromkeys(missing, 0))
    return cursors


def _events(after: int, limit: int) -> list:
    connection.ensure_connection()
    with connection.connection.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(_EVENTS_SQL, (after, limit))
        return cursor.fetchall()


class _Dispatch:
    """Which rules read which events: by action, and every denied event for some."""

    def __init__(self, codes: list[str]) -> None:
        self.by_action: dict[str, list[str]] = {}
        self.denied: list[str] = []
        for rule in TRAIL_RULES:
            if rule.code not in codes:
                continue
            for action in rule.actions:
                self.by_action.setdefault(action, []).append(rule.code)
            if rule.reads_denied:
                self.denied.append(rule.code)

    def split(self, rows: list, codes: list[str]) -> dict[str, list]:
        lists: dict[str, list] = {code: [] for code in codes}
        by_action, denied = self.by_action, self.denied
        for row in rows:
            targets = by_action.get(row.action, ())
            for code in targets:
                if code in lists:
                    lists[code].append(row)
            if denied and row.outcome == Outcome.DENIED:
                for code in denied:
                    if code not in targets and code in lists:
                        lists[code].append(row)
        return lists


def _findings(rule: Rule, events: list) -> list[Finding]:
    """The rule's findings over `events`, one per tenant and subject (merged)."""
    found: dict[tuple[int | None, str], Finding] = {}
    for event in events:
        finding = rule.feed(event)
        if finding is None:
            continue
        key = (finding.tenant_id, finding.subject_key)
        if key in found:
            found[key].absorb(finding)
        else:
            found[key] = finding
    return list(found.values())


def alert_rules_evaluate(*, chunk_size: int = CHUNK_SIZE, only: list[str] | None = None):
    """Evaluate the rules (all, or those named in `only`) over the events after their cursors."""
    if chunk_size < 1:
        raise ValueError("the chunk size must be at least 1")
    codes = [rule.code for rule in TRAIL_RULES if only is None or rule.code in only]
    classes = {rule.code: rule for rule in TRAIL_RULES}
    dispatch = _Dispatch(codes)
    result = Evaluation()
    context: RunContext | None = None
    # Each rule's instance and the sequence its in-memory state stands at.
    loaded: dict[str, tuple[Rule, int]] = {}
    while True:
        with transaction.atomic():
            alert_rules_lock()
            cursors = _cursors(codes)
            result.cursors = dict(cursors)
            active = [code for code in codes if code not in result.failed]
            if not active:
                break
            start = min(cursors[code] for code in active)
            rows = _events(start, chunk_size)
            if not rows:
                break
            context = context or RunContext()
            stale = [c for c in active if c not in loaded or loaded[c][1] != cursors[c]]
            if stale:
                states = dict(
                    AlertRuleCursor.objects.filter(rule__in=stale).values_list("rule", "state")
                )
                for code in stale:
                    loaded[code] = (classes[code](context, states.get(code) or {}), cursors[code])
            lists = dispatch.split(rows, active)
            last = rows[-1]
            for code in active:
                events = lists[code]
                if cursors[code] > start:
                    events = [event for event in events if event.sequence > cursors[code]]
                rule = loaded[code][0]
                try:
                    with transaction.atomic():
                        for finding in _findings(rule, events):
                            created = alert_raise(finding)[1]
                            result.raised += created
                            result.merged += not created
                        AlertRuleCursor.objects.filter(rule=code).update(
                            last_sequence=last.sequence, state=rule.dump(last.at)
                        )
                except Exception as error:  # one rule's fault must not stop the others
                    logger.exception("alert rule %s failed after event %s", code, cursors[code])
                    result.failed[code] = f"{type(error).__name__}: {error}"
                    loaded.pop(code, None)
                else:
                    loaded[code] = (rule, last.sequence)
                    result.cursors[code] = last.sequence
            result.events_read += len(rows)
            result.chunks += 1
        if len(rows) < chunk_size:
            break
    return result
