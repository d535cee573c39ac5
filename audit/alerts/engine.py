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

import gc
import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import orjson
from django.db import connection, transaction
from psycopg.rows import namedtuple_row

from kit.locks import alert_rules_lock

from ..models import AlertRuleCursor, AlertRuleSetting, AuditEvent, Outcome
from .base import Limits, LocalDay, Rule, WorkingHours
from .raising import Finding, alerts_raise
from .rules import ALL_RULES, TRAIL_RULES

logger = logging.getLogger(__name__)

# Events per transaction (alerts and cursors commit together), read READ_BATCH at a time.
CHUNK_SIZE = 100_000
READ_BATCH = 10_000

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
           AS recording_purpose_platform,
       CASE WHEN action = 'recording.access_granted'
            THEN coalesce(extra->>'recording_purpose_name', '') ELSE '' END
           AS recording_purpose_name
  FROM audit_auditevent
 WHERE sequence > %s
 ORDER BY sequence
 LIMIT %s
"""

_PREVIOUS_SIGN_INS_SQL = """
SELECT person.id,
       (SELECT extract(epoch FROM e.occurred_at)::float8 FROM audit_auditevent e
         WHERE e.actor_id = person.id AND e.action = 'auth.login' AND e.sequence < %s
         ORDER BY e.sequence DESC LIMIT 1)
  FROM unnest(%s::bigint[]) AS person(id)
"""


# The state as binary (%b): a long window's state is megabytes, which the text form would
# escape and the server unescape with every chunk.
_CURSOR_SAVE_SQL = """
UPDATE audit_alertrulecursor SET last_sequence = %s, state = %b WHERE rule = %s
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
        self._days: dict[int | None, LocalDay] = {}

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

    def local_day(self, tenant_id: int | None, at: float) -> LocalDay | None:
        """The tenant's day holding `at` (cached: events come in time order)."""
        day = self._days.get(tenant_id)
        if day is not None and day.begins <= at < day.ends:
            return day
        hours = self.working_hours(tenant_id)
        if hours is None:
            return None
        date = datetime.fromtimestamp(at, tz=hours.zone).date()

        def instant(on, clock) -> float:
            return datetime.combine(on, clock, tzinfo=hours.zone).timestamp()

        day = self._days[tenant_id] = LocalDay(
            begins=instant(date, time(0)),
            ends=instant(date + timedelta(days=1), time(0)),
            weekday=date.weekday(),
            work_begins=instant(date, hours.start),
            work_ends=instant(date, hours.end),
            date=date.isoformat(),
        )
        return day

    def previous_sign_ins(self, actor_ids: list[int], before_sequence: int) -> dict:
        """Each person's last sign-in before `before_sequence` (None: never), one query walking
        the (actor, sequence) index backwards per person."""
        with connection.cursor() as cursor:
            cursor.execute(_PREVIOUS_SIGN_INS_SQL, [before_sequence, actor_ids])
            return dict(cursor.fetchall())


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


def _cursor_save(code: str, last_sequence: int, state: bytes) -> None:
    with connection.connection.cursor() as cursor:
        cursor.execute(_CURSOR_SAVE_SQL, (last_sequence, state, code))


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
        # Per action, the lists its events go to, and those its denied events go to as well.
        to: dict[str, tuple] = {}
        denied_to: dict[str, tuple] = {}
        for action, targets in self.by_action.items():
            to[action] = tuple(lists[code].append for code in targets if code in lists)
            denied_to[action] = tuple(
                lists[code].append for code in self.denied if code not in targets and code in lists
            )
        anything_denied = tuple(lists[code].append for code in self.denied if code in lists)
        nothing = ()
        denied = str(Outcome.DENIED)
        for row in rows:
            action = row.action
            for append in to.get(action, nothing):
                append(row)
            if anything_denied and row.outcome == denied:
                for append in denied_to.get(action, anything_denied):
                    append(row)
        return lists


