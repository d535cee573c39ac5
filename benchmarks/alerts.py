#!/usr/bin/env python3
"""Benchmarks of the alert rules' evaluation (audit/alerts/engine.py).

Run from the project root. It drops and creates its own database, `custodia_bench_alerts` on
127.0.0.1:5432, drops it at the end, and talks to nothing else (never the dev or test
databases):

    .venv/bin/python benchmarks/alerts.py --quick     # small sizes, to check it works (~1 minute)
    .venv/bin/python benchmarks/alerts.py             # the figures: 1M and 10M events

Every figure is printed next to a baseline measured in the same run, with the ratio.

1. Every rule over N new events (default 1,000,000): `alert_rules_evaluate()` from cursors at 0,
   against one bare sequential read of the same events (the engine's own keyset query, same
   chunk size, rows fetched and dropped). Target: at least 50,000 events/s and within 5x of the
   bare read. Rounds alternate; before each evaluation the alerts are deleted and the cursors
   rewound.
2. A run with nothing new on a trail of M events (default 10,000,000): `alert_rules_evaluate()`
   with every cursor at the chain head, against the same query run alone (one index probe).
   Target: under 50 ms (p95 of 30). The query's plan (EXPLAIN) is printed: an index scan on the
   primary key.

The events are inserted with SQL (generate_series), so their chain hashes are fake; the rules do
not read hashes. The data: 4 tenants, 4,000 people (each in one tenant, with one address), within
Acme's working hours (a Wednesday from 09:00, Paris, one event every 25 ms: 1M events are 7
hours), 60 % opening recordings (one of 100,000), 10 % grants with a justification of their own,
5 % downloads, 5 % sign-ins, 5 % refused sign-ins (no person, from the person's address), 2 %
refused plays, the rest other actions. Every person acts every 100 s (4,000 events), the action
turning with each round: in 10 minutes six events, at most six recordings (the volume rule wants
more than 20), two refusals in 2,000 s (the burst rule wants 10 in 10 minutes), a download every
2,000 s (12 or 13 in the 7 hours; the spike rule wants more than 20 in a day). A quiet day: few
thresholds are crossed, as on a real trail, so that the figure is the cost of reading and
evaluating, not of writing alerts. The few: four heavy downloaders (persons 0 to 3, one per
tenant) take one more download every 100 s, so each crosses the spike threshold once (4 alerts
raised) and every later chunk merges into it (about 36 merges at 1M). Up to about 1.5M events
the day stays quiet; beyond, the ordinary downloads cross the day's threshold too.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
import warnings
from pathlib import Path

from _setup import measured_at_commit

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
DB_NAME = "custodia_bench_alerts"
RUN_LOCK_KEY = 7_304_003  # pg_try_advisory_lock held for a whole run of this script
STATEMENT_TIMEOUT = "120s"
FILL_STATEMENT_TIMEOUT = "30min"
MAX_EVENTS = 20_000_000

# 20 slots: an event's action is slot (g * 7) % 20; its person (g + g / 4000) % 4000, so each
# person's action turns through the slots, one every 4,000 events.
ACTIONS = (
    ["recording.played"] * 6
    + ["recording.viewed"] * 6
    + ["recording.access_granted"] * 2
    + ["recording.downloaded", "auth.login", "auth.login_failed", "recording.play_denied"]
    + ["membership.granted", "recording.ingested"]
)
DENIED = ("auth.login_failed", "recording.play_denied")

FILL_SQL = """
INSERT INTO audit_auditevent (sequence, occurred_at, tenant_id, actor_id, actor_username, action,
    outcome, target_type, target_id, target_label, purpose, justification, client_ip, user_agent,
    workstation_id, request_id, extra, previous_hash, hash, key_id)
SELECT g,
       timestamptz '2026-12-02 09:00:00+01' + g * interval '25 milliseconds',
       tenant_ids[1 + person %% 4],
       CASE WHEN action = 'auth.login_failed' THEN NULL ELSE 100000 + person END,
       CASE WHEN action = 'auth.login_failed' THEN '' ELSE 'person' || person END,
       action,
       CASE WHEN action = ANY(%(denied)s) THEN 'denied' ELSE 'allowed' END,
       CASE WHEN action LIKE 'recording.%%' THEN 'recordings.recording' ELSE '' END,
       CASE WHEN action LIKE 'recording.%%' THEN ((g * 31) %% 100000)::text ELSE '' END,
       '', CASE WHEN action = 'recording.access_granted' THEN 'quality' ELSE '' END,
       CASE WHEN action = 'recording.access_granted' THEN 'Sampling plan item ' || g ELSE '' END,
       '10.0.' || (person / 250) || '.' || (person %% 250), 'bench', '', '',
       CASE WHEN action = 'recording.access_granted'
            THEN '{"recording_purpose": "quality", "recording_purpose_platform": true}'::jsonb
            ELSE '{}'::jsonb END,
       %(fake)s, %(fake)s, ''
  FROM (SELECT g, action, tenant_ids,
               CASE WHEN action = 'recording.downloaded' AND g %% 4000 < 80
                    THEN g %% 4000 / 20 ELSE (g + g / 4000) %% 4000 END AS person
          FROM (SELECT g, (%(actions)s::text[])[1 + (g * 7) %% 20] AS action,
                       %(tenants)s::bigint[] AS tenant_ids
                  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g) AS slots
       ) AS rows
