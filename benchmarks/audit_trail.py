#!/usr/bin/env python3
"""Benchmarks of the audit trail: bulk append, single append, verification, admin changelist.

Run from the project root. It drops and creates its own databases, `custodia_bench` and
`custodia_bench_small` on 127.0.0.1:5432, drops them at the end, and talks to nothing else (never
the dev or test databases):

    .venv/bin/python benchmarks/audit_trail.py --quick                       # ~1.5 minutes
    .venv/bin/python benchmarks/audit_trail.py                               # ~4.5 minutes
    .venv/bin/python benchmarks/audit_trail.py --events-for-admin 10000000   # 8 to 13 minutes

Every figure is printed next to a baseline measured in the same run, on the same PostgreSQL
server, with the ratio between them. Speed is measured here, never asserted in the tests.

1. Bulk append: `events_record_bulk` (batches of 5,000) against `AuditEvent.objects.bulk_create`
   of the same rows with precomputed fake hashes, batches interleaved.
2. Single append: `event_record` (keyed: HMAC-SHA256 of the content in Python, the link hash in
   the same SQL statement) in its own `transaction.atomic()` against
   `AuditEvent.objects.create` of the same row (precomputed sequence and fake hashes) in its own
   `transaction.atomic()`, blocks interleaved.
3. Verification: `audit_chain_verify(full=True)` (each event's HMAC and link hash recomputed,
   the signed checkpoints checked) against a bare read of the same rows through the same
   server-side cursor, without hashing.
4. Admin changelist: four pages, as a superuser and as a tenant member, on a table of
   --events-for-admin rows against the same pages on a table of 10,000 rows. These rows are
   inserted with SQL (generate_series); their chain hashes are fake.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import queue
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from _setup import measured_at_commit

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
DB_NAME = "custodia_bench"
# Figure 4's 10,000-row table, measured in the same rounds as the large one.
SMALL_DB_NAME = "custodia_bench_small"
FAKE_HASH = "f" * 64  # the baselines' and the SQL-filled rows' hashes: not a valid chain
# The baselines' key id: their rows are as wide as the keyed chain's.
FAKE_KEY_ID = "f" * 16
BATCH = 5_000
TENANTS = 4
ACTORS_PER_TENANT = 50
SMALL_ADMIN_TABLE = 10_000
# pg_try_advisory_lock key held for a whole run of this script (two runs would share databases).
RUN_LOCK_KEY = 7_304_002
# The key held by a running recordings benchmark (benchmarks/_setup.py): this script waits for it
# to be released before it starts, as two benchmarks on 2 cores skew each other's figures.
RECORDINGS_RUN_LOCK_KEY = 7_304_001
# Django's connection: no statement of the benchmark may run longer than this.
STATEMENT_TIMEOUT = "120s"
# The SQL fill and the index builds of a 10M-row table, per statement.
FILL_STATEMENT_TIMEOUT = "30min"

ACTIONS = [
    "auth.login",
    "auth.logout",
    "recording.played",
    "recording.downloaded",
    "recording.viewed",
    "recording.searched",
    "recording.exported",
    "recording.purged",
    "membership.granted",
    "audit.exported",
]
PURPOSES = ["", "quality", "dispute", "training", "legal_hold"]
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


def configure_django(keep_debug: bool) -> None:
    """Environment first, then django.setup(): the benchmark database and dummy secrets only."""
    os.environ["DATABASE_URL"] = f"postgres://{USER}@{HOST}:{PORT}/{DB_NAME}"
    os.environ["DEBUG"] = "true"
    os.environ["SECRET_KEY"] = "benchmark-only-dummy-secret-key"  # noqa: S105
    os.environ["AUDIT_HMAC_KEY"] = "benchmark-only-dummy-audit-hmac-key"
    # Checkpoints anchor themselves in this file: the benchmark's, not the portal's var/.
    os.environ["AUDIT_ANCHOR_PATH"] = str(
        Path(tempfile.gettempdir()) / "custodia-bench-audit-anchors.jsonl"
    )
    # The test Client sends Host: testserver.
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    # WhiteNoise's complaint that collectstatic has not run (the benchmark serves no static files).
    warnings.filterwarnings("ignore", message="No directory at")

    import django

    django.setup()

    from django.conf import settings
    from django.db.backends.signals import connection_created

    database = settings.DATABASES["default"]
    if (database["NAME"], database["HOST"], int(database["PORT"])) != (DB_NAME, HOST, PORT):
        raise SystemExit("refusing to run: the settings do not point at the benchmark database")
    if not keep_debug:
        # DEBUG=true gives the development defaults (no SSL redirect, dummy secrets accepted);
        # switching it off after set-up removes Django's per-query log, which production does not
        # pay, from every timing (baselines included).
        settings.DEBUG = False

    # Import every URLconf now: a run takes minutes, and the admin is first requested late.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018

    def _timeout(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")

    connection_created.connect(_timeout, weak=False)


def run_guard(wait_minutes: int):
    """Hold this script's advisory lock for the run (returned connection), after waiting for a
    recordings benchmark, if one is running, to finish. Returns (connection, still busy)."""
    import psycopg

    guard = psycopg.connect(dsn("postgres"), autocommit=True)
    if not guard.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY]).fetchone()[0]:
        guard.close()
        raise SystemExit("another run of benchmarks/audit_trail.py is in progress")
    deadline = time.monotonic() + wait_minutes * 60
    announced = False
    while True:
        busy = guard.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = 0 AND objid = %s AND objsubid = 1",
            [RECORDINGS_RUN_LOCK_KEY],
        ).fetchone()[0]
        if not busy or time.monotonic() >= deadline:
            break
        if not announced:
            print(f"waiting (at most {wait_minutes} min) for a recordings benchmark to finish...")
            announced = True
        time.sleep(5)
    if busy:
        print("WARNING: a recordings benchmark is still running; these figures will be skewed")
    return guard, bool(busy)


# --- results --------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    baseline: str
    ratio: str
    passed: bool | None  # None: informative, no target
    notes: str = ""
    load: str = ""  # 1-minute load average when the figure was taken


@dataclass
class Report:
    started: str
    machine: dict
    arguments: dict
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def add(self, row: Row) -> None:
        row.load = row.load or load_average()
        self.rows.append(row)
        verdict = {True: "PASS", False: "FAIL", None: "info"}[row.passed]
        print(
            f"  -> {row.figure}: {row.measured} (baseline {row.baseline}, ratio {row.ratio}; "
            f"target {row.target}) {verdict} [load {row.load}]",
            flush=True,
        )

    def markdown(self) -> str:
        lines = [
            "| Figure | Target | Measured | Baseline | Ratio | Result | Date | Commit | Machine |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        date = self.started[:10]
        commit = measured_at_commit()
        machine = f"{self.machine['cpus']} cores, {self.machine['memory']}"
        for row in self.rows:
            verdict = {True: "pass", False: "**FAIL**", None: "info"}[row.passed]
            lines.append(
                f"| {row.figure} | {row.target} | {row.measured} | {row.baseline} | "
                f"{row.ratio} | {verdict} | {date} | {commit} | {machine} (load {row.load}) |"
            )
        return "\n".join(lines)


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: of 30 samples, p95 is the second largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def machine_info() -> dict:
    import django
    import psycopg

    with psycopg.connect(dsn("postgres")) as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
        settings = dict(
            admin.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'synchronous_commit', 'fsync', 'jit', "
                "'max_wal_size')"
            ).fetchall()
        )
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split()[1])
        memory = f"{total_kb / 1024 / 1024:.0f} GB"
    return {
        "cpus": os.cpu_count(),
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "postgresql": server,
        "postgresql_settings": settings,
    }


# --- database -------------------------------------------------------------------------------


def dsn(name: str) -> str:
    return f"host={HOST} port={PORT} user={USER} dbname={name}"


_wrappers: dict = {}


def database_use(name: str) -> None:
    """Make `name` Django's default database. Each benchmark database keeps its own open
    connection (a DatabaseWrapper), so that switching between them costs nothing."""
    from django.db import connections
    from django.db.utils import load_backend

    if name not in _wrappers:
        settings_dict = dict(connections.settings["default"], NAME=name)
        backend = load_backend(settings_dict["ENGINE"])
        _wrappers[name] = backend.DatabaseWrapper(settings_dict, "default")
    connections["default"] = _wrappers[name]


def database_recreate(name: str = DB_NAME) -> None:
    """Drop and create a benchmark database, then migrate: the only way to empty the
    append-only trail (its triggers refuse DELETE and TRUNCATE)."""
    import psycopg
    from django.core.management import call_command
    from psycopg import sql

    assert name.startswith("custodia_bench"), name
    wrapper = _wrappers.pop(name, None)
    if wrapper is not None:
        wrapper.close()
    started = time.perf_counter()
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        identifier = sql.Identifier(name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    database_use(name)
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  (database {name} created and migrated in {time.perf_counter() - started:.1f} s)")


def databases_drop() -> None:
    import psycopg
    from psycopg import sql

    for wrapper in _wrappers.values():
        wrapper.close()
    _wrappers.clear()
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        for name in (DB_NAME, SMALL_DB_NAME):
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def chain_head() -> tuple[int, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence, hash FROM audit_chainhead WHERE id = 1")
        return cursor.fetchone()


def chain_head_move(sequence: int) -> None:
    """Move the head past rows inserted by a baseline (an UPDATE, which the head allows)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = %s, previous_hash = %s, hash = %s WHERE id = 1",
            [sequence, FAKE_HASH, FAKE_HASH],
        )


