#!/usr/bin/env python3
"""Benchmark of finding a data subject's data, `subject_data_find(request)`, among 10 million
recordings and 100 million audit events.

Run from the project root. It drops and creates its own databases, `custodia_bench_rec` (the
large one) and `custodia_bench_rec_small` (the baseline), on 127.0.0.1:5432, and drops both at
the end:

    .venv/bin/python benchmarks/subject_lookup.py --quick   # 1M recordings, 10M events
    .venv/bin/python benchmarks/subject_lookup.py           # 10M recordings, 100M events

Figure 5. For each of 50 subjects of the largest tenant (a caller's number, with the reference of
one of their calls when it has one: as a front office files them), an access request is
received (`subject_request_receive`), then timed: `subject_data_find(request).counts()` (what the
request's page shows) plus reading its four lists (the recordings, the consent decisions, the
legal holds, the trail's events about those recordings), each a query through Django in this
process: server time, no HTTP. The first lookup of each subject is timed on the tables as the
fill left them (the machine's page cache holds what it holds: 100 million events do not fit in
memory), then 3 rounds of the same lookups (warm). p95 is the nearest rank (of 50 samples, the
third largest). The baseline is the same selector, the same number of subjects, on 10,000
recordings and 100,000 events of the same distribution, measured in alternating rounds; a
primary-key read of one recording on the large database is shown too. EXPLAIN (ANALYZE,
BUFFERS) of every query of one lookup (the subject with the most recordings) is printed; a
sequential scan of recordings, consents, the trail or the holds' recordings (any of them over
10,000 rows) fails the figure.

The data: recordings as benchmarks/recordings_admin.py fills them (three tenants, seven shipped
purposes, two years of calls, expired calls 95 % purged), but with one distinct number per 20
recordings, so that a caller of the largest tenant has about 5 calls kept with their number;
consent decisions, one per 10 recordings, on the same numbers; legal holds: 5 naming sampled
subjects' numbers, one by campaign naming its recordings explicitly (tens of thousands of rows
of the hold-recording table at 10M), 4 released ones; audit events, 10 per recording on
average, each about a recording drawn at random (the pessimistic layout: a subject's events
are spread over the whole table, not next to each other), with the recording's tenant, and the
mix of the trail's recording events (ingested, viewed, access granted with a justification,
played, retention recomputed, access and play denied), 64-character fake hashes, the actors'
browsers' user agents. Every table keeps its real indexes; each is filled with INSERT ...
SELECT FROM generate_series with its secondary indexes and foreign keys dropped, then rebuilt
from their exact definitions, then VACUUM (ANALYZE).

Disk: the 10M/100M database takes about as much disk as this machine has free. The script
estimates the large database's size from the baseline's bytes per row (tables, indexes, the
largest index build's sort files) before filling it, and refuses to start when that estimate
plus DISK_MARGIN_BYTES exceeds the free space, naming the largest --events that fits. During the
fill, each chunk checks the free space again and stops the run below the margin.

Target: p95 under 200 ms, first lookups and warm ones; index scans only.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import _setup
import recordings_admin

SMALL_RECORDINGS = 10_000
EVENTS_PER_RECORDING = 10
SUBJECTS = 50
WARM_ROUNDS = 3
CHUNK = 500_000
SEED = 14
GB = 1024**3
# Kept free beyond the estimated peak: the other databases on the server, WAL, the system.
DISK_MARGIN_BYTES = 10 * GB
# Per recording: distinct customer numbers (one per 20 recordings, about 5 kept calls per
# caller of the largest tenant) and consent decisions (one per 10).
RECORDINGS_PER_NUMBER = 20
RECORDINGS_PER_CONSENT = 10
FAKE_HASH = "f" * 64
FAKE_KEY_ID = "f" * 16
BIG_TABLES = ("recordings_recording", "audit_auditevent", "compliance_consent")
# Read sequentially, any of these fails figure 5c: the big tables, and the table of the recordings
# holds name (a hold by campaign names tens of thousands).
SCANNED_TABLES = (*BIG_TABLES, "compliance_legalhold_recordings")
# Below this many rows a sequential scan of a few pages is the planner's right choice, not a
# missing index (the holds' table of the quick run's baseline holds a few hundred).
SEQ_SCAN_TOLERATED_ROWS = 10_000
# The trail's events about a recording, by k = 0..9 (the mix of a busy contact centre).
EVENT_ACTIONS = [
    "recording.ingested",
    "recording.viewed",
    "recording.access_granted",
    "recording.played",
    "recording.retention_recomputed",
    "recording.access_denied",
    "recording.play_denied",
    "recording.played",
    "recording.played",
    "recording.viewed",
]
PURPOSES = ["quality", "training", "complaint", "dispute", "supervision"]
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0"
ACTORS = 100

_EVENTS_SQL = """
INSERT INTO audit_auditevent (
    sequence, occurred_at, tenant_id, actor_id, actor_username, action, outcome, target_type,
    target_id, target_label, purpose, justification, client_ip, user_agent, workstation_id,
    request_id, extra, previous_hash, hash, key_id)
