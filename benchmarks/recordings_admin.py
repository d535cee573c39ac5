#!/usr/bin/env python3
"""Benchmark of the recordings changelist, `/admin/recordings/recording/`, at 10 million rows.

Run from the project root. It drops and creates its own databases, `custodia_bench_rec` (the
large table) and `custodia_bench_rec_small` (the baseline), on 127.0.0.1:5432, and drops both at
the end:

    .venv/bin/python benchmarks/recordings_admin.py --quick     # 200,000 rows, ~2 minutes
    .venv/bin/python benchmarks/recordings_admin.py             # 10,000,000 rows, ~15 minutes

Figure 2. Six pages of the changelist (unfiltered; purpose filter; two retention-window filters;
exact search by call id; search by a national-format number), each as a compliance officer of one
tenant (a Membership, tenant-scoped) and as a superuser (every tenant). The lists are in the
admin's own orders: newest call first, and a retention window by the end of retention then id
(recordings/admin.py, RetentionEndsFilter). Each page is timed with Django's test
`Client` in this process (the whole handler, middleware, admin and template rendering, no
network): server time. Each page is requested 3 times untimed, then 30 times; p95 is the
nearest-rank 95th percentile (of 30 samples, the second largest). The baseline is the same page,
same viewer, on a table of 10,000 rows of the same distribution, measured in alternating rounds.

The rows are inserted with INSERT ... SELECT FROM generate_series (the secondary indexes and
foreign keys dropped during the load, then recreated from their exact definitions), then
VACUUM (ANALYZE). Three tenants (50 %, 30 %, 20 % of rows; two in France, one in Spain), the
seven shipped purposes with their shipped policies, calls spread evenly over the last two years
(ids ascending with time, as ingestion makes them; each id is its row number), retain_until
computed as the service does (start date in the tenant's time zone + the policy's months). Rows
past their retention are 95 % `purged` (anonymised metadata, no number, no file) and 5 % still
`active` (awaiting the purge).
No audio files, fake storage names, wrapped_key NULL, no history rows: the changelist reads none.

Target: p95 under 300 ms on every page, for both viewers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import _setup

SMALL_TABLE = 10_000
TENANTS = [
    # name, slug, country, time zone, share of rows (in tenths), number prefix
    ("Bench Assurances", "bench-assurances", "FR", "Europe/Paris", 5, "+336"),
    ("Bench Energie", "bench-energie", "FR", "Europe/Paris", 3, "+336"),
    ("Bench Seguros", "bench-seguros", "ES", "Europe/Madrid", 2, "+346"),
]
# Share of rows per shipped purpose, in percent.
PURPOSE_SHARES = {
    "training": 10,
    "quality": 35,
    "supervision": 10,
    "telemarketing": 15,
    "call_analysis": 5,
    "insurance_telesales": 15,
    "investment_services": 10,
}
CUSTOMERS = 2_000_000  # distinct numbers per country: about 5 calls per number at 10M rows
CHUNK = 500_000
TWO_YEARS_SECONDS = 730 * 24 * 3600

_FILL_SQL = """
INSERT INTO recordings_recording (
    id, call_id, direction, started_at, duration_seconds, agent_code, customer_number,
    subject_reference, campaign, legal_basis, retain_until, status, size_bytes, content_type,
    audio_sha256, storage_name, wrapped_key, master_key_id, ingested_at, agent_id, purpose_id,
    retention_policy_id, tenant_id, deletion_reason)