def tenants_create(count: int) -> list[int]:
    from compliance.models import Tenant

    return [
        Tenant.objects.create(name=f"Bench tenant {i}", slug=f"bench-{i}", country_code="FR").pk
        for i in range(count)
    ]


# --- 1. bulk append -------------------------------------------------------------------------


def purge_events(count: int, first_target: int, tenant_id: int) -> list:
    """What the nightly purge appends: one event per purged recording."""
    from audit.context import AuditContext
    from audit.services import Event

    context = AuditContext(
        actor_username="task:recordings.tasks.purge_expired_recordings",
        request_id=uuid.uuid4().hex,
    )
    return [
        Event(
            action="recording.purged",
            tenant_id=tenant_id,
            target_type="recordings.recording",
            target_id=str(first_target + i),
            target_label=f"call {first_target + i:08d} of 2026-03-14 10:02",
            purpose="retention",
            justification="Retention period of 24 months expired",
            extra={"retention_days": 730, "size_bytes": 1_048_576 + i},
            context=context,
        )
        for i in range(count)
    ]


def as_model_rows(events: list, first_sequence: int, occurred_at: datetime) -> list:
    """The same rows as plain AuditEvent instances, with fake (precomputed) hashes."""
    from audit.models import AuditEvent

    rows = []
    for offset, event in enumerate(events):
        context = event.context
        rows.append(
            AuditEvent(
                sequence=first_sequence + offset,
                occurred_at=occurred_at,
                tenant_id=event.tenant_id,
                actor_id=context.actor_id,
                actor_username=context.actor_username,
                action=event.action,
                outcome=str(event.outcome),
                target_type=event.target_type,
                target_id=event.target_id,
                target_label=event.target_label,
                purpose=event.purpose,
                justification=event.justification,
                client_ip=context.client_ip,
                user_agent=context.user_agent,
                workstation_id=context.workstation_id,
                request_id=context.request_id,
                extra=event.extra,
                previous_hash=FAKE_HASH,
                hash=FAKE_HASH,
                key_id=FAKE_KEY_ID,
            )
        )
    return rows