"""


def configure_django() -> None:
    os.environ["DATABASE_URL"] = f"postgres://{USER}@{HOST}:{PORT}/{DB_NAME}"
    os.environ["DEBUG"] = "true"
    os.environ["SECRET_KEY"] = "benchmark-only-dummy-secret-key"  # noqa: S105
    os.environ["AUDIT_HMAC_KEY"] = "benchmark-only-dummy-audit-hmac-key"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings
    from django.db.backends.signals import connection_created

    database = settings.DATABASES["default"]
    if (database["NAME"], database["HOST"], int(database["PORT"])) != (DB_NAME, HOST, PORT):
        raise SystemExit("refusing to run: the settings do not point at the benchmark database")
    settings.DEBUG = False  # no per-query log in the timings

    def _timeout(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")

    connection_created.connect(_timeout, weak=False)


def dsn(name: str) -> str:
    return f"host={HOST} port={PORT} user={USER} dbname={name}"


def run_guard():
    import psycopg

    guard = psycopg.connect(dsn("postgres"), autocommit=True)
    if not guard.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY]).fetchone()[0]:
        guard.close()
        raise SystemExit("another run of benchmarks/alerts.py is in progress")
    return guard


def database_drop() -> None:
    import psycopg
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME))
        )


def database_recreate() -> None:
    import psycopg
    from django.core.management import call_command
    from psycopg import sql

    database_drop()
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    call_command("migrate", verbosity=0, interactive=False)


def fill(total: int) -> int:
    """`total` events after the ones there, inserted by SQL in slices; the chain head follows.
    Returns the last one's sequence."""
    from django.db import connection, transaction

    from compliance.models import Tenant

    tenants = list(Tenant.objects.values_list("pk", flat=True))
    if not tenants:
        tenants = [
            Tenant.objects.create(name=f"Bench {i}", slug=f"bench-{i}", country_code="FR").pk
            for i in range(4)
        ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence FROM audit_chainhead WHERE id = 1")
        first = cursor.fetchone()[0] + 1
    started = time.perf_counter()
    last = first + total - 1
    step = 500_000
    for low in range(first, last + 1, step):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
            cursor.execute(
                FILL_SQL,
                {
                    "denied": list(DENIED),
                    "fake": "f" * 64,
                    "actions": ACTIONS,
                    "tenants": tenants,
                    "first": low,
                    "last": min(last, low + step - 1),
                },
            )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_chainhead SET sequence = %s WHERE id = 1", [last])
        cursor.execute("ANALYZE audit_auditevent")
    print(f"  ({total:,} events inserted in {time.perf_counter() - started:.1f} s)", flush=True)
    return last


def chain_head() -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence, hash, previous_hash FROM audit_chainhead WHERE id = 1")
        return cursor.fetchone()


def rewind(head: tuple) -> None:
    """Back to the trail as filled: the alerts deleted, the cursors at 0, and the events the
    last evaluation appended (alert.raised, alert.merged) removed and the chain head put back
    as the fill left it (`head`), so that every evaluation reads the same rows as the bare
    read. The trail is append-only (audit/migrations/0002_append_only.py): its triggers are
    off for this one transaction of the benchmark's own database (`session_replication_role`,
    superuser)."""
    from django.db import connection, transaction

    from audit.models import Alert, AlertRuleCursor

    with transaction.atomic():
        Alert.objects.all().delete()
        AlertRuleCursor.objects.update(last_sequence=0, state=b"")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("DELETE FROM audit_auditevent WHERE sequence > %s", [head[0]])
            cursor.execute(
                "UPDATE audit_chainhead SET sequence = %s, hash = %s, previous_hash = %s"
                " WHERE id = 1",
                head,
            )


def bare_read(chunk_size: int, last: int) -> int:
    """One sequential read of the filled events (up to `last`): the engine's query, keyset
    chunks, rows dropped."""
    from audit.alerts.engine import _events

    after, count = 0, 0
    while after < last:
        rows = _events(after, chunk_size)
        if not rows:
            break
        count += sum(1 for row in rows if row.sequence <= last)
        after = rows[-1].sequence
    return count


def figure_1(events: int, rounds: int) -> bool:
    from audit.alerts.engine import READ_BATCH, alert_rules_evaluate
    from audit.context import acting_as

    print(f"\n[1] every rule over {events:,} new events", flush=True)
    database_recreate()
    last = fill(events)
    head = chain_head()
    evaluated, bare = [], []
    for _ in range(rounds):
        rewind(head)
        started = time.perf_counter()
        assert bare_read(READ_BATCH, last) == events
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        with acting_as("benchmark"):
            result = alert_rules_evaluate()
        evaluated.append(time.perf_counter() - started)
        assert not result.failed, result.failed
        # Beyond the filled events, the run reads the alert events its own earlier chunks
        # appended (one per alert raised or merged): a few dozen.
        assert result.events_read >= events, result.events_read
        print(
            f"  round: evaluation {evaluated[-1]:.2f} s ({result.raised} raised, "
            f"{result.merged} merged, {result.events_read:,} events read), "
            f"bare read {bare[-1]:.2f} s",
            flush=True,
        )
    seconds, baseline = statistics.median(evaluated), statistics.median(bare)
    rate, ratio = events / seconds, seconds / baseline
    passed = rate >= 50_000 and ratio <= 5
    print(
        f"  -> {rate:,.0f} events/s ({seconds:.2f} s); bare read {baseline:.2f} s; "
        f"ratio {ratio:.2f}x (target >= 50,000/s and <= 5x) {'PASS' if passed else 'FAIL'}"
    )
    return passed


def figure_2(events: int, samples: int) -> bool:
    from django.db import connection

    from audit.alerts.engine import _EVENTS_SQL, READ_BATCH, _events, alert_rules_evaluate
    from audit.models import AlertRuleCursor

    print(f"\n[2] a run with nothing new on a trail of {events:,} events", flush=True)
    database_recreate()
    fill(events)
    AlertRuleCursor.objects.update(last_sequence=events)
    alert_rules_evaluate()  # warm: connection, settings
    runs, probes = [], []
    for _ in range(samples):
        started = time.perf_counter()
        result = alert_rules_evaluate()
        runs.append((time.perf_counter() - started) * 1000)
        assert result.events_read == 0
        started = time.perf_counter()
        _events(events, READ_BATCH)
        probes.append((time.perf_counter() - started) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + _EVENTS_SQL, [events, READ_BATCH])
        plan = "\n".join(f"    {line}" for (line,) in cursor.fetchall())
    print(plan)
    p95 = sorted(runs)[max(0, int(len(runs) * 0.95) - 1)]
    probe = statistics.median(probes)
    passed = p95 < 50 and "Index Scan" in plan
    print(
        f"  -> p95 {p95:.1f} ms (median {statistics.median(runs):.1f} ms); the query alone "
        f"{probe:.2f} ms; ratio {statistics.median(runs) / probe:.1f}x (target < 50 ms, an "
        f"index scan) {'PASS' if passed else 'FAIL'}"
    )
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it works")
    parser.add_argument("--events", type=int, help="figure 1's new events (1,000,000)")
    parser.add_argument("--trail-events", type=int, help="figure 2's trail (10,000,000)")
    parser.add_argument(
        "--only", nargs="+", choices=["evaluate", "idle"], default=["evaluate", "idle"]
    )
    parser.add_argument("--time-limit-minutes", type=int, default=60)
    parser.add_argument("--keep-database", action="store_true")
    arguments = parser.parse_args(argv)
    events = arguments.events or (50_000 if arguments.quick else 1_000_000)
    trail = arguments.trail_events or (200_000 if arguments.quick else 10_000_000)
    for name, value in (("--events", events), ("--trail-events", trail)):
        if not 1 <= value <= MAX_EVENTS:
            parser.error(f"{name} must be between 1 and {MAX_EVENTS:,}")

    def _abort(signum, frame):
        raise SystemExit(f"time limit of {arguments.time_limit_minutes} minutes reached")

    signal.signal(signal.SIGALRM, _abort)
    signal.alarm(arguments.time_limit_minutes * 60)
    guard = run_guard()
    configure_django()
    print(f"Custodia alert-rules benchmarks at commit {measured_at_commit()}")
    results = []
    try:
        if "evaluate" in arguments.only:
            results.append(figure_1(events, rounds=1 if arguments.quick else 3))
        if "idle" in arguments.only:
            results.append(figure_2(trail, samples=30))
    finally:
        if not arguments.keep_database:
            database_drop()
        guard.close()
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