SELECT i, 'CALL-' || lpad(i::text, 9, '0'),
       CASE WHEN mod(h1 / 10, 3) = 0 THEN 'outbound' ELSE 'inbound' END,
       started_at,
       duration,
       'A' || lpad(mod(h1 / 30, 500)::text, 3, '0'),
       CASE WHEN purged THEN ''
            ELSE (%(prefixes)s::text[])[t] || (12000000 + mod(h3 / 100, %(customers)s))::text
       END,
       CASE WHEN purged OR mod(h2 / 1000, 10) >= 3 THEN ''
            ELSE 'CUST-' || lpad(mod(h2 / 10000, 1000000)::text, 7, '0') END,
       CASE WHEN mod(h1 / 15000, 5) = 0 THEN ''
            ELSE 'campaign-' || lpad(mod(h1 / 75000, 40)::text, 2, '0') END,
       (%(legal_bases)s::text[])[p],
       retain_until,
       CASE WHEN purged THEN 'purged' ELSE 'active' END,
       (duration * 16000)::bigint + 44,
       'audio/wav',
       md5(i::text) || md5((i + 1)::text),
       CASE WHEN purged THEN ''
            ELSE (%(tenant_ids)s::bigint[])[t] || '/' || to_char(started_at, 'YYYY/MM') || '/'
                 || md5(i::text) || '.cstd' END,
       NULL,
       'bench',
       started_at + duration * interval '1 second' + interval '45 seconds',
       NULL,
       (%(purpose_ids)s::bigint[])[p],
       (%(policy_ids)s::bigint[])[p],
       (%(tenant_ids)s::bigint[])[t],
       'expired'
  FROM (
    SELECT *, retain_until < %(today)s AND mod(h3, 20) <> 0 AS purged
      FROM (
        SELECT *, ((started_at AT TIME ZONE (%(zones)s::text[])[t])::date
                   + make_interval(months => (%(months)s::int[])[p]))::date AS retain_until,
               (20 + mod(h2, 1200)) + mod(h3 / 7, 1000) / 1000.0 AS duration
          FROM (
            SELECT i, h1, h2, h3,
                   (%(tenant_buckets)s::int[])[1 + mod(h1, 10)] AS t,
                   (%(purpose_buckets)s::int[])[1 + mod(h2 / 10, 100)] AS p,
                   %(epoch)s::timestamptz
                     + ((i - 1) * %(step)s + mod(h3, 5)) * interval '1 second' AS started_at
              FROM (
                SELECT i,
                       hashint8extended(i, 1) & 9223372036854775807 AS h1,
                       hashint8extended(i, 2) & 9223372036854775807 AS h2,
                       hashint8extended(i, 3) & 9223372036854775807 AS h3
                  FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i
              ) AS hashed
          ) AS placed
      ) AS dated
  ) AS rows
