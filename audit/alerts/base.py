"""The pieces every alert rule shares (audit/alerts/rules.py): its limits, what it may ask of
the run, its sliding windows, and the base classes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Protocol

import orjson

from ..models import Severity
from .raising import Finding

DAY = 86_400


@dataclass(frozen=True)
class Limits:
    enabled: bool
    threshold: int
    window_seconds: int
    days_off: frozenset[int]


@dataclass(frozen=True)
class WorkingHours:
    zone: Any  # a ZoneInfo
    start: time
    end: time


@dataclass(frozen=True)
class LocalDay:
    """One day of a tenant's, in its time zone, as instants (seconds since the epoch)."""

    begins: float
    ends: float
    weekday: int
    work_begins: float
    work_ends: float
    date: str


class Context(Protocol):
    """What a rule may ask of the run (audit/alerts/engine.py::RunContext)."""

    def limits(self, rule: str, tenant_id: int | None) -> Limits: ...

    def working_hours(self, tenant_id: int | None) -> WorkingHours | None: ...

    def local_day(self, tenant_id: int | None, at: float) -> LocalDay | None: ...

    def previous_sign_ins(self, actor_ids: list[int], before_sequence: int) -> dict: ...


# --- listening purposes that do not fit the recording's (registered by compliance) -------------

# (recording's purpose code, whether it is a platform purpose, stated need) -> compatible?
PurposeFit = Callable[[str, bool, str], bool]
_purpose_fit: list[PurposeFit] = []
# The listening needs' labels, by code (for the alerts' summaries).
need_labels: dict[str, str] = {}


def purpose_fit_register(fit: PurposeFit, labels: dict[str, str]) -> None:
    """compliance/apps.py registers its rule of compatible purposes
    (compliance/access_rules.py::needs_compatible_with) and the needs' labels: audit imports no
    domain app."""
    _purpose_fit[:] = [fit]
    need_labels.clear()
    need_labels.update(labels)


def purpose_fits(recording_purpose: str, platform: bool, need: str) -> bool:
    return not _purpose_fit or _purpose_fit[0](recording_purpose, platform, need)


# --- the base classes ----------------------------------------------------------------------------


# Subjects already met: a person's by actor id, with the name it was met under; an address's by
# address. Cleared when large (a run over millions of events meets at most a few thousand).
_people: dict[int, tuple[str, tuple[str, str, int]]] = {}
_addresses: dict[str, tuple[str, str, None]] = {}


def subject_of(event) -> tuple[str, str, int | None] | None:
    """(subject_key, label, actor id): the person when known, else the address, else none."""
    actor_id = event.actor_id
    if actor_id is not None:
        name = event.actor_username
        known = _people.get(actor_id)
        if known is not None and known[0] == name:
            return known[1]
        if len(_people) > 100_000:
            _people.clear()
        subject = (f"user:{actor_id}", name or f"#{actor_id}", actor_id)
        _people[actor_id] = (name, subject)
        return subject
    address = event.client_ip
    if not address:
        return None
    subject = _addresses.get(address)
    if subject is None:
        if len(_addresses) > 100_000:
            _addresses.clear()
        subject = _addresses[address] = (f"ip:{address}", address, None)
    return subject


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class Rule:
    code: str = ""
    severity: str = Severity.MEDIUM
    default_threshold: int = 1
    default_window_minutes: int = 60
    # What the threshold and the window mean for this rule (shown in the admin).
    meaning: str = ""
    actions: frozenset[str] = frozenset()
    reads_denied: bool = False  # every event whose outcome is "denied" too

    def __init__(self, context: Context, state: dict) -> None:
        self.context = context
        self.load(state)

    def load(self, state: dict) -> None:
        raise NotImplementedError

    def prepare(self, events: list) -> None:
        """Called with a chunk's events before they are fed one by one (to batch look-ups)."""

    def dump(self, now: float) -> dict:
        """The state to save (for orjson.dumps), forgetting what no window reaches at `now` (the
        last event's time)."""
        raise NotImplementedError

    def feed(self, event) -> Finding | None:
        raise NotImplementedError

    def finding(self, event, subject, summary, sequences, start: float, count: int) -> Finding:
        key, label, actor_id = subject
        return Finding(
            rule=self.code,
            severity=self.severity,
            tenant_id=event.tenant_id,
            subject_key=key,
            subject_label=label,
            subject_actor_id=actor_id,
            summary=summary,
            window_start=_instant(start),
            window_end=_instant(event.at),
            event_sequences=sequences,
            event_count=count,
        )


