"""The trail by time, through its sequence numbers: at 100 million events there is no index on
`occurred_at`, and none is needed, because events are numbered in the order they are appended
and each one's time is taken just before its append (audit/services.py): time grows with the
sequence, give or take the wait for the chain head's lock (one transaction's length, well under
ORDER_SLACK).

So "the events since an instant" are those numbered from the first event of ORDER_SLACK
before it, and timed at or after it: every index that ends with the sequence (tenant, action,
-sequence; tenant, -sequence...) then reads one bounded range, and the time condition keeps the
answer exact. The first sequence of an instant is a binary search over the primary key: about
27 probes of one index page each at 100 million events, in one statement.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

# How far an event's time may trail an event appended before it (see the module's docstring).
ORDER_SLACK = timedelta(hours=1)

# Bisection over [low, high): the first sequence whose event (or the next one, across a gap) is
# timed at or after the instant. PostgreSQL evaluates each step's probe through the primary key.
_FIRST_SEQUENCE_SQL = """
WITH RECURSIVE search(low, high) AS (
    SELECT (SELECT min(sequence) FROM audit_auditevent),
           (SELECT max(sequence) + 1 FROM audit_auditevent)
    UNION ALL
    SELECT CASE WHEN probe.at < %(instant)s THEN probe.middle + 1 ELSE search.low END,
           CASE WHEN probe.at < %(instant)s THEN search.high ELSE probe.middle END
      FROM search
     CROSS JOIN LATERAL (
        SELECT (search.low + search.high) / 2 AS middle,
               (SELECT occurred_at FROM audit_auditevent
                 WHERE sequence >= (search.low + search.high) / 2
                 ORDER BY sequence LIMIT 1) AS at
     ) AS probe
     WHERE search.low < search.high
)
SELECT max(low) FROM search
"""


def first_sequence_at(instant: datetime) -> int:
    """The lowest sequence number an event timed at or after `instant - ORDER_SLACK` can
    have (0 on an empty trail): a lower bound for every event at or after `instant`."""
    with connection.cursor() as cursor:
        cursor.execute(_FIRST_SEQUENCE_SQL, {"instant": instant - ORDER_SLACK})
        row = cursor.fetchone()
    return row[0] if row and row[0] is not None else 0


def day_start(day: date, zone_name: str) -> datetime:
    """The instant `day` begins in the zone (its midnight, or the first hour it has)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone_name))


def zone_shared(tenants) -> str:
    """The time zone every tenant of `tenants` (a queryset) is in, else the server's: the days
    of a view spanning several tenants."""
    # Read whole (a platform has tens of tenants, not millions), not with SELECT DISTINCT: the
    # trail's list must show none (tests/audit/test_admin.py).
    zones = set(tenants.order_by().values_list("time_zone", flat=True))
    return zones.pop() if len(zones) == 1 else settings.TIME_ZONE