"""


class Cast:
    """The tenants, purposes and viewers of one database (identical ids in both databases)."""

    def __init__(self):
        from compliance.models import Purpose, RetentionPolicy, Tenant

        self.tenants = [
            Tenant.objects.create(name=name, slug=slug, country_code=country, time_zone=zone)
            for name, slug, country, zone, _share, _prefix in TENANTS
        ]
        self.purposes = {
            purpose.code: purpose
            for purpose in Purpose.objects.filter(tenant__isnull=True, code__in=PURPOSE_SHARES)
        }
        assert set(self.purposes) == set(PURPOSE_SHARES), "the shipped purposes are missing"
        policies = RetentionPolicy.objects.filter(tenant__isnull=True, active=True)
        self.policies = {policy.purpose_id: policy for policy in policies}
        self.member_tenant = self.tenants[0]  # the largest: half the rows
        # Distinct numbers per country prefix (subject_lookup.py sets fewer, for a handful of
        # calls per caller).
        self.customers = CUSTOMERS
        self.superuser, self.officer = _setup.users_create(self.member_tenant)

    def fill_parameters(self, total: int) -> dict:
        codes = list(PURPOSE_SHARES)
        purpose_buckets = [
            index + 1 for index, code in enumerate(codes) for _ in range(PURPOSE_SHARES[code])
        ]
        tenant_buckets = [index + 1 for index, spec in enumerate(TENANTS) for _ in range(spec[4])]
        assert len(purpose_buckets) == 100 and len(tenant_buckets) == 10
        purposes = [self.purposes[code] for code in codes]
        now = datetime.now(UTC).replace(microsecond=0)
        return {
            "tenant_ids": [tenant.pk for tenant in self.tenants],
            "zones": [spec[3] for spec in TENANTS],
            "prefixes": [spec[5] for spec in TENANTS],
            "tenant_buckets": tenant_buckets,
            "purpose_buckets": purpose_buckets,
            "purpose_ids": [purpose.pk for purpose in purposes],
            "legal_bases": [purpose.legal_basis for purpose in purposes],
            "policy_ids": [self.policies[purpose.pk].pk for purpose in purposes],
            "months": [self.policies[purpose.pk].retention_months for purpose in purposes],
            "customers": self.customers,
            "epoch": now - timedelta(seconds=TWO_YEARS_SECONDS),
            "step": TWO_YEARS_SECONDS / total,
            "today": now.date(),
        }


def fill(database: str, cast: Cast, total: int, connections_count: int) -> dict:
    """`total` rows with INSERT ... SELECT FROM generate_series, in chunks of CHUNK rows spread
    over a few connections, the secondary indexes dropped meanwhile; then VACUUM (ANALYZE)."""
    import psycopg

    parameters = cast.fill_parameters(total)
    timings: dict = {}
    started = time.perf_counter()
    with _setup.SecondaryIndexesDropped(database, "recordings_recording") as indexes:
        timings["insert_seconds"] = _setup.chunks_fill(
            database, _FILL_SQL, parameters, total, connections_count, chunk=CHUNK
        )
    timings["index_seconds"] = indexes.rebuild_seconds
    timings["vacuum_seconds"] = _setup.vacuum_analyze(database, "recordings_recording")
    with psycopg.connect(_setup.dsn(database), autocommit=True) as conn:
        # The rows' ids are their row numbers i (so that other tables can name a recording by
        # the same formula); the identity continues after them.
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('recordings_recording', 'id'), %s)", [total]
        )
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'active'), "
            "count(*) FILTER (WHERE status = 'active' AND retain_until < %s), "
            "pg_size_pretty(pg_total_relation_size('recordings_recording')) "
            "FROM recordings_recording",
            [parameters["today"]],
        ).fetchone()
    assert row[0] == total, (row[0], total)
    timings.update(rows=row[0], active=row[1], awaiting_purge=row[2], table_size=row[3])
    timings["total_seconds"] = time.perf_counter() - started
    return timings


def database_build(name: str, total: int, connections_count: int) -> tuple[Cast, dict]:
    _setup.database_recreate(name)
    cast = Cast()
    print(f"  filling {total:,} recordings with INSERT ... SELECT generate_series", flush=True)
    timings = fill(name, cast, total, connections_count)
    print(
        f"  filled in {timings['total_seconds']:.0f} s (insert {timings['insert_seconds']:.0f} s, "
        f"indexes {timings['index_seconds']:.0f} s, vacuum/analyze "
        f"{timings['vacuum_seconds']:.0f} s): {timings['rows']:,} rows, {timings['active']:,} "
        f"active of which {timings['awaiting_purge']:,} expired; table and indexes "
        f"{timings['table_size']}",
        flush=True,
    )
    return cast, timings


def pages(cast: Cast) -> list[tuple[str, str]]:
    """The pages, with search terms taken from rows of the member's tenant."""
    from recordings.models import Recording, Status

    base = "/admin/recordings/recording/"
    # A recent call of the member's tenant (the 100th newest by id).
    sample = (
        Recording.objects.filter(tenant=cast.member_tenant, status=Status.ACTIVE)
        .order_by("-pk")
        .values_list("call_id", "customer_number")[100:101]
        .get()
    )
    call_id, number = sample
    assert number.startswith("+336") and len(number) == 12, number
    national = "0" + " ".join([number[3], *(number[i : i + 2] for i in range(4, 12, 2))])
    return [
        ("unfiltered", base),
        ("purpose filter", f"{base}?purpose={cast.purposes['call_analysis'].pk}"),
        ("retention ends in 7 days", f"{base}?retention_ends=7d"),
        ("expired, awaiting purge", f"{base}?retention_ends=expired"),
        ("search: call id", f"{base}?{urlencode({'q': call_id})}"),
        ("search: national number", f"{base}?{urlencode({'q': national})}"),
    ]