class _Window:
    """One subject's recent events: (time, sequence, counted value), oldest first (in sequence
    order), the count of each value (for rules that count distinct values; else None), and the
    last sequence already reported in an alert."""

    __slots__ = ("entries", "counts", "reported", "saved")

    def __init__(self, entries=(), reported: int = 0, *, distinct: bool = True) -> None:
        self.entries: deque = deque()
        self.counts: dict | None = {} if distinct else None
        self.reported = reported
        # (key's text, JSON) of the last dump (WindowRule.dump), None once the window changed.
        self.saved: tuple | None = None
        for entry in entries:
            self.add(*entry, horizon=float("-inf"))

    def add(self, at: float, sequence: int, value, horizon: float) -> None:
        entries, counts = self.entries, self.counts
        entries.append((at, sequence, value))
        self.saved = None
        if counts is not None:
            counts[value] = counts.get(value, 0) + 1
        if entries[0][0] < horizon:
            self.forget(horizon)

    def forget(self, horizon: float) -> None:
        entries, counts = self.entries, self.counts
        while entries and entries[0][0] < horizon:
            self.saved = None
            value = entries.popleft()[2]
            if counts is not None:
                left = counts[value] - 1
                if left:
                    counts[value] = left
                else:
                    del counts[value]

    def unreported(self) -> list[int]:
        """The sequences after `reported`: the newest entries (read from the end, so that a
        long window that reports every event costs one entry each time, not all of them)."""
        reported, found = self.reported, []
        for entry in reversed(self.entries):
            if entry[1] <= reported:
                break
            found.append(entry[1])
        found.reverse()
        return found


class WindowRule(Rule):
    """Counts a subject's events (or the distinct values they name) in a sliding window, and
    reports the events not reported yet once the count passes the threshold."""

    distinct = False  # count distinct values (recordings) rather than events

    # In memory a window's key is a tuple (tenant id, subject key, ...); saved, its parts joined
    # by "|" (an empty first part: no tenant).
    def load(self, state: dict) -> None:
        self.windows: dict[tuple, _Window] = {}
        # Per tenant: its limits and the window's length in seconds (asked once per run).
        self.spans: dict[int | None, tuple[Limits, int]] = {}
        for key, saved in state.items():
            tenant, *rest = key.split("|")
            window = _Window(map(tuple, saved["e"]), saved["r"], distinct=self.distinct)
            self.windows[(int(tenant) if tenant else None, *rest)] = window

    def span(self, tenant_id: int | None) -> tuple[Limits, int]:
        known = self.spans.get(tenant_id)
        if known is None:
            limits = self.context.limits(self.code, tenant_id)
            known = self.spans[tenant_id] = (limits, self.window_seconds(limits))
        return known

    def dump(self, now: float) -> dict:
        """Each window still open at `now`, under its key's text; a window unchanged since the
        last dump gives the same JSON again (kept as an orjson.Fragment: most windows of a
        long run, like a day's justifications, are written once and then only carried)."""
        saved, gone, horizons = {}, [], {}
        for key, window in self.windows.items():
            entries = window.entries
            horizon = horizons.get(key[0])
            if horizon is None:
                horizon = horizons[key[0]] = now - self.span(key[0])[1]
            if entries and entries[0][0] < horizon:
                window.forget(horizon)
            if not entries:
                gone.append(key)
                continue
            cached = window.saved
            if cached is None:
                text = "|".join("" if part is None else str(part) for part in key)
                json = orjson.dumps({"e": list(entries), "r": window.reported})
                cached = window.saved = (text, orjson.Fragment(json))
            saved[cached[0]] = cached[1]
        for key in gone:
            del self.windows[key]
        return saved

    def window_seconds(self, limits: Limits) -> int:
        return limits.window_seconds

    def window_key(self, event, subject_key: str) -> tuple:
        return (event.tenant_id, subject_key)

    def counted(self, event):
        return event.sequence

    def applies(self, event, limits: Limits) -> bool:
        return True

    def passes(self, window: _Window, limits: Limits) -> bool:
        if self.distinct:
            return len(window.counts) > limits.threshold
        return len(window.entries) >= limits.threshold

    def describe(self, window: _Window, limits: Limits) -> str:
        raise NotImplementedError

    def feed(self, event) -> Finding | None:
        # The cheap refusals first (limits and `applies` are per tenant and per event, the
        # subject a look-up): the outcome does not depend on the order.
        limits, seconds = self.spans.get(event.tenant_id) or self.span(event.tenant_id)
        if not limits.enabled or not self.applies(event, limits):
            return None
        subject = subject_of(event)
        if subject is None:
            return None
        key = self.window_key(event, subject[0])
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = _Window(distinct=self.distinct)
        at = event.at
        window.add(at, event.sequence, self.counted(event), at - seconds)
        if not self.passes(window, limits):
            return None
        sequences = window.unreported()
        window.reported = event.sequence  # (the window changed already: `add` above)
        start = window.entries[0][0]
        summary = self.describe(window, limits)
        return self.finding(event, subject, summary, sequences, start, len(sequences))