def bench_bulk(report: Report, total: int, tenant_id: int) -> None:
    from django.utils import timezone

    from audit.models import AuditEvent
    from audit.services import events_record_bulk

    print(f"\n[1] bulk append: {total:,} events each way, batches of {BATCH:,}", flush=True)
    rounds = max(1, total // BATCH)
    chain_seconds = baseline_seconds = 0.0
    target = 1
    # Round -1 is an untimed batch of each (connection, caches, JSON encoder, COPY set-up); then
    # the two alternate which goes first.
    for round_index in range(-1, rounds):
        order = ("chain", "baseline") if round_index % 2 == 0 else ("baseline", "chain")
        for kind in order:
            events = purge_events(BATCH, target, tenant_id)
            target += BATCH
            if kind == "chain":
                started = time.perf_counter()
                recorded = events_record_bulk(events)
                elapsed = time.perf_counter() - started
                assert len(recorded) == BATCH
                if round_index >= 0:
                    chain_seconds += elapsed
            else:
                head_sequence, _ = chain_head()
                rows = as_model_rows(events, head_sequence + 1, timezone.now())
                started = time.perf_counter()
                AuditEvent.objects.bulk_create(rows, batch_size=BATCH)
                elapsed = time.perf_counter() - started
                chain_head_move(head_sequence + BATCH)
                if round_index >= 0:
                    baseline_seconds += elapsed
    events_done = max(1, total // BATCH) * BATCH
    chain_rate = events_done / chain_seconds
    baseline_rate = events_done / baseline_seconds
    ratio = chain_rate / baseline_rate
    report.details["bulk"] = {
        "events_each_way": events_done,
        "chain_seconds": chain_seconds,
        "baseline_seconds": baseline_seconds,
    }
    report.add(
        Row(
            figure=f"1. Bulk append, `events_record_bulk`, {events_done:,} events in "
            f"batches of {BATCH:,}",
            target="≥ 20,000 events/s and ≥ 0.6× baseline",
            measured=f"{chain_rate:,.0f} events/s",
            baseline=f"{baseline_rate:,.0f} events/s (`bulk_create`, same rows, fake hashes)",
            ratio=f"{ratio:.2f}×",
            passed=chain_rate >= 20_000 and ratio >= 0.6,
        )
    )


# --- 2. single append -----------------------------------------------------------------------


def bench_single(report: Report, total: int, tenant_id: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from audit.context import AuditContext
    from audit.models import AuditEvent
    from audit.services import event_record

    block = 100
    blocks = max(1, total // block)
    print(
        f"\n[2] single append: {blocks * block:,} appends each way, one per transaction",
        flush=True,
    )
    context = AuditContext(
        actor_id=42,
        actor_username="alice",
        client_ip="10.1.2.3",
        user_agent=USER_AGENT,
        workstation_id="WS-0042",
        request_id=uuid.uuid4().hex,
    )
    fields = {
        "action": "recording.played",
        "target_type": "recordings.recording",
        "target_label": "call 00001234 of 2026-03-14 10:02",
        "purpose": "quality",
        "justification": "Monthly quality sample",
    }
    extra = {"position_seconds": 12}

    def chain_append(target_id: str) -> None:
        with transaction.atomic():
            event_record(
                tenant=tenant_id, target_id=target_id, extra=extra, context=context, **fields
            )

    def plain_insert(sequence: int, target_id: str) -> None:
        with transaction.atomic():
            AuditEvent.objects.create(
                sequence=sequence,
                occurred_at=timezone.now(),
                tenant_id=tenant_id,
                actor_id=context.actor_id,
                actor_username=context.actor_username,
                outcome="allowed",
                target_id=target_id,
                client_ip=context.client_ip,
                user_agent=context.user_agent,
                workstation_id=context.workstation_id,
                request_id=context.request_id,
                extra=extra,
                previous_hash=FAKE_HASH,
                hash=FAKE_HASH,
                key_id=FAKE_KEY_ID,
                **fields,
            )

    timings: dict[str, list[float]] = {"chain": [], "baseline": []}
    for index in range(-1, blocks):  # block -1 is an untimed warm-up of both
        order = ("chain", "baseline") if index % 2 == 0 else ("baseline", "chain")
        for kind in order:
            samples = []
            if kind == "chain":
                for i in range(block):
                    started = time.perf_counter()
                    chain_append(str(i))
                    samples.append(time.perf_counter() - started)
            else:
                head_sequence, _ = chain_head()
                for i in range(block):
                    started = time.perf_counter()
                    plain_insert(head_sequence + 1 + i, str(i))
                    samples.append(time.perf_counter() - started)
                chain_head_move(head_sequence + block)
            if index >= 0:
                timings[kind].extend(samples)

    chain_mean = statistics.fmean(timings["chain"]) * 1e3
    base_mean = statistics.fmean(timings["baseline"]) * 1e3
    chain_p95 = percentile(timings["chain"], 0.95) * 1e3
    base_p95 = percentile(timings["baseline"], 0.95) * 1e3
    ratio = chain_mean / base_mean
    report.details["single"] = {
        "appends_each_way": len(timings["chain"]),
        "chain_mean_ms": chain_mean,
        "baseline_mean_ms": base_mean,
        "chain_median_ms": statistics.median(timings["chain"]) * 1e3,
        "baseline_median_ms": statistics.median(timings["baseline"]) * 1e3,
        "chain_p95_ms": chain_p95,
        "baseline_p95_ms": base_p95,
    }
    report.add(
        Row(
            figure=f"2. Single append, `event_record` in its own `transaction.atomic()`, "
            f"{len(timings['chain']):,} appends",
            target="≤ 1.5× baseline",
            measured=f"{chain_mean:.3f} ms/append (p95 {chain_p95:.3f} ms)",
            baseline=f"{base_mean:.3f} ms/append (p95 {base_p95:.3f} ms) "
            "(`AuditEvent.objects.create`, same row, fake hash, own transaction)",
            ratio=f"{ratio:.2f}×",
            passed=ratio <= 1.5,
        )
    )

    # Informative: the cost without the commit (fsync), 500 appends in one transaction each way.
    many = 500
    with transaction.atomic():
        started = time.perf_counter()
        for i in range(many):
            event_record(tenant=tenant_id, target_id=str(i), extra=extra, context=context, **fields)
        chain_inside = (time.perf_counter() - started) / many * 1e3
    head_sequence, _ = chain_head()
    with transaction.atomic():
        started = time.perf_counter()
        for i in range(many):
            AuditEvent.objects.create(
                sequence=head_sequence + 1 + i,
                occurred_at=timezone.now(),
                tenant_id=tenant_id,
                actor_id=context.actor_id,
                actor_username=context.actor_username,
                target_id=str(i),
                client_ip=context.client_ip,
                user_agent=context.user_agent,
                workstation_id=context.workstation_id,
                request_id=context.request_id,
                extra=extra,
                previous_hash=FAKE_HASH,
                hash=FAKE_HASH,
                key_id=FAKE_KEY_ID,
                **fields,
            )
        base_inside = (time.perf_counter() - started) / many * 1e3
    chain_head_move(head_sequence + many)
    report.add(
        Row(
            figure=f"2b. Single append without the commit ({many} appends in one transaction)",
            target="— (informative)",
            measured=f"{chain_inside:.3f} ms/append",
            baseline=f"{base_inside:.3f} ms/append (`AuditEvent.objects.create`)",
            ratio=f"{chain_inside / base_inside:.2f}×",
            passed=None,
        )
    )


# --- 3. verification ------------------------------------------------------------------------


def bare_read() -> int:
    """The verifier's query through the same kind of server-side cursor, without hashing."""
    from django.db import connection, transaction

    from audit.chain_scan import VERIFY_SQL

    head_sequence, _ = chain_head()
    # `sequence > start` (and, since the verifier reads the head first, `<= head`).
    parameters = [0, head_sequence][: VERIFY_SQL.count("%s")]
    count = 0
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor(name="bench_bare_read") as cursor:
            cursor.itersize = 20_000
            cursor.execute(VERIFY_SQL, parameters)
            for _row in cursor:
                count += 1
    return count


def bench_verify(report: Report, total: int, repetitions: int) -> None:
    from audit.services import events_record_bulk
    from audit.verification import audit_chain_verify

    print(f"\n[3] verification: a valid chain of {total:,} events", flush=True)
    database_recreate()
    tenant_ids = tenants_create(TENANTS)
    started = time.perf_counter()
    target = 1
    while target <= total:
        size = min(BATCH, total - target + 1)
        events_record_bulk(purge_events(size, target, tenant_ids[target % TENANTS]))
        target += size
    fill_seconds = time.perf_counter() - started
    print(f"  filled with events_record_bulk in {fill_seconds:.1f} s", flush=True)
    head_sequence, _ = chain_head()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) audit_auditevent")

    assert bare_read() == head_sequence  # warm-up: the table is in the page cache for both
    verify_seconds, bare_seconds = [], []
    for repetition in range(repetitions):
        order = ("verify", "bare") if repetition % 2 == 0 else ("bare", "verify")
        for kind in order:
            started = time.perf_counter()
            if kind == "verify":
                result = audit_chain_verify(full=True)
                elapsed = time.perf_counter() - started
                assert result.intact, result.reason
                assert result.checked == head_sequence, (result.checked, head_sequence)
                verify_seconds.append(elapsed)
            else:
                assert bare_read() == head_sequence
                bare_seconds.append(time.perf_counter() - started)
    verify_rate = head_sequence / statistics.median(verify_seconds)
    bare_rate = head_sequence / statistics.median(bare_seconds)
    report.details["verify"] = {
        "events": head_sequence,
        "fill_seconds_events_record_bulk": fill_seconds,
        "verify_seconds": verify_seconds,
        "bare_read_seconds": bare_seconds,
    }
    report.add(
        Row(
            figure=f"3. Verification, `audit_chain_verify(full=True)`, {head_sequence:,} events "
            f"(median of {repetitions})",
            target="≥ 100,000 events/s",
            measured=f"{verify_rate:,.0f} events/s",
            baseline=f"{bare_rate:,.0f} events/s (same query and server-side cursor, no hashing)",
            ratio=f"{verify_rate / bare_rate:.2f}×",
            passed=verify_rate >= 100_000,
        )
    )
    bulk_rate = head_sequence / fill_seconds
    report.add(
        Row(
            figure=f"3b. Bulk append while filling the chain for figure 3 ({head_sequence:,} "
            "events, growing table)",
            target="— (informative)",
            measured=f"{bulk_rate:,.0f} events/s",
            baseline="—",
            ratio="—",
            passed=None,
        )
    )


# --- 4. admin changelist --------------------------------------------------------------------

_FILL_SQL = """
INSERT INTO audit_auditevent (
    sequence, occurred_at, tenant_id, actor_id, actor_username, action, outcome, target_type,
    target_id, target_label, purpose, justification, client_ip, user_agent, workstation_id,
    request_id, extra, previous_hash, hash, key_id)
SELECT %(offset)s + i,
       %(epoch)s::timestamptz + i * interval '3 seconds',
       (%(tenants)s::bigint[])[1 + mod(r, %(tenant_count)s)],
       (%(actors)s::bigint[])[1 + mod(r, %(tenant_count)s) * %(per_tenant)s
                                + mod(i / 7, %(per_tenant)s)],
       (%(usernames)s::text[])[1 + mod(r, %(tenant_count)s) * %(per_tenant)s
                                + mod(i / 7, %(per_tenant)s)],
       (%(actions)s::text[])[1 + mod(i / 3, %(action_count)s)],
       CASE WHEN mod(i, 50) = 0 THEN 'denied' ELSE 'allowed' END,
       'recordings.recording',
       r::text,
       'call ' || lpad(r::text, 8, '0'),
       (%(purposes)s::text[])[1 + mod(i, %(purpose_count)s)],
       CASE WHEN mod(i, 5) = 0 THEN '' ELSE 'Quality review of call ' || r END,
       '10.' || mod(i, 200) || '.' || mod(i / 200, 250) || '.' || (1 + mod(i, 250)),
       %(user_agent)s,
       'WS-' || lpad(mod(i, 400)::text, 4, '0'),
       md5(i::text),
       CASE WHEN mod(i, 4) = 0 THEN jsonb_build_object('position_seconds', mod(i, 600))
            ELSE '{}'::jsonb END,
       %(fake)s,
       %(fake)s,
       ''  -- fake hashes: no key made them
  FROM (SELECT i, 1 + mod(i * 7919, %(recordings)s) AS r
          FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i) AS numbers
"""

_SCHEMA_SQL = """
SELECT 'index', indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename = 'audit_auditevent'
   AND indexname NOT IN (SELECT conname FROM pg_constraint
                          WHERE conrelid = 'audit_auditevent'::regclass)
UNION ALL
SELECT 'constraint:' || contype::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'audit_auditevent'::regclass
 ORDER BY 1, 2
"""


@dataclass
class Cast:
    tenant_ids: list[int]
    actor_ids: list[int]
    usernames: list[str]
    superuser: object
    member: object
    member_tenant: int  # index into tenant_ids


def cast_create() -> Cast:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from compliance.models import Role, Tenant
    from compliance.services.memberships import membership_grant

    user_model = get_user_model()
    unusable = make_password(None)  # nobody signs in with a password; force_login only
    tenant_ids = tenants_create(TENANTS)
    superuser = user_model.objects.create(
        username="bench-root", is_staff=True, is_superuser=True, password=unusable
    )
    member = user_model.objects.create(username="bench-auditor", is_staff=True, password=unusable)
    member_tenant = 1
    membership_grant(
        actor="benchmark",
        user=member,
        tenant=Tenant.objects.get(pk=tenant_ids[member_tenant]),
        role=Role.AUDITOR,
    )
    member = user_model.objects.get(pk=member.pk)
    assert member.has_perm("audit.view_auditevent") and not member.is_superuser
    actors = user_model.objects.bulk_create(
        user_model(username=f"agent-{t}-{k:02d}", password=unusable)
        for t in range(TENANTS)
        for k in range(ACTORS_PER_TENANT)
    )
    return Cast(
        tenant_ids=tenant_ids,
        actor_ids=[actor.pk for actor in actors],
        usernames=[actor.username for actor in actors],
        superuser=superuser,
        member=member,
        member_tenant=member_tenant,
    )


def fill_with_sql(database: str, cast: Cast, total: int, connections_count: int) -> dict:
    """Insert `total` events with INSERT ... SELECT FROM generate_series, in chunks spread over a
    few connections, with the secondary indexes and foreign keys dropped during the load and then
    recreated from their exact definitions (checked identical afterwards). Fake hashes."""
    import psycopg
    from psycopg import sql

    timings = {}
    started = time.perf_counter()
    with psycopg.connect(dsn(database), autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
        offset = conn.execute("SELECT sequence FROM audit_chainhead WHERE id = 1").fetchone()[0]
        schema_before = conn.execute(_SCHEMA_SQL).fetchall()
        for kind, name, _definition in schema_before:
            if kind == "index":
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            elif kind == "constraint:f":
                conn.execute(
                    sql.SQL("ALTER TABLE audit_auditevent DROP CONSTRAINT {}").format(
                        sql.Identifier(name)
                    )
                )

    parameters = {
        "offset": offset,
        "epoch": datetime(2025, 1, 1, tzinfo=UTC),
        "tenants": cast.tenant_ids,
        "tenant_count": TENANTS,
        "actors": cast.actor_ids,
        "usernames": cast.usernames,
        "per_tenant": ACTORS_PER_TENANT,
        "actions": ACTIONS,
        "action_count": len(ACTIONS),
        "purposes": PURPOSES,
        "purpose_count": len(PURPOSES),
        "user_agent": USER_AGENT,
        "fake": FAKE_HASH,
        "recordings": max(100, total // 100),  # about 100 events per recording at every size
    }
    chunk = 500_000
    chunks: queue.Queue = queue.Queue()
    for low in range(1, total + 1, chunk):
        chunks.put((low, min(total, low + chunk - 1)))
    errors: list[BaseException] = []
    done = [0]
    lock = threading.Lock()

    def worker() -> None:
        try:
            with psycopg.connect(dsn(database), autocommit=True) as conn:
                conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
                conn.execute("SET synchronous_commit = off")
                while not errors:
                    try:
                        low, high = chunks.get_nowait()
                    except queue.Empty:
                        return
                    conn.execute(_FILL_SQL, {**parameters, "low": low, "high": high})
                    with lock:
                        done[0] += high - low + 1
                        if total >= 1_000_000 and done[0] % 1_000_000 < chunk:
                            print(
                                f"    {done[0]:>12,} rows in {time.perf_counter() - started:.0f} s",
                                flush=True,
                            )
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(max(1, connections_count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    timings["insert_seconds"] = time.perf_counter() - started

    step = time.perf_counter()
    with psycopg.connect(dsn(database), autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        for kind, _name, definition in schema_before:
            if kind == "index":
                conn.execute(definition)
        for kind, name, definition in schema_before:
            if kind == "constraint:f":
                conn.execute(
                    sql.SQL("ALTER TABLE audit_auditevent ADD CONSTRAINT {} {}").format(
                        sql.Identifier(name), sql.SQL(definition)
                    )
                )
        timings["index_seconds"] = time.perf_counter() - step
        schema_after = conn.execute(_SCHEMA_SQL).fetchall()
        assert schema_after == schema_before, "the table's indexes were not restored identically"
        step = time.perf_counter()
        # A loaded table as autovacuum would leave it: visibility map, hint bits, statistics.
        conn.execute("VACUUM (ANALYZE) audit_auditevent")
        timings["vacuum_seconds"] = time.perf_counter() - step
        last = offset + total
        conn.execute(
            "UPDATE audit_chainhead SET sequence = %s, previous_hash = %s, hash = %s WHERE id = 1",
            [last, FAKE_HASH, FAKE_HASH],
        )
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('audit_auditevent')), "
            "(SELECT count(*) FROM pg_indexes WHERE tablename = 'audit_auditevent')"
        ).fetchone()
        timings["table_size"] = size[0]
        timings["indexes"] = size[1]
    timings["total_seconds"] = time.perf_counter() - started
    return timings


def admin_pages(cast: Cast) -> list[tuple[str, str]]:
    member_tenant = cast.member_tenant
    actor = cast.actor_ids[member_tenant * ACTORS_PER_TENANT + 7]
    recording = 40 + member_tenant  # a recording of the member's tenant (r mod 4), r <= 100
    base = "/admin/audit/auditevent/"
    return [
        ("changelist", base),
        ("per-object", f"{base}?target=recordings.recording:{recording}"),
        ("per-user", f"{base}?actor={actor}"),
        ("action filter", f"{base}?action=auth.login"),
    ]


def admin_table(name: str, total: int, connections_count: int) -> tuple[Cast, dict]:
    database_recreate(name)
    cast = cast_create()
    print(f"  filling {total:,} events with INSERT ... SELECT generate_series", flush=True)
    fill = fill_with_sql(name, cast, total, connections_count)
    print(
        f"  filled in {fill['total_seconds']:.0f} s (insert {fill['insert_seconds']:.0f} s, "
        f"indexes {fill['index_seconds']:.0f} s, vacuum/analyze {fill['vacuum_seconds']:.0f} s); "
        f"table with its {fill['indexes']} indexes: {fill['table_size']}",
        flush=True,
    )
    return cast, fill


def admin_time(casts: dict[str, Cast], requests: int, warmup: int) -> dict:
    """Server time of each page, for each viewer, on each table. The test Client calls the WSGI
    handler in this process (no network), so the time is Django's and PostgreSQL's. The tables
    are measured in alternating rounds (each keeps its own open connection), so that whatever
    else runs on the machine weighs on both alike."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    names = list(casts)
    pages = {name: admin_pages(cast) for name, cast in casts.items()}
    assert len({tuple(p) for p in pages.values()}) == 1, "the pages differ between the tables"
    viewers = ("superuser", "tenant member")
    clients = {}
    for name, cast in casts.items():
        database_use(name)
        for viewer, user in zip(viewers, (cast.superuser, cast.member), strict=True):
            client = Client()
            client.force_login(user)
            clients[(name, viewer)] = client
    combos = [(viewer, page, path) for viewer in viewers for page, path in pages[names[0]]]
    samples: dict[tuple, list[float]] = {}
    facts: dict[tuple, dict] = {}
    for name in names:
        database_use(name)
        for viewer, page, path in combos:
            with CaptureQueriesContext(connection) as captured:
                response = clients[(name, viewer)].get(path)
            assert response.status_code == 200, (name, viewer, path, response.status_code)
            facts[(name, viewer, page)] = {
                "path": path,
                "rows_shown": response.content.count(b'class="field-sequence"'),
                "queries": len(captured.captured_queries),
                "slowest_query_ms": 1e3
                * max(float(query["time"]) for query in captured.captured_queries),
            }
            samples[(name, viewer, page)] = []
    for iteration in range(warmup + requests):
        for name in names if iteration % 2 == 0 else reversed(names):
            database_use(name)
            for viewer, page, path in combos:
                client = clients[(name, viewer)]
                started = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (name, viewer, path, response.status_code)
                if iteration >= warmup:
                    samples[(name, viewer, page)].append(elapsed)
    results = {}
    for key, values in samples.items():
        results[key] = {
            **facts[key],
            "p50_ms": statistics.median(values) * 1e3,
            "p95_ms": percentile(values, 0.95) * 1e3,
            "max_ms": max(values) * 1e3,
            "samples": len(values),
        }
    return results


def bench_admin(
    report: Report, total: int, requests: int, warmup: int, connections_count: int
) -> None:
    print(
        f"\n[4] admin changelist: {total:,} events against {SMALL_ADMIN_TABLE:,} "
        f"({requests} timed requests per page after {warmup} warm-up)",
        flush=True,
    )
    print(f"  small table: {SMALL_ADMIN_TABLE:,} events", flush=True)
    small_cast, _ = admin_table(SMALL_DB_NAME, SMALL_ADMIN_TABLE, connections_count)
    print(f"  large table: {total:,} events", flush=True)
    large_cast, fill = admin_table(DB_NAME, total, connections_count)
    results = admin_time({DB_NAME: large_cast, SMALL_DB_NAME: small_cast}, requests, warmup)
    details = {"events": total, "small_events": SMALL_ADMIN_TABLE, "fill": fill, "pages": {}}
    for (name, viewer, page), figures in results.items():
        size = total if name == DB_NAME else SMALL_ADMIN_TABLE
        print(
            f"    {size:>12,} {viewer:<14} {page:<14} p50 {figures['p50_ms']:7.1f} ms  "
            f"p95 {figures['p95_ms']:7.1f} ms  max {figures['max_ms']:7.1f} ms  "
            f"rows {figures['rows_shown']:>3}  queries {figures['queries']}  "
            f"slowest query {figures['slowest_query_ms']:.1f} ms",
            flush=True,
        )
        details["pages"][f"{size} / {viewer} / {page}"] = figures
    report.details["admin"] = details
    for (name, viewer, page), figures in results.items():
        if name != DB_NAME:
            continue
        baseline = results[(SMALL_DB_NAME, viewer, page)]
        ratio = figures["p95_ms"] / baseline["p95_ms"]
        query = figures["path"].removeprefix("/admin/audit/auditevent/") or "(no filter)"
        report.add(
            Row(
                figure=f"4. Admin changelist `{query}` ({page}, {viewer}), {total:,} events "
                "(fake hashes)",
                target="p95 < 300 ms and ≤ 2× baseline",
                measured=f"p95 {figures['p95_ms']:.1f} ms (p50 {figures['p50_ms']:.1f} ms)",
                baseline=f"p95 {baseline['p95_ms']:.1f} ms (p50 {baseline['p50_ms']:.1f} ms) "
                f"on {SMALL_ADMIN_TABLE:,} events",
                ratio=f"{ratio:.2f}×",
                passed=figures["p95_ms"] < 300 and ratio <= 2,
            )
        )


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, ~1.5 minutes")
    parser.add_argument("--events-for-admin", type=int, help="rows of the large admin table")
    parser.add_argument("--bulk-events", type=int, help="events appended each way in figure 1")
    parser.add_argument("--single-events", type=int, help="appends each way in figure 2")
    parser.add_argument("--verify-events", type=int, help="chain length for figure 3")
    parser.add_argument("--requests", type=int, help="timed requests per admin page")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["bulk", "single", "verify", "admin"],
        default=["bulk", "single", "verify", "admin"],
    )
    parser.add_argument("--fill-connections", type=int, default=2, help="for the SQL fill")
    parser.add_argument(
        "--time-limit-minutes", type=int, default=60, help="abort the whole run after this"
    )
    parser.add_argument(
        "--wait-minutes",
        type=int,
        default=20,
        help="how long to wait for a running recordings benchmark to finish first",
    )
    parser.add_argument("--keep-database", action="store_true", help="leave custodia_bench")
    parser.add_argument("--keep-debug", action="store_true", help="leave settings.DEBUG on")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)

    quick = arguments.quick
    admin_events = arguments.events_for_admin or (100_000 if quick else 1_000_000)
    bulk_events = arguments.bulk_events or (50_000 if quick else 200_000)
    single_events = arguments.single_events or (500 if quick else 2_000)
    verify_events = arguments.verify_events or (100_000 if quick else 500_000)
    requests = arguments.requests or 30
    for name, value, ceiling in [
        ("--events-for-admin", admin_events, 50_000_000),
        ("--bulk-events", bulk_events, 5_000_000),
        ("--single-events", single_events, 100_000),
        ("--verify-events", verify_events, 10_000_000),
        ("--requests", requests, 1_000),
    ]:
        if not 1 <= value <= ceiling:
            parser.error(f"{name} must be between 1 and {ceiling:,}")

    def _abort(signum, frame):
        raise SystemExit(f"time limit of {arguments.time_limit_minutes} minutes reached")

    signal.signal(signal.SIGALRM, _abort)
    signal.alarm(arguments.time_limit_minutes * 60)

    guard, busy = run_guard(arguments.wait_minutes)
    configure_django(arguments.keep_debug)
    report = Report(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine_info(),
        arguments={
            "events_for_admin": admin_events,
            "bulk_events": bulk_events,
            "single_events": single_events,
            "verify_events": verify_events,
            "requests": requests,
            "only": arguments.only,
            "debug": arguments.keep_debug,
        },
    )
    report.details["recordings_benchmark_running_at_start"] = busy
    print(f"Custodia audit-trail benchmarks, {report.started}")
    print(json.dumps(report.machine))
    started = time.perf_counter()
    try:
        if "bulk" in arguments.only or "single" in arguments.only:
            database_recreate()
            tenant_id = tenants_create(1)[0]
            if "bulk" in arguments.only:
                bench_bulk(report, bulk_events, tenant_id)
            if "single" in arguments.only:
                bench_single(report, single_events, tenant_id)
        if "verify" in arguments.only:
            bench_verify(report, verify_events, repetitions=3)
        if "admin" in arguments.only:
            bench_admin(report, admin_events, requests, 3, arguments.fill_connections)
    finally:
        try:
            if not arguments.keep_database:
                databases_drop()
        finally:
            guard.close()  # releases the advisory lock
    signal.alarm(0)
    report.details["run_seconds"] = time.perf_counter() - started
    print(f"\nResults ({report.started}, {report.machine['cpus']} cores):\n")
    print(report.markdown())
    failed = [row.figure for row in report.rows if row.passed is False]
    print(f"\n{len(failed)} target(s) missed." if failed else "\nEvery target met.")
    if arguments.json:
        payload = asdict(report)
        payload["details"] = json.loads(json.dumps(report.details, default=str))
        arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