def _collect(rule: Rule, events: list, found: dict[tuple[int | None, str], Finding]) -> None:
    """Feed the rule `events`; its findings gather in `found`, one per tenant and subject."""
    rule.prepare(events)
    feed = rule.feed
    for event in events:
        finding = feed(event)
        if finding is None:
            continue
        key = (finding.tenant_id, finding.subject_key)
        if key in found:
            found[key].absorb(finding)
        else:
            found[key] = finding


def _load(codes: list[str], context: RunContext, cursors: dict[str, int], loaded: dict) -> None:
    """Each rule's state as its cursor left it, unless the one in memory is that already (a run
    in another process may have moved the cursor between two of this run's transactions)."""
    stale = [code for code in codes if code not in loaded or loaded[code][1] != cursors[code]]
    if not stale:
        return
    states = dict(AlertRuleCursor.objects.filter(rule__in=stale).values_list("rule", "state"))
    classes = {rule.code: rule for rule in TRAIL_RULES}
    for code in stale:
        state = orjson.loads(bytes(states.get(code) or b"") or b"{}")
        loaded[code] = (classes[code](context, state), cursors[code])


def alert_rules_evaluate(*, chunk_size: int = CHUNK_SIZE, only: list[str] | None = None):
    """Evaluate the rules (all, or those named in `only`) over the events after their cursors,
    `chunk_size` events per transaction."""
    if chunk_size < 1:
        raise ValueError("the chunk size must be at least 1")
    # The windows hold many small, long-lived tuples and create no reference cycles: without
    # this, the cyclic collector walks them again and again (half the run's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _evaluate(chunk_size, only)
    finally:
        if collecting:
            gc.enable()


def _evaluate(chunk_size: int, only: list[str] | None) -> Evaluation:
    codes = [rule.code for rule in TRAIL_RULES if only is None or rule.code in only]
    dispatch = _Dispatch(codes)
    result = Evaluation()
    context: RunContext | None = None
    # Each rule's instance and the sequence its in-memory state stands at.
    loaded: dict[str, tuple[Rule, int]] = {}

    def fail(code: str, error: Exception, cursor: int) -> None:
        logger.exception("alert rule %s failed after event %s", code, cursor)
        result.failed[code] = f"{type(error).__name__}: {error}"
        loaded.pop(code, None)

    while True:
        read = 0
        with transaction.atomic():
            alert_rules_lock()
            cursors = _cursors(codes)
            result.cursors.update(cursors)
            active = [code for code in codes if code not in result.failed]
            after = min((cursors[code] for code in active), default=None)
            rows = _events(after, min(READ_BATCH, chunk_size)) if active else []
            if not rows:
                break
            context = context or RunContext()
            _load(active, context, cursors, loaded)
            found: dict[str, dict] = {code: {} for code in active}
            while rows:
                lists = dispatch.split(rows, active)
                for code in list(active):
                    events = lists[code]
                    if cursors[code] > after:
                        events = [event for event in events if event.sequence > cursors[code]]
                    try:
                        if events:
                            _collect(loaded[code][0], events, found[code])
                    except Exception as error:  # one rule's fault must not stop the others
                        fail(code, error, cursors[code])
                        active.remove(code)
                read += len(rows)
                last, after = rows[-1], rows[-1].sequence
                batch = min(READ_BATCH, chunk_size - read)
                rows = _events(after, batch) if batch > 0 and active else []
            # The writes come last, so that the trail's head (locked by the alert events until
            # this transaction commits) is held for the shortest time.
            for code in active:
                rule = loaded[code][0]
                try:
                    with transaction.atomic():
                        created = alerts_raise(list(found[code].values()))
                        _cursor_save(code, last.sequence, orjson.dumps(rule.dump(last.at)))
                except Exception as error:
                    fail(code, error, cursors[code])
                else:
                    loaded[code] = (rule, last.sequence)
                    result.cursors[code] = last.sequence
                    result.raised += sum(created)
                    result.merged += len(created) - sum(created)
            result.events_read += read
            result.chunks += 1
        if read < chunk_size:
            break
    return result