SELECT %(offset)s + i,
       %(epoch)s::timestamptz + i * %(step)s * interval '1 second',
       (%(tenant_ids)s::bigint[])[
           (%(tenant_buckets)s::int[])[1 + mod(hashint8extended(r, 1) & 9223372036854775807, 10)]],
       CASE WHEN k = 0 THEN NULL ELSE (%(actor_ids)s::bigint[])[1 + mod(h / 7, %(actors)s)] END,
       CASE WHEN k = 0 THEN 'api_key:bench0001'
            ELSE (%(usernames)s::text[])[1 + mod(h / 7, %(actors)s)] END,
       (%(actions)s::text[])[1 + k],
       CASE WHEN k IN (5, 6) THEN 'denied' ELSE 'allowed' END,
       'recordings.recording',
       r::text,
       'call CALL-' || lpad(r::text, 9, '0'),
       CASE WHEN k IN (0, 4) THEN ''
            ELSE (%(purposes)s::text[])[1 + mod(h / 11, %(purpose_count)s)] END,
       CASE WHEN k = 2 THEN 'Quality review of the call, sampling plan ' || mod(h, 97) ELSE '' END,
       CASE WHEN k IN (0, 4) THEN ''
            ELSE '10.' || mod(h, 200) || '.' || mod(h / 200, 250) || '.'
                 || (1 + mod(h / 50000, 250)) END,
       CASE WHEN k = 0 THEN 'recorder/2.4' WHEN k = 4 THEN '' ELSE %(user_agent)s END,
       CASE WHEN k IN (0, 4) THEN '' ELSE 'WS-' || lpad(mod(h / 13, 400)::text, 4, '0') END,
       md5(((%(offset)s + i) / 2)::text),
       CASE WHEN k = 3 THEN jsonb_build_object('position_seconds', mod(h, 600))
            ELSE '{}'::jsonb END,
       %(fake)s,
       %(fake)s,
       %(key_id)s
  FROM (
    SELECT i,
           1 + mod(hashint8extended(i, 5) & 9223372036854775807, %(recordings)s) AS r,
           h,
           mod(h / 3, 10)::int AS k
      FROM (SELECT i, hashint8extended(i, 6) & 9223372036854775807 AS h
              FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i) AS hashed
  ) AS events
"""

_CONSENTS_SQL = """
INSERT INTO compliance_consent (
    tenant_id, customer_number, subject_reference, purpose_id, decision, decided_at, channel,
    ivr_prompt_id, ivr_prompt_version, call_id, operator, recorded_by, recorded_at)
SELECT (%(tenant_ids)s::bigint[])[t],
       (%(prefixes)s::text[])[t] || (12000000 + mod(h / 100, %(customers)s))::text,
       '',
       %(purpose_id)s,
       CASE WHEN mod(h, 4) = 0 THEN 'refused' ELSE 'granted' END,
       decided_at,
       'ivr',
       'consent-rec-fr',
       '3',
       'IVR-' || lpad(i::text, 9, '0'),
       '',
       'api_key:bench0001',
       decided_at + interval '2 seconds'
  FROM (
    SELECT i, h,
           (%(tenant_buckets)s::int[])[1 + mod(h / 1000, 10)] AS t,
           %(epoch)s::timestamptz + (i * %(step)s) * interval '1 second' AS decided_at
      FROM (SELECT i, hashint8extended(i, 7) & 9223372036854775807 AS h
              FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i) AS hashed
  ) AS consents