def time_pages(casts: dict[str, Cast], paths: dict, requests: int, warmup: int) -> dict:
    """Server time of each page, for each viewer, in each database, in alternating rounds."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    names = list(casts)
    viewers = ("compliance officer", "superuser")
    clients = {}
    for name, cast in casts.items():
        _setup.database_use(name)
        for viewer, user in zip(viewers, (cast.officer, cast.superuser), strict=True):
            client = Client()
            client.force_login(user)
            clients[(name, viewer)] = client
    combos = {
        name: [(viewer, page, path) for viewer in viewers for page, path in paths[name]]
        for name in names
    }
    samples: dict[tuple, list[float]] = {}
    facts: dict[tuple, dict] = {}
    for name in names:
        _setup.database_use(name)
        for viewer, page, path in combos[name]:
            with CaptureQueriesContext(connection) as captured:
                response = clients[(name, viewer)].get(path)
            assert response.status_code == 200, (name, viewer, path, response.status_code)
            slowest = max(captured.captured_queries, key=lambda query: float(query["time"]))
            facts[(name, viewer, page)] = {
                "path": path,
                "rows_shown": response.content.count(b'class="field-call_id"'),
                "queries": len(captured.captured_queries),
                "slowest_query_ms": 1e3 * float(slowest["time"]),
                "slowest_query": slowest["sql"],
                "list_queries": list_queries(captured.captured_queries),
            }
            samples[(name, viewer, page)] = []
    for iteration in range(warmup + requests):
        for name in names if iteration % 2 == 0 else reversed(names):
            _setup.database_use(name)
            for viewer, page, path in combos[name]:
                started = time.perf_counter()
                response = clients[(name, viewer)].get(path)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (name, viewer, path, response.status_code)
                if iteration >= warmup:
                    samples[(name, viewer, page)].append(elapsed)
    return {
        key: {
            **facts[key],
            "p50_ms": statistics.median(values) * 1e3,
            "p95_ms": _setup.percentile(values, 0.95) * 1e3,
            "max_ms": max(values) * 1e3,
            "samples": len(values),
        }
        for key, values in samples.items()
    }


def list_queries(queries: list[dict]) -> list[dict]:
    """The page's two queries on the recordings table, in order: the paginator's capped count
    (SELECT COUNT(*) FROM (... LIMIT 10001)) and the page's rows. The others read the session,
    user, tenants, purposes and campaigns."""
    return [
        {"sql": query["sql"], "ms": 1e3 * float(query["time"])}
        for query in queries
        if '"recordings_recording"."id"' in query["sql"]
    ]


def explain(database: str, sql: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured query (its parameters already inlined)."""
    from django.db import connection

    _setup.database_use(database)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows, 15 requests a page")
    parser.add_argument("--rows", type=int, help="rows of the large table (default 10,000,000)")
    parser.add_argument("--requests", type=int, help="timed requests per page (default 30)")
    parser.add_argument("--fill-connections", type=int, default=2, help="for the SQL fill")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="EXPLAIN each page's count and rows queries (and any slower query)",
    )
    parser.add_argument("--keep-debug", action="store_true", help="leave settings.DEBUG on")
    parser.add_argument("--keep-database", action="store_true", help="leave the databases")
    parser.add_argument("--time-limit-minutes", type=int, default=60)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    total = arguments.rows or (200_000 if arguments.quick else 10_000_000)
    requests = arguments.requests or (15 if arguments.quick else 30)
    if not SMALL_TABLE <= total <= 50_000_000:
        parser.error(f"--rows must be between {SMALL_TABLE:,} and 50,000,000")
    if not 1 <= requests <= 1_000:
        parser.error("--requests must be between 1 and 1,000")

    with _setup.Run(
        time_limit_minutes=arguments.time_limit_minutes, keep_database=arguments.keep_database
    ) as run:
        _setup.configure_django(run.folder / "recordings", keep_debug=arguments.keep_debug)
        report = _setup.Report("Custodia recordings changelist benchmark", _setup.machine_info())
        print(f"Custodia recordings changelist benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        print(
            f"\n[2] changelist: {total:,} recordings against {SMALL_TABLE:,} "
            f"({requests} timed requests per page after 3 warm-up)",
            flush=True,
        )
        print(f"  small table: {SMALL_TABLE:,} recordings", flush=True)
        small_cast, _ = database_build(_setup.SMALL_DB_NAME, SMALL_TABLE, 1)
        print(f"  large table: {total:,} recordings", flush=True)
        large_cast, fill_timings = database_build(_setup.DB_NAME, total, arguments.fill_connections)
        # Each database's pages: the same filters, search terms taken from its own rows.
        paths = {}
        for name, cast in ((_setup.DB_NAME, large_cast), (_setup.SMALL_DB_NAME, small_cast)):
            _setup.database_use(name)
            paths[name] = pages(cast)
        results = time_pages(
            {_setup.DB_NAME: large_cast, _setup.SMALL_DB_NAME: small_cast}, paths, requests, 3
        )
        report.details = {"rows": total, "fill": fill_timings, "pages": {}}
        for (name, viewer, page), figures in results.items():
            size = total if name == _setup.DB_NAME else SMALL_TABLE
            split = " + ".join(f"{query['ms']:.1f}" for query in figures["list_queries"])
            print(
                f"    {size:>11,} {viewer:<18} {page:<26} p50 {figures['p50_ms']:6.1f} ms  "
                f"p95 {figures['p95_ms']:6.1f} ms  max {figures['max_ms']:6.1f} ms  "
                f"rows {figures['rows_shown']:>2}  queries {figures['queries']:>2}  "
                f"slowest query {figures['slowest_query_ms']:.1f} ms (count + rows {split} ms)",
                flush=True,
            )
            report.details["pages"][f"{size} / {viewer} / {page}"] = figures
        for (name, viewer, page), figures in results.items():
            if name != _setup.DB_NAME:
                continue
            baseline = results[(_setup.SMALL_DB_NAME, viewer, page)]
            query = figures["path"].removeprefix("/admin/recordings/recording/") or "(no query)"
            report.add(
                _setup.Row(
                    figure=f"2. Recordings changelist, {page} `{query}`, {viewer}, {total:,} rows",
                    target="p95 < 300 ms",
                    measured=f"p95 {figures['p95_ms']:.1f} ms (p50 {figures['p50_ms']:.1f} ms, "
                    f"{figures['queries']} queries)",
                    baseline=f"p95 {baseline['p95_ms']:.1f} ms on {SMALL_TABLE:,} rows",
                    ratio=f"{figures['p95_ms'] / baseline['p95_ms']:.2f}×",
                    passed=figures["p95_ms"] < 300,
                )
            )
            if arguments.explain or figures["p95_ms"] >= 300:
                queries = figures["list_queries"]
                if figures["slowest_query_ms"] > max((query["ms"] for query in queries), default=0):
                    slowest = {"sql": figures["slowest_query"], "ms": figures["slowest_query_ms"]}
                    queries = [slowest, *queries]
                for query in queries:
                    print(f"\n  {page} ({viewer}), {query['ms']:.1f} ms:\n{query['sql']}\n")
                    print(explain(name, query["sql"]))
        report.finish()
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
