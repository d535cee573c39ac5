#!/usr/bin/env python3
"""Benchmark of the admin's index, the compliance dashboard (portal/dashboard.py), among 10
million recordings and 100 million audit events, beside the plain admin index in the same run.

Run from the project root. It drops and creates its own databases, `custodia_bench_rec` (the
large one) and `custodia_bench_rec_small` (used only to estimate the disk the large one needs),
on 127.0.0.1:5432, and drops both at the end:

    .venv/bin/python benchmarks/dashboard.py --quick       # 200,000 recordings, 2M events
    .venv/bin/python benchmarks/dashboard.py               # 10M recordings, 100M events

Figure 6. `/admin/` as a tenant's compliance officer (every tenant panel: recordings per
purpose and status, retention windows, the last purge run, listening today, legal holds,
requests by days left, alerts and incidents, the chain's verification, and the lists of open
work) and as its auditor, as a platform operator (the platform's panels), and a tenant's board
on its own page as the platform operator (`/admin/dashboard/<id>/`). The baseline of each is
the plain admin index of Django (`AdminSite.index`: the list of apps) for the same viewer on
the same database, timed in alternating rounds. Each page is requested 3 times untimed, then
`--requests` times (30); server time around Django's test `Client` (the whole handler, no
network); p95 the nearest rank (of 30, the second largest).

Figure 6b: EXPLAIN (ANALYZE, BUFFERS) of every query of each dashboard page that reads the
recordings or the trail; a sequential scan of either fails it.

The data: subject_lookup.py's (recordings as recordings_admin.py fills them: three tenants,
seven shipped purposes, two years of calls, expired ones 95 % anonymised; consents; audit
events spread over the same two years up to now, so that "today" holds a day's share of them,
with the trail's listening actions; holds and 50 open access requests of the largest tenant),
plus, for the largest tenant, 60 alerts (new, being investigated, closed), 2 open incidents, a
finished purge run with its preview rows, and two verification checkpoints. Sizes as
subject_lookup.py: the disk is estimated from the small database before the large one is filled,
and checked before each chunk.

Target: p95 under 300 ms for every dashboard page; index scans only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import _setup
import subject_lookup

SMALL_RECORDINGS = 10_000
WARMUP = 3
ALERTS = 60
BIG_TABLES = ("recordings_recording", "audit_auditevent")


def extras_add(cast) -> dict:
    """What the dashboard shows beyond subject_lookup's data: alerts, incidents, a purge run,
    verification checkpoints; and an auditor of the largest tenant."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from audit.incidents import incident_open
    from audit.models import Alert, AlertStatus, Checkpoint, CheckpointKind, IncidentNature
    from compliance.models import Role
    from compliance.services.memberships import membership_grant
    from recordings.models import PurgeRun, PurgeRunStatus

    tenant = cast.member_tenant
    now = timezone.now()
    statuses = [AlertStatus.NEW, AlertStatus.INVESTIGATING, AlertStatus.CLOSED]
    Alert.objects.bulk_create(
        Alert(
            tenant=tenant,
            rule="volume",
            severity=["low", "medium", "high"][index % 3],
            status=statuses[index % 3],
            subject_key=f"ip:198.51.100.{index}",
            subject_label=f"198.51.100.{index}",
            summary="Many recordings opened in a short time",
            window_start=now - timedelta(hours=2),
            window_end=now - timedelta(hours=1),
            event_sequences=[1, 2, 3],
            event_count=3,
            raised_at=now - timedelta(minutes=index),
            updated_at=now,
        )
        for index in range(ALERTS)
    )
    for title in ("Laptop stolen", "Account compromise"):
        incident_open(
            actor=cast.superuser,
            tenant=tenant,
            title=title,
            nature=IncidentNature.ACCOUNT_COMPROMISE,
        )
    preview = [
        {
            "tenant": other.name,
            "tenant_id": other.pk,
            "purpose": code,
            "reason": "expired",
            "to_delete": 40_000,
            "held_back": 120,
            "restricted": 3,
        }
        for other in cast.tenants
        for code in ("quality", "training", "telemarketing")
    ]
    PurgeRun.objects.create(
        started_at=now - timedelta(hours=8),
        finished_at=now - timedelta(hours=7),
        status=PurgeRunStatus.FINISHED,
        triggered_by="benchmark",
        expired_found=360_000,
        purged=358_920,
        skipped_held=1_080,
        preview=preview,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence FROM audit_chainhead WHERE id = 1")
        head = cursor.fetchone()[0]
    for number, sequence in ((1, head // 2), (2, head)):
        # Checkpoints the verification would store (fake hashes and signatures: the chain of
        # this database is not a real one, only the pages are timed).
        Checkpoint.objects.create(
            number=number,
            kind=CheckpointKind.VERIFIED,
            sequence=sequence,
            hash="f" * 64,
            created_at=now - timedelta(hours=6 - number),
            key_id="f" * 16,
            previous_signature="f" * 64 if number > 1 else "",
            signature="f" * 64,
        )
    auditor = get_user_model().objects.create(
        username="bench-auditor", is_staff=True, password=make_password(None)
    )
    membership_grant(actor="benchmark", user=auditor, tenant=tenant, role=Role.AUDITOR)
    return {"auditor": get_user_model().objects.get(pk=auditor.pk)}


# The trail's indexes the dashboard reads (portal/dashboard.py: the day's listening and the
# chain's verification, by tenant or platform-wide action; the rest by primary key), found in
# figure 6b's plans. `--audit-indexes dashboard` rebuilds only these after the trail's fill.
subject_lookup.AUDIT_INDEX_SETS["dashboard"] = {"audit_action_seq", "audit_tenant_action_at"}


def database_build(
    name: str, recordings: int, events: int, connections: int, audit_indexes: str = "all"
) -> dict:
    build = subject_lookup.database_build(name, recordings, events, connections, audit_indexes)
    build.update(extras_add(build["cast"]))
    return build


@contextmanager
def plain_index():
    """The baseline: the same index without the dashboard (no board, no list of open work),
    which leaves Django's own index, the list of apps, for the requests inside; everything else
    (middleware, session, template) the same. The URL pattern holds the site's bound `index`,
    so what it calls is replaced, not the method."""
    from portal import admin_site

    originals = {
        "member_tenants": admin_site.member_tenants,
        "platform_board": admin_site.platform_board,
    }
    open_work = admin_site.PortalAdminSite._open_work
    admin_site.member_tenants = lambda request: []
    admin_site.platform_board = lambda request: None
    admin_site.PortalAdminSite._open_work = lambda self, request: {}
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(admin_site, name, function)
        admin_site.PortalAdminSite._open_work = open_work


def pages(build: dict) -> list[tuple[str, object, str]]:
    from django.urls import reverse

    cast = build["cast"]
    index = reverse("admin:index")
    board = reverse("admin:dashboard", args=[cast.member_tenant.pk])
    return [
        ("compliance officer, index", cast.officer, index),
        ("auditor, index", build["auditor"], index),
        ("platform operator, index", cast.superuser, index),
        ("platform operator, a tenant's board", cast.superuser, board),
    ]


def time_pages(build: dict, requests: int) -> dict:
    """Each page and its baseline (the plain index for the same viewer), in alternating rounds."""
    from django.test import Client

    _setup.database_use(_setup.DB_NAME)
    clients = {}
    for label, user, _path in pages(build):
        client = Client()
        client.force_login(user)
        clients[label] = client
    samples = {(label, kind): [] for label, _, _ in pages(build) for kind in ("dashboard", "plain")}
    index_path = "/admin/"
    for iteration in range(WARMUP + requests):
        order = ("dashboard", "plain") if iteration % 2 == 0 else ("plain", "dashboard")
        for label, _user, path in pages(build):
            for kind in order:
                started = time.perf_counter()
                if kind == "plain":
                    with plain_index():
                        response = clients[label].get(index_path)
                else:
                    response = clients[label].get(path)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (label, kind, response.status_code)
                assert (b"dashboard-board" in response.content) == (kind == "dashboard"), label
                if iteration >= WARMUP:
                    samples[(label, kind)].append(elapsed)
    return {
        key: {
            "p50_ms": statistics.median(values) * 1e3,
            "p95_ms": _setup.percentile(values, 0.95) * 1e3,
            "max_ms": max(values) * 1e3,
            "samples": len(values),
        }
        for key, values in samples.items()
    }


def plans(build: dict) -> tuple[list[dict], list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every query of each dashboard page that reads the
    recordings or the trail; the sequential scans of either among them."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    _setup.database_use(_setup.DB_NAME)
    explained, sequential = [], []
    for label, user, path in pages(build):
        client = Client()
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        with connection.cursor() as cursor:
            for query in captured.captured_queries:
                sql = query["sql"]
                if not any(table in sql for table in BIG_TABLES):
                    continue
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                explained.append(
                    {"page": label, "sql": sql, "ms": 1e3 * float(query["time"]), "plan": plan}
                )
                sequential += [
                    f"{label}: Seq Scan on {table}"
                    for table in BIG_TABLES
                    if f"Seq Scan on {table}" in plan
                ]
    return explained, sequential


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 recordings, 2M events")
    parser.add_argument("--recordings", type=int, help="of the large database (10,000,000)")
    parser.add_argument("--events", type=int, help="of the large database (10 per recording)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--fill-connections", type=int, default=2, help="for the SQL fill")
    parser.add_argument("--explain", action="store_true", help="print every plan of figure 6b")
    parser.add_argument("--keep-database", action="store_true", help="leave the databases")
    parser.add_argument("--time-limit-minutes", type=int, help="(quick: 60, full: 360)")
    parser.add_argument(
        "--audit-indexes",
        choices=("all", "dashboard"),
        default="all",
        help="the trail's indexes rebuilt after its fill, on both databases: all of them "
        "(default), or only those the dashboard reads (a disk too small for 100M events with all)",
    )
    parser.add_argument(
        "--disk-margin-gb",
        type=int,
        default=subject_lookup.DISK_MARGIN_BYTES // subject_lookup.GB,
        help="free space kept beyond the estimated peak (which has a tenth more already); the "
        "fill stops when half of it is left (default 10)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    recordings = arguments.recordings or (200_000 if arguments.quick else 10_000_000)
    events = arguments.events or recordings * subject_lookup.EVENTS_PER_RECORDING
    if not SMALL_RECORDINGS <= recordings <= 20_000_000:
        parser.error(f"--recordings must be between {SMALL_RECORDINGS:,} and 20,000,000")
    if not recordings <= events <= 200_000_000:
        parser.error("--events must be between --recordings and 200,000,000")
    if not 1 <= arguments.requests <= 1_000:
        parser.error("--requests must be between 1 and 1,000")
    time_limit = arguments.time_limit_minutes or (60 if arguments.quick else 360)
    if not 2 <= arguments.disk_margin_gb <= 100:
        parser.error("--disk-margin-gb must be between 2 and 100")
    # Read by subject_lookup's fill (its check before each chunk) as well as below.
    subject_lookup.DISK_MARGIN_BYTES = arguments.disk_margin_gb * subject_lookup.GB

    with _setup.Run(time_limit_minutes=time_limit, keep_database=arguments.keep_database) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia dashboard benchmark", _setup.machine_info())
        started = time.perf_counter()
        print(f"Custodia dashboard benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        small_events = SMALL_RECORDINGS * subject_lookup.EVENTS_PER_RECORDING
        print(f"\n  sizing: {SMALL_RECORDINGS:,} recordings, {small_events:,} events", flush=True)
        small = database_build(
            _setup.SMALL_DB_NAME,
            SMALL_RECORDINGS,
            small_events,
            arguments.fill_connections,
            arguments.audit_indexes,
        )
        counts = {
            "recordings_recording": recordings,
            "audit_auditevent": events,
            "compliance_consent": recordings // subject_lookup.RECORDINGS_PER_CONSENT,
        }
        sizes = small["timings"]["sizes"]
        needed = subject_lookup.disk_needed(sizes, counts)
        free = subject_lookup.free_disk_bytes()
        margin = subject_lookup.DISK_MARGIN_BYTES
        gb = subject_lookup.GB
        print(
            f"\n  large: {recordings:,} recordings, {events:,} events: about {needed / gb:.1f} GB "
            f"needed at the peak, {free / gb:.1f} GB free (keeping {margin / gb:.0f})",
            flush=True,
        )
        if needed + margin > free:
            raise SystemExit(
                f"not enough disk: about {needed / gb:.1f} GB needed, {free / gb:.1f} GB free, "
                f"{margin / gb:.0f} GB kept free: use smaller --recordings and --events"
            )
        large = database_build(
            _setup.DB_NAME, recordings, events, arguments.fill_connections, arguments.audit_indexes
        )

        print(
            f"\n[6] admin index: {arguments.requests} timed requests per page after {WARMUP} "
            "warm-up, each beside the plain admin index",
            flush=True,
        )
        results = time_pages(large, arguments.requests)
        for (label, kind), values in results.items():
            print(
                f"    {label:<40} {kind:<9} p50 {values['p50_ms']:7.1f} ms  "
                f"p95 {values['p95_ms']:7.1f} ms  max {values['max_ms']:7.1f} ms",
                flush=True,
            )
        explained, sequential = plans(large)
        slow = sorted(explained, key=lambda query: -query["ms"])
        shown = explained if arguments.explain else slow[:3]
        for query in shown:
            print(f"\n  {query['page']}, {query['ms']:.1f} ms:\n{query['sql']}\n{query['plan']}")
        scale = f"{recordings:,} recordings, {events:,} events"
        if arguments.audit_indexes == "dashboard":
            scale += " (the trail with only the indexes the dashboard reads)"
        for label, _user, path in pages(large):
            measured = results[(label, "dashboard")]
            baseline = results[(label, "plain")]
            report.add(
                _setup.Row(
                    figure=f"6. Dashboard `{path}`, {label}, {scale}",
                    target="p95 < 300 ms",
                    measured=f"p95 {measured['p95_ms']:.1f} ms (p50 {measured['p50_ms']:.1f} ms)",
                    baseline=f"plain admin index p95 {baseline['p95_ms']:.1f} ms",
                    ratio=f"{measured['p95_ms'] / baseline['p95_ms']:.2f}×",
                    passed=measured["p95_ms"] < 300,
                )
            )
        report.add(
            _setup.Row(
                figure=f"6b. Every dashboard query of the recordings or the trail reads an index "
                f"({len(explained)} queries), {scale}",
                target="no sequential scan of recordings or events",
                measured=", ".join(sorted(set(sequential))) or "index scans only",
                baseline="—",
                ratio="—",
                passed=not sequential,
            )
        )
        report.details = {
            "recordings": recordings,
            "events": events,
            "run_seconds": time.perf_counter() - started,
            "disk_estimate_bytes": needed,
            "builds": {_setup.DB_NAME: large["timings"]},
            "figures": {f"{label} / {kind}": values for (label, kind), values in results.items()},
            "plans": explained,
        }
        print(f"\n  run: {report.details['run_seconds'] / 60:.1f} minutes", flush=True)
        report.finish()
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