"""


class Cast(recordings_admin.Cast):
    """recordings_admin's tenants, purposes and viewers, with fewer distinct numbers, and the
    trail's actors."""

    def __init__(self, recordings: int):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password

        super().__init__()
        self.recordings = recordings
        self.customers = max(100, recordings // RECORDINGS_PER_NUMBER)
        user_model = get_user_model()
        unusable = make_password(None)
        self.actors = user_model.objects.bulk_create(
            user_model(username=f"agent-{k:03d}", password=unusable) for k in range(ACTORS)
        )


# --- filling ------------------------------------------------------------------------------------


def free_disk_bytes() -> int:
    """Free space where PostgreSQL keeps its data (the root file system if it cannot be read)."""
    import psycopg

    with psycopg.connect(_setup.dsn("postgres")) as conn:
        folder = conn.execute("SHOW data_directory").fetchone()[0]
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return shutil.disk_usage("/").free


def chunks_fill(database: str, sql: str, parameters: dict, total: int, connections: int) -> float:
    """_setup.chunks_fill, stopping when the disk's free space falls under half the margin."""

    def disk_left() -> None:
        free = free_disk_bytes()
        if free < DISK_MARGIN_BYTES / 2:
            raise SystemExit(f"stopping the fill: {free / GB:.1f} GB left on the disk")

    return _setup.chunks_fill(
        database,
        sql,
        parameters,
        total,
        connections,
        chunk=CHUNK,
        report_every=5_000_000,
        before_chunk=disk_left,
    )


def consents_fill(database: str, cast: Cast, total: int, connections: int) -> dict:
    from compliance.models import Purpose

    base = cast.fill_parameters(cast.recordings)
    parameters = {
        "tenant_ids": base["tenant_ids"],
        "prefixes": base["prefixes"],
        "tenant_buckets": base["tenant_buckets"],
        "customers": cast.customers,
        "purpose_id": Purpose.objects.get(tenant__isnull=True, code="telemarketing").pk,
        "epoch": base["epoch"],
        "step": recordings_admin.TWO_YEARS_SECONDS / max(total, 1),
    }
    with _setup.SecondaryIndexesDropped(database, "compliance_consent") as indexes:
        insert = chunks_fill(database, _CONSENTS_SQL, parameters, total, connections)
    return {"insert_seconds": insert, "index_seconds": indexes.rebuild_seconds}


# The trail's indexes the finder reads (recordings/subject_requests/finder.py: the events about
# a subject's recordings, by target). `--audit-indexes lookup` rebuilds only these after the fill.
LOOKUP_AUDIT_INDEXES = {"audit_target_seq"}
# `--audit-indexes` of this benchmark and dashboard.py: the trail's secondary indexes rebuilt after
# its fill (None: all of them).
AUDIT_INDEX_SETS: dict[str, set[str] | None] = {"all": None, "lookup": LOOKUP_AUDIT_INDEXES}


def events_fill(
    database: str, cast: Cast, total: int, connections: int, rebuild_only: set[str] | None = None
) -> dict:
    import psycopg

    base = cast.fill_parameters(cast.recordings)
    with psycopg.connect(_setup.dsn(database), autocommit=True) as conn:
        offset = conn.execute("SELECT sequence FROM audit_chainhead WHERE id = 1").fetchone()[0]
    parameters = {
        "offset": offset,
        "epoch": base["epoch"],
        "step": recordings_admin.TWO_YEARS_SECONDS / max(total, 1),
        "tenant_ids": base["tenant_ids"],
        "tenant_buckets": base["tenant_buckets"],
        "actor_ids": [actor.pk for actor in cast.actors],
        "usernames": [actor.username for actor in cast.actors],
        "actors": len(cast.actors),
        "actions": EVENT_ACTIONS,
        "purposes": PURPOSES,
        "purpose_count": len(PURPOSES),
        "user_agent": USER_AGENT,
        "fake": FAKE_HASH,
        "key_id": FAKE_KEY_ID,
        "recordings": cast.recordings,
    }
    with _setup.SecondaryIndexesDropped(database, "audit_auditevent", rebuild_only) as indexes:
        insert = chunks_fill(database, _EVENTS_SQL, parameters, total, connections)
    with psycopg.connect(_setup.dsn(database), autocommit=True) as conn:
        # New events (the requests received below) continue the sequence after the filled ones.
        conn.execute(
            "UPDATE audit_chainhead SET sequence = %s, previous_hash = %s, hash = %s WHERE id = 1",
            [offset + total, FAKE_HASH, FAKE_HASH],
        )
    return {"insert_seconds": insert, "index_seconds": indexes.rebuild_seconds}


def holds_place(database: str, cast: Cast, subjects: list[dict]) -> None:
    """Five holds on sampled subjects' numbers, one by campaign naming its recordings, four
    released ones naming a few recordings each."""
    import psycopg
    from django.utils import timezone

    from compliance.models import LegalHold

    tenant = cast.member_tenant
    now = timezone.now()
    for subject in subjects[:5]:
        LegalHold.objects.create(
            tenant=tenant,
            reference=f"Claim {subject['number'][-4:]}",
            reason="Customer dispute",
            customer_number=subject["number"],
            placed_at=now,
        )
    campaign = LegalHold.objects.create(
        tenant=tenant,
        reference="Regulator inquiry 2026-14",
        reason="Inquiry into campaign-07",
        campaign="campaign-07",
        placed_at=now,
    )
    released = [
        LegalHold.objects.create(
            tenant=tenant,
            reference=f"Closed case {k}",
            reason="Settled",
            placed_at=now - timedelta(days=200),
            released_at=now - timedelta(days=100),
            release_reason="Settled",
        )
        for k in range(4)
    ]
    rng = random.Random(SEED + 1)
    with psycopg.connect(_setup.dsn(database), autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{_setup.FILL_STATEMENT_TIMEOUT}'")
        conn.execute(
            "INSERT INTO compliance_legalhold_recordings (legalhold_id, recording_id) "
            "SELECT %s, id FROM recordings_recording "
            "WHERE tenant_id = %s AND campaign = 'campaign-07' AND status = 'active'",
            [campaign.pk, tenant.pk],
        )
        for hold in released:
            ids = [rng.randint(1, cast.recordings) for _ in range(10)]
            conn.execute(
                "INSERT INTO compliance_legalhold_recordings (legalhold_id, recording_id) "
                "SELECT %s, id FROM recordings_recording WHERE id = ANY(%s) "
                "ON CONFLICT DO NOTHING",
                [hold.pk, ids],
            )
        conn.execute("VACUUM (ANALYZE) compliance_legalhold_recordings")
        conn.execute("VACUUM (ANALYZE) compliance_legalhold")


def subjects_sample(cast: Cast, count: int) -> list[dict]:
    """`count` callers of the largest tenant, each by the number of a random kept call (and the
    reference of that call, when it has one)."""
    from django.db import connection

    rng = random.Random(SEED)
    subjects: dict[str, dict] = {}
    with connection.cursor() as cursor:
        while len(subjects) < count:
            ids = rng.sample(range(1, cast.recordings + 1), min(cast.recordings, 50 * count))
            cursor.execute(
                "SELECT customer_number, subject_reference FROM recordings_recording "
                "WHERE id = ANY(%s) AND tenant_id = %s AND customer_number <> '' ORDER BY id",
                [ids, cast.member_tenant.pk],
            )
            for number, reference in cursor.fetchall():
                subjects.setdefault(number, {"number": number, "reference": reference})
    return list(subjects.values())[:count]


def requests_receive(cast: Cast, subjects: list[dict]) -> list:
    from compliance.services.subject_requests import subject_request_receive

    return [
        subject_request_receive(
            actor=None,
            tenant=cast.member_tenant,
            kind="access",
            customer_numbers=[subject["number"]],
            subject_reference=subject["reference"],
            channel="email",
        )
        for subject in subjects
    ]


def database_build(
    name: str, recordings: int, events: int, connections: int, audit_indexes: str = "all"
) -> dict:
    """Recordings, consents, events, then the subjects, their holds and their requests.
    `audit_indexes` names a set of AUDIT_INDEX_SETS: the trail's indexes rebuilt after its fill."""
    _setup.database_recreate(name)
    cast = Cast(recordings)
    started = time.perf_counter()
    print(f"  {recordings:,} recordings", flush=True)
    timings = {"recordings": recordings_admin.fill(name, cast, recordings, connections)}
    consents = max(1, recordings // RECORDINGS_PER_CONSENT)
    print(f"  {consents:,} consent decisions", flush=True)
    timings["consents"] = consents_fill(name, cast, consents, connections)
    print(f"  {events:,} audit events", flush=True)
    rebuild_only = AUDIT_INDEX_SETS[audit_indexes]
    timings["events"] = events_fill(name, cast, events, connections, rebuild_only)
    step = time.perf_counter()
    timings["vacuum_seconds"] = _setup.vacuum_analyze(
        name, "compliance_consent", "audit_auditevent"
    )
    print(f"    vacuum (analyze): {time.perf_counter() - step:.0f} s", flush=True)
    subjects = subjects_sample(cast, SUBJECTS)
    holds_place(name, cast, subjects)
    requests = requests_receive(cast, subjects)
    _setup.checkpoint(name)
    timings["total_seconds"] = time.perf_counter() - started
    timings["sizes"] = table_sizes(name)
    print(
        f"  built in {timings['total_seconds']:.0f} s: "
        + ", ".join(f"{table} {figures['pretty']}" for table, figures in timings["sizes"].items()),
        flush=True,
    )
    return {"cast": cast, "subjects": subjects, "requests": requests, "timings": timings}


def table_sizes(database: str) -> dict:
    """Each big table with its indexes: bytes, rows, and its largest index."""
    import psycopg

    sizes = {}
    with psycopg.connect(_setup.dsn(database), autocommit=True) as conn:
        for table in BIG_TABLES:
            total, heap, rows, pretty = conn.execute(
                "SELECT pg_total_relation_size(%(t)s::regclass), pg_relation_size(%(t)s::regclass),"
                " (SELECT reltuples FROM pg_class WHERE oid = %(t)s::regclass),"
                " pg_size_pretty(pg_total_relation_size(%(t)s::regclass))",
                {"t": table},
            ).fetchone()
            largest_index = conn.execute(
                "SELECT coalesce(max(pg_relation_size(indexrelid)), 0) FROM pg_index "
                "WHERE indrelid = %s::regclass",
                [table],
            ).fetchone()[0]
            sizes[table] = {
                "bytes": total,
                "heap_bytes": heap,
                "rows": max(int(rows), 1),
                "largest_index_bytes": largest_index,
                "pretty": pretty,
            }
    return sizes


def disk_needed(small_sizes: dict, counts: dict[str, int]) -> int:
    """The large database's estimated peak: each table's bytes per row on the baseline times its
    rows, plus the largest index build's sort files, with a tenth more for safety."""
    total = largest_sort = 0
    for table, figures in small_sizes.items():
        scale = counts[table] / figures["rows"]
        total += figures["bytes"] * scale
        largest_sort = max(largest_sort, figures["largest_index_bytes"] * scale)
    return int(1.1 * (total + largest_sort))


# --- timing -------------------------------------------------------------------------------------


def lookup(request) -> tuple[dict, int]:
    """What the request's page and its answer read: the counts, then the four lists."""
    from recordings.subject_requests.finder import subject_data_find

    found = subject_data_find(request)
    counts = found.counts()
    rows = sum(
        len(list(queryset))
        for queryset in (found.recordings, found.consents, found.holds, found.access_events)
    )
    return counts, rows


def lookups_time(builds: dict[str, dict], warm_rounds: int) -> dict:
    """Per database: the first lookup of each subject, then `warm_rounds` rounds, the databases
    alternating subject by subject."""
    names = list(builds)
    first = {name: [] for name in names}
    warm = {name: [] for name in names}
    facts = {name: [] for name in names}
    for round_number in range(1 + warm_rounds):
        order = names if round_number % 2 == 0 else list(reversed(names))
        for index in range(SUBJECTS):
            for name in order:
                _setup.database_use(name)
                request = builds[name]["requests"][index]
                started = time.perf_counter()
                counts, rows = lookup(request)
                elapsed = time.perf_counter() - started
                (first if round_number == 0 else warm)[name].append(elapsed)
                if round_number == 0:
                    facts[name].append({"counts": counts, "rows": rows})
    return {"first": first, "warm": warm, "facts": facts}


def primary_key_reads(name: str, recordings: int, samples: int) -> list[float]:
    from recordings.models import Recording

    _setup.database_use(name)
    rng = random.Random(SEED + 2)
    times = []
    for _ in range(samples):
        pk = rng.randint(1, recordings)
        started = time.perf_counter()
        Recording.objects.get(pk=pk)
        times.append(time.perf_counter() - started)
    return times


def plans(name: str, request) -> tuple[list[dict], list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every query of one lookup; the tables of SCANNED_TABLES
    holding more than SEQ_SCAN_TOLERATED_ROWS rows that a plan reads sequentially."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _setup.database_use(name)
    with CaptureQueriesContext(connection) as captured:
        lookup(request)
    explained, sequential = [], []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND reltuples > %s",
            [list(SCANNED_TABLES), SEQ_SCAN_TOLERATED_ROWS],
        )
        large = [row[0] for row in cursor.fetchall()]
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            explained.append({"sql": query["sql"], "ms": 1e3 * float(query["time"]), "plan": plan})
            sequential += [
                f"Seq Scan on {table}" for table in large if f"Seq Scan on {table}" in plan
            ]
    return explained, sequential


def summary(values: list[float]) -> dict:
    return {
        "p50_ms": statistics.median(values) * 1e3,
        "p95_ms": _setup.percentile(values, 0.95) * 1e3,
        "max_ms": max(values) * 1e3,
        "samples": len(values),
    }


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 recordings, 10M events")
    parser.add_argument("--recordings", type=int, help="of the large database (10,000,000)")
    parser.add_argument("--events", type=int, help="of the large database (10 per recording)")
    parser.add_argument("--warm-rounds", type=int, default=WARM_ROUNDS)
    parser.add_argument("--fill-connections", type=int, default=2, help="for the SQL fill")
    parser.add_argument("--keep-database", action="store_true", help="leave the databases")
    parser.add_argument("--time-limit-minutes", type=int, help="(quick: 60, full: 360)")
    parser.add_argument(
        "--audit-indexes",
        choices=("all", "lookup"),
        default="all",
        help="the trail's indexes rebuilt after its fill, on both databases: all of them "
        "(default), or only those the finder reads (a disk too small for 100M events with all)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    recordings = arguments.recordings or (1_000_000 if arguments.quick else 10_000_000)
    events = arguments.events or recordings * EVENTS_PER_RECORDING
    if not SMALL_RECORDINGS <= recordings <= 20_000_000:
        parser.error(f"--recordings must be between {SMALL_RECORDINGS:,} and 20,000,000")
    if not recordings <= events <= 200_000_000:
        parser.error("--events must be between --recordings and 200,000,000")
    if not 0 <= arguments.warm_rounds <= 20:
        parser.error("--warm-rounds must be between 0 and 20")
    time_limit = arguments.time_limit_minutes or (60 if arguments.quick else 360)

    with _setup.Run(time_limit_minutes=time_limit, keep_database=arguments.keep_database) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia subject lookup benchmark", _setup.machine_info())
        started = time.perf_counter()
        print(f"Custodia subject lookup benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        small_events = SMALL_RECORDINGS * EVENTS_PER_RECORDING
        print(f"\n  baseline: {SMALL_RECORDINGS:,} recordings, {small_events:,} events", flush=True)
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
            "compliance_consent": recordings // RECORDINGS_PER_CONSENT,
        }
        needed, free = disk_needed(small["timings"]["sizes"], counts), free_disk_bytes()
        print(
            f"\n  large: {recordings:,} recordings, {events:,} events: about {needed / GB:.1f} GB "
            f"needed at the peak, {free / GB:.1f} GB free (keeping {DISK_MARGIN_BYTES / GB:.0f})",
            flush=True,
        )
        if needed + DISK_MARGIN_BYTES > free:
            without_events = disk_needed(
                small["timings"]["sizes"], {**counts, "audit_auditevent": 0}
            )
            per_event = (needed - without_events) / events
            fits = int((free - DISK_MARGIN_BYTES - without_events) / per_event)
            raise SystemExit(
                f"not enough disk: about {needed / GB:.1f} GB needed, {free / GB:.1f} GB free, "
                f"{DISK_MARGIN_BYTES / GB:.0f} GB kept free. At most --events {max(fits, 0):,} "
                f"with --recordings {recordings:,}."
            )
        large = database_build(
            _setup.DB_NAME, recordings, events, arguments.fill_connections, arguments.audit_indexes
        )
        builds = {_setup.DB_NAME: large, _setup.SMALL_DB_NAME: small}

        print(
            f"\n[5] subject lookup: {SUBJECTS} subjects, first lookups then "
            f"{arguments.warm_rounds} warm rounds",
            flush=True,
        )
        times = lookups_time(builds, arguments.warm_rounds)
        pk_times = primary_key_reads(_setup.DB_NAME, recordings, SUBJECTS * 4)
        facts = times["facts"][_setup.DB_NAME]
        found = sorted(fact["counts"]["recordings"] for fact in facts)
        events_found = sorted(fact["counts"]["access_events"] for fact in facts)
        print(
            f"  per subject on the large database: recordings {found[0]} to {found[-1]} "
            f"(median {statistics.median(found):g}), events about them {events_found[0]} to "
            f"{events_found[-1]} (median {statistics.median(events_found):g}), holds found for "
            f"{sum(1 for fact in facts if fact['counts']['holds'])} subjects",
            flush=True,
        )
        figures = {
            (name, phase): summary(times[phase][name])
            for name in builds
            for phase in ("first", "warm")
            if times[phase][name]
        }
        for (name, phase), values in figures.items():
            print(
                f"    {name:<26} {phase:<6} p50 {values['p50_ms']:7.1f} ms  "
                f"p95 {values['p95_ms']:7.1f} ms  max {values['max_ms']:7.1f} ms "
                f"({values['samples']} lookups)",
                flush=True,
            )
        richest = max(range(SUBJECTS), key=lambda index: facts[index]["counts"]["recordings"])
        explained, sequential = plans(_setup.DB_NAME, large["requests"][richest])
        for query in explained:
            print(f"\n  {query['ms']:.1f} ms:\n{query['sql']}\n{query['plan']}", flush=True)

        scale = f"{recordings:,} recordings, {events:,} events"
        if arguments.audit_indexes == "lookup":
            scale += " (the trail with only the index the finder reads)"
        for phase, label in (("first", "first lookup of each subject"), ("warm", "warm")):
            if (_setup.DB_NAME, phase) not in figures:
                continue
            measured = figures[(_setup.DB_NAME, phase)]
            baseline = figures[(_setup.SMALL_DB_NAME, phase)]
            report.add(
                _setup.Row(
                    figure=f"5. Subject lookup, `subject_data_find(request)`: counts and lists, "
                    f"{label}, {scale}",
                    target="p95 < 200 ms",
                    measured=f"p95 {measured['p95_ms']:.1f} ms (p50 {measured['p50_ms']:.1f} "
                    f"ms, {measured['samples']} lookups)",
                    baseline=f"p95 {baseline['p95_ms']:.1f} ms on {SMALL_RECORDINGS:,} "
                    f"recordings, {small_events:,} events",
                    ratio=f"{measured['p95_ms'] / baseline['p95_ms']:.2f}×",
                    passed=measured["p95_ms"] < 200,
                )
            )
        pk = summary(pk_times)
        report.add(
            _setup.Row(
                figure=f"5b. One recording by primary key, {recordings:,} recordings",
                target="—",
                measured=f"p95 {pk['p95_ms']:.2f} ms (p50 {pk['p50_ms']:.2f} ms)",
                baseline="—",
                ratio="—",
                passed=None,
            )
        )
        report.add(
            _setup.Row(
                figure=f"5c. Every query of a lookup is an index scan, {scale}",
                target="no sequential scan of recordings, consents, events, holds' recordings",
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
            "builds": {name: build["timings"] for name, build in builds.items()},
            "figures": {f"{name} / {phase}": values for (name, phase), values in figures.items()},
            "subjects": facts,
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
