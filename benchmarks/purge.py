#!/usr/bin/env python3
"""Benchmark of the nightly purge, `purge_expired_recordings`, on 1,000,000 recordings.

Run from the project root. It drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432, and keeps the audio files in a temporary folder under /tmp; both go at the end:

    .venv/bin/python benchmarks/purge.py --quick     # 100,000 recordings, 20,000 expired
    .venv/bin/python benchmarks/purge.py             # 1,000,000 recordings, 200,000 expired

The population: two tenants (60 % and 40 % of the rows), each with a metadata history row per
recording (as ingestion leaves it) and active legal holds (an explicit one on a few live
recordings, one by campaign, one released) that hold none of the expired recordings. The expired
recordings (retain_until in the last 30 days, purposes of 6 months) are real: each has its own
encrypted file written with recordings.crypto (a 0.02 s WAV, 425 bytes encrypted), its wrapped
data key and its storage name, as ingestion makes them (inserted with COPY, not through the API,
to keep the set-up short). The live recordings are rows only (SQL generate_series, fake storage
names, wrapped_key NULL, no files): the purge never reads or touches a live recording's file.

Figure 3a. `purge_expired_recordings(batch_size=5000)` end to end (its defaults: batches of
5,000, two worker connections, files removed by its helper process), against a bare baseline on
an identical population: the same number of expired recordings, deleted with a batched
`DELETE FROM recordings_recording WHERE id = ANY(%s)` (one transaction per batch of the same size,
one connection) and `os.unlink` of their files, one after the other. The baseline's ids and
file names are read before its clock starts. The baseline runs, then the purge, then the baseline
again, each time after the expired recordings are rebuilt identically (new rows, new files, their
history rows) and VACUUM (ANALYZE); each timed phase starts after a CHECKPOINT (the set-up's
writes are not paid by whoever comes next); the baseline is the mean of its two runs (the
machine's load drifts in between).
Target: at least 10,000 recordings/s, and at most 5x the baseline's time.

Figure 3b. With nothing to purge on 1,000,000 rows (the purged rows replaced with live ones), a
run of `purge_expired_recordings` (after one untimed run, the median of 10 runs; the slowest is
shown too) against the bare selection query alone; and EXPLAIN (ANALYZE, BUFFERS) of the
selection query exactly as the purge builds it, which must use an index. Target: under 50 ms,
and an index scan.

If figure 3a misses its target, a further purge of a tenth of the expired recordings runs on one
worker connection with every SQL statement timed by kind and the purge's own steps timed, to show
where the time goes; likewise one run of figure 3b if it misses. The CPU time of the purge's own
process and of its file-removal process is printed with figure 3a.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _setup

# The purge's default (recordings.services.purge.run.DEFAULT_BATCH_SIZE, checked at start-up); the
# baseline deletes in batches of the same size.
BATCH_SIZE = 5000
TENANT_SPECS = [
    # name, slug, share of the rows in tenths
    ("Bench Assurances", "bench-assurances", 6),
    ("Bench Energie", "bench-energie", 4),
]
SIX_MONTH_PURPOSES = ["training", "quality", "supervision", "telemarketing"]
LIVE_PURPOSES = ["quality", "training", "supervision", "telemarketing", "insurance_telesales"]
EMPTY_RUNS = 10

_RECORDING_COLUMNS = (
    "call_id, direction, started_at, duration_seconds, agent_code, customer_number, "
    "subject_reference, campaign, legal_basis, retain_until, status, size_bytes, content_type, "
    "audio_sha256, storage_name, wrapped_key, master_key_id, ingested_at, agent_id, purpose_id, "
    "retention_policy_id, tenant_id, deletion_reason"
)
_HISTORY_COLUMNS = (
    "id, call_id, direction, started_at, duration_seconds, agent_code, customer_number, "
    "subject_reference, campaign, legal_basis, retain_until, status, size_bytes, content_type, "
    "audio_sha256, ingested_at, agent_id, purpose_id, retention_policy_id, tenant_id, "
    "deletion_reason"
)

# Live recordings: started in the last 150 days, so that even 6 months of retention has not run
# out; ids ascending with time.
_LIVE_SQL = f"""
INSERT INTO recordings_recording ({_RECORDING_COLUMNS})
SELECT %(prefix)s || lpad(i::text, 9, '0'),
       CASE WHEN mod(i, 3) = 0 THEN 'outbound' ELSE 'inbound' END,
       started_at,
       30 + mod(i, 900),
       'A' || mod(i, 300),
       '+336' || (12000000 + mod(i * 7919, 3000000))::text,
       '',
       CASE WHEN mod(i, 5) = 0 THEN '' ELSE 'campaign-' || mod(i / 5, 30) END,
       (%(legal_bases)s::text[])[p],
       ((started_at AT TIME ZONE 'Europe/Paris')::date
         + make_interval(months => (%(months)s::int[])[p]))::date,
       'active',
       (30 + mod(i, 900)) * 16000 + 44,
       'audio/wav',
       md5(i::text) || md5((i + 7)::text),
       %(tenant_id)s || '/' || to_char(started_at, 'YYYY/MM') || '/'
         || md5(%(prefix)s || i) || '.cstd',
       NULL,
       'bench',
       started_at + interval '20 minutes',
       NULL,
       (%(purpose_ids)s::bigint[])[p],
       (%(policy_ids)s::bigint[])[p],
       %(tenant_id)s,
       'expired'
  FROM (SELECT i, 1 + mod(i * 31, %(purpose_count)s) AS p,
               %(now)s::timestamptz - interval '150 days'
                 + (i - %(low)s) * %(step)s * interval '1 second' AS started_at
          FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i) AS numbered
"""  # noqa: S608 (constant column list)

_HISTORY_SQL = f"""
INSERT INTO recordings_historicalrecording ({_HISTORY_COLUMNS}, history_date, history_type)
SELECT {_HISTORY_COLUMNS}, ingested_at, '+' FROM recordings_recording WHERE id > %s
"""  # noqa: S608 (constant column list)


class Population:
    def __init__(self, folder: Path, total: int, expired: int):
        from django.contrib.auth import get_user_model

        from compliance.models import Purpose, RetentionPolicy, Tenant

        self.folder = folder
        self.total, self.expired = total, expired
        self.tenants = [
            Tenant.objects.create(name=name, slug=slug, country_code="FR", time_zone="Europe/Paris")
            for name, slug, _share in TENANT_SPECS
        ]
        self.purposes = {p.code: p for p in Purpose.objects.filter(tenant__isnull=True)}
        self.policies = {
            policy.purpose_id: policy
            for policy in RetentionPolicy.objects.filter(tenant__isnull=True, active=True)
        }
        self.placer = get_user_model().objects.create(username="bench-officer")
        self.generation = 0

    def shares(self, count: int) -> list[int]:
        """`count` split between the tenants by their share."""
        parts = [count * spec[2] // 10 for spec in TENANT_SPECS]
        parts[0] += count - sum(parts)
        return parts

    # --- live rows ------------------------------------------------------------------------------

    def live_fill(self, count: int, *, prefix: str) -> float:
        import psycopg

        started = time.perf_counter()
        purposes = [self.purposes[code] for code in LIVE_PURPOSES]
        now = datetime.now(UTC)
        with psycopg.connect(_setup.dsn(_setup.DB_NAME), autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{_setup.FILL_STATEMENT_TIMEOUT}'")
            first_new = self.last_id(conn)
            for tenant, share in zip(self.tenants, self.shares(count), strict=True):
                for low in range(1, share + 1, 250_000):
                    high = min(share, low + 250_000 - 1)
                    conn.execute(
                        _LIVE_SQL,
                        {
                            "prefix": f"{prefix}-{tenant.pk}-",
                            "tenant_id": tenant.pk,
                            "legal_bases": [p.legal_basis for p in purposes],
                            "months": [self.policies[p.pk].retention_months for p in purposes],
                            "purpose_ids": [p.pk for p in purposes],
                            "policy_ids": [self.policies[p.pk].pk for p in purposes],
                            "purpose_count": len(purposes),
                            "now": now,
                            "low": low,
                            "high": high,
                            "step": 149 * 24 * 3600 / share,
                        },
                    )
            conn.execute(_HISTORY_SQL, [first_new])
        return time.perf_counter() - started

    @staticmethod
    def last_id(conn) -> int:
        return conn.execute("SELECT coalesce(max(id), 0) FROM recordings_recording").fetchone()[0]

    # --- expired rows, with real encrypted files ------------------------------------------------

    def expired_fill(self) -> float:
        """`self.expired` expired recordings as ingestion makes them: a file encrypted with its
        own data key, the key wrapped by the tenant's key, bound to the storage name."""
        import psycopg
        from dateutil.relativedelta import relativedelta

        from compliance.retention import local_start_date
        from recordings import crypto
        from recordings.demo_audio import tone_wav
        from recordings.storage import new_storage_name, recordings_storage

        started = time.perf_counter()
        self.generation += 1
        storage = recordings_storage()
        master = crypto.current_master_key()
        audio = tone_wav(0.02, frequency=300.0)
        sha256 = hashlib.sha256(audio).hexdigest()
        purposes = [self.purposes[code] for code in SIX_MONTH_PURPOSES]
        now = datetime.now(UTC)
        made_folders: set[str] = set()
        rows = []
        for tenant, share in zip(self.tenants, self.shares(self.expired), strict=True):
            today = now.astimezone(tenant_zone(tenant)).date()
            for i in range(share):
                purpose = purposes[i % len(purposes)]
                policy = self.policies[purpose.pk]
                # Ended within the last 30 days: started 6 months and 2-30 days ago (2: a day
                # in UTC can still be the next one in the tenant's zone, near midnight).
                started_at = now - relativedelta(months=6) - timedelta(days=2 + 28 * i / share)
                retain_until = local_start_date(started_at, tenant.time_zone) + relativedelta(
                    months=policy.retention_months
                )
                assert retain_until < today, (retain_until, today)
                name = new_storage_name(tenant.pk, started_at)
                data_key = crypto.new_data_key()
                blob = crypto.encrypt_audio(data_key, audio, tenant_id=tenant.pk, storage_name=name)
                wrapped = crypto.wrap_key(
                    data_key, master=master, tenant_id=tenant.pk, storage_name=name
                )
                path = storage.path(name)
                folder = os.path.dirname(path)
                if folder not in made_folders:
                    os.makedirs(folder, mode=0o700, exist_ok=True)
                    made_folders.add(folder)
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(descriptor, blob)
                finally:
                    os.close(descriptor)
                rows.append(
                    (
                        f"expired-{self.generation}-{tenant.pk}-{i:07d}",
                        "inbound" if i % 3 else "outbound",
                        started_at,
                        "0.020",
                        f"A{i % 300}",
                        f"+336{98000000 + i % 1000000}",
                        "",
                        f"campaign-{i % 30}" if i % 5 else "",
                        purpose.legal_basis,
                        retain_until,
                        "active",
                        len(audio),
                        "audio/wav",
                        sha256,
                        name,
                        wrapped,
                        master.key_id,
                        started_at + timedelta(minutes=20),
                        None,
                        purpose.pk,
                        policy.pk,
                        tenant.pk,
                        "expired",
                    )
                )
        with psycopg.connect(_setup.dsn(_setup.DB_NAME)) as conn:
            first_new = self.last_id(conn)
            with conn.cursor() as cursor:
                copy_sql = f"COPY recordings_recording ({_RECORDING_COLUMNS}) FROM STDIN"
                with cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(_HISTORY_SQL, [first_new])
            conn.commit()
        return time.perf_counter() - started

    def holds_place(self) -> None:
        """Active holds that the purge must check and that hold none of the expired rows."""
        from compliance.models import LegalHold
        from recordings.models import Recording

        tenant = self.tenants[0]
        now = datetime.now(UTC)
        explicit = LegalHold.objects.create(
            tenant=tenant,
            reference="BENCH-LIT-1",
            reason="Litigation",
            placed_by=self.placer,
            placed_at=now,
        )
        explicit.recordings.set(
            Recording.objects.filter(tenant=tenant, call_id__startswith="live-").order_by("pk")[:5]
        )
        LegalHold.objects.create(
            tenant=tenant,
            reference="BENCH-INQ-2",
            reason="Regulator inquiry",
            campaign="campaign-does-not-exist",
            placed_by=self.placer,
            placed_at=now,
        )
        released = LegalHold.objects.create(
            tenant=tenant,
            reference="BENCH-OLD-3",
            reason="Closed case",
            placed_by=self.placer,
            placed_at=now - timedelta(days=400),
            released_at=now - timedelta(days=300),
        )
        released.recordings.set(
            Recording.objects.filter(tenant=tenant, call_id__startswith="live-").order_by("pk")[
                5:10
            ]
        )

    def files(self) -> int:
        return sum(1 for path in self.folder.rglob("*.cstd") if path.is_file())


def tenant_zone(tenant):
    from zoneinfo import ZoneInfo

    return ZoneInfo(tenant.time_zone)


def expired_rows(population: Population) -> list[tuple[int, str]]:
    """(id, storage_name) of every expired, active recording, as the purge would select them."""
    from recordings.models import Recording

    rows = []
    for tenant in population.tenants:
        rows += list(
            Recording.objects.expired(on=tenant.today())
            .filter(tenant=tenant)
            .order_by("retain_until", "pk")
            .values_list("pk", "storage_name")
        )
    return rows


def baseline_delete(rows: list[tuple[int, str]], batch_size: int) -> float:
    """The bare work: batched DELETE by id (a transaction per batch) and os.unlink of the files."""
    from django.db import connection, transaction

    from recordings.storage import recordings_storage

    location = recordings_storage().location
    started = time.perf_counter()
    for low in range(0, len(rows), batch_size):
        batch = rows[low : low + batch_size]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM recordings_recording WHERE id = ANY(%s)", [[pk for pk, _ in batch]]
            )
            assert cursor.rowcount == len(batch)
        for _, name in batch:
            os.unlink(os.path.join(location, name))
    return time.perf_counter() - started


def selection_query(tenant, batch_size: int):
    """The purge's selection of one batch, built exactly as _purge_tenant builds it."""
    from recordings.services.purge.run import purge_batch_queryset

    return purge_batch_queryset(tenant, on=tenant.today(), batch_size=batch_size)


def explain_selection(tenant, batch_size: int) -> tuple[str, str]:
    """str(query) and EXPLAIN (ANALYZE, BUFFERS), in a transaction rolled back afterwards (FOR
    UPDATE takes row locks)."""
    from django.db import connection, transaction

    queryset = selection_query(tenant, batch_size)
    with transaction.atomic():
        text = str(queryset.query)
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return text, plan


def bare_selection(population: Population, batch_size: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for tenant in population.tenants:
            cursor.execute(
                "SELECT id, storage_name FROM recordings_recording WHERE tenant_id = %s "
                "AND status = 'active' AND retain_until < %s ORDER BY retain_until, id LIMIT %s",
                [tenant.pk, tenant.today(), batch_size],
            )
            assert cursor.fetchall() == []
    return time.perf_counter() - started


def purge_run(batch_size: int, **options):
    from audit.context import acting_as
    from recordings.services.purge.run import purge_expired_recordings

    with acting_as("task:recordings.tasks.purge_expired_recordings"):
        return purge_expired_recordings(batch_size=batch_size, triggered_by="benchmark", **options)


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process, and of its finished children (the purge's
    file-removal process)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


# --- where the time goes ----------------------------------------------------------------------


def sections_run(label: str, function) -> tuple[object, float, list[str]]:
    """`function` with timing sections on the purge's main steps (see _setup.sections_run)."""
    from recordings.services.purge import deletion, run

    # Each replaced in the module that calls it, where the call looks it up.
    targets = [
        (run, "delete_rows", "purge.deletion.delete_rows()"),
        (run, "_select_batch", "purge.run._select_batch()"),
        (deletion, "_copy_certificates", "purge.deletion._copy_certificates()"),
        (run, "remove_pending_files", "purge.files.remove_pending_files()"),
        (deletion, "events_record_bulk", "audit.services.events_record_bulk()"),
        (run, "purge_preview", "purge.preview.purge_preview()"),
        (run, "_settle_files", "purge.run._settle_files()"),
    ]
    return _setup.sections_run(label, function, targets)


def diagnose(population: Population, batch_size: int) -> dict:
    """A purge of a tenth of the expired recordings (at least one batch) with timing sections,
    on one database connection (workers=1): the statements of the purge's other worker
    connections would not be timed, and their sections would overlap."""
    count = population.expired
    sample = max(batch_size, count // 10)
    population.expired = sample
    population.expired_fill()
    population.expired = count
    _setup.vacuum_analyze(_setup.DB_NAME, "recordings_recording", "recordings_historicalrecording")
    _setup.checkpoint(_setup.DB_NAME)
    run, total, lines = sections_run(
        f"a purge of {sample:,} expired recordings, one worker",
        lambda: purge_run(batch_size, workers=1),
    )
    assert run.purged == sample, (run.purged, sample)
    print(f"    ({run.purged / total:,.0f} recordings/s with timing on)", flush=True)
    return {"recordings": run.purged, "seconds": total, "sections": lines}


# --- main ---------------------------------------------------------------------------------------


def bench(report, folder: Path, total: int, expired: int, batch_size: int) -> None:
    from django.db import connection

    from recordings.models import DeletionCertificate, PendingFileRemoval, Recording
    from recordings.services.purge.run import DEFAULT_BATCH_SIZE, DEFAULT_WORKERS

    assert BATCH_SIZE == DEFAULT_BATCH_SIZE, "BATCH_SIZE is meant to be the purge's default"

    recordings_root = folder / "recordings"
    print(
        f"\n[3] purge: {total:,} recordings of which {expired:,} expired, batches of "
        f"{batch_size:,}",
        flush=True,
    )
    population = Population(recordings_root, total, expired)
    seconds = population.live_fill(total - expired, prefix="live")
    print(f"  {total - expired:,} live recordings (rows only) in {seconds:.1f} s", flush=True)
    population.holds_place()
    seconds = population.expired_fill()
    print(
        f"  {expired:,} expired recordings with their encrypted files in {seconds:.1f} s",
        flush=True,
    )
    tables = ("recordings_recording", "recordings_historicalrecording")
    _setup.vacuum_analyze(_setup.DB_NAME, *tables)
    assert Recording.objects.count() == total and population.files() == expired

    text, plan = explain_selection(population.tenants[0], batch_size)
    print("\n  the purge's selection query, with expired recordings present:\n")
    print(f"{text}\n\n{plan}\n", flush=True)

    # --- 3a: baseline, purge, baseline, each on an identical population ----------------------
    def rebuild() -> None:
        seconds = population.expired_fill()
        _setup.vacuum_analyze(_setup.DB_NAME, *tables)
        assert Recording.objects.count() == total and population.files() == expired
        print(f"  rebuilt {expired:,} expired recordings and files in {seconds:.1f} s", flush=True)

    def baseline() -> float:
        rows = expired_rows(population)
        assert len(rows) == expired
        _setup.checkpoint(_setup.DB_NAME)
        seconds = baseline_delete(rows, batch_size)
        assert population.files() == 0
        assert Recording.objects.count() == total - expired
        print(f"  baseline: {expired:,} deleted in {seconds:.2f} s", flush=True)
        return seconds

    baselines = [baseline()]
    rebuild()
    _setup.checkpoint(_setup.DB_NAME)
    load = _setup.load_average()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    run = purge_run(batch_size)
    purge_seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    cpu = {
        "python_process_seconds": cpu_after[0] - cpu_before[0],
        "file_removal_process_seconds": cpu_after[1] - cpu_before[1],
    }
    assert run.status == "finished", (run.status, run.errors)
    assert (run.purged, run.files_removed, run.failed) == (expired, expired, 0), vars(run)
    assert Recording.objects.count() == total - expired and population.files() == 0
    assert DeletionCertificate.objects.count() == expired
    assert not PendingFileRemoval.objects.exists()
    print(
        f"  purge: {run.purged:,} purged in {purge_seconds:.2f} s (CPU: "
        f"{1e6 * cpu['python_process_seconds'] / expired:.0f} us per recording in this process, "
        f"{1e6 * cpu['file_removal_process_seconds'] / expired:.0f} us in the file-removal "
        "process; PostgreSQL's not counted)",
        flush=True,
    )
    # The machine's load drifts over minutes: the baseline runs before and after the purge, and
    # their mean is the figure's baseline.
    rebuild()
    baselines.append(baseline())
    baseline_seconds = statistics.fmean(baselines)
    rate = expired / purge_seconds
    ratio = purge_seconds / baseline_seconds
    report.details["purge"] = {
        "recordings": total,
        "expired": expired,
        "batch_size": batch_size,
        "purge_seconds": purge_seconds,
        "purge_cpu": cpu,
        "baseline_seconds": baselines,
        "run": {"purged": run.purged, "files_removed": run.files_removed, "failed": run.failed},
    }
    passed = rate >= 10_000 and ratio <= 5
    report.add(
        _setup.Row(
            figure=f"3a. Purge, `purge_expired_recordings(batch_size={batch_size})` "
            f"({DEFAULT_WORKERS} worker connections), {expired:,} expired of {total:,} "
            "recordings, with their files",
            target="≥ 10,000 recordings/s and ≤ 5× baseline time",
            measured=f"{rate:,.0f} recordings/s ({purge_seconds:.1f} s)",
            baseline=f"{expired / baseline_seconds:,.0f} recordings/s (mean of "
            f"{baselines[0]:.1f} s before and {baselines[1]:.1f} s after): batched "
            "`DELETE ... WHERE id = ANY(...)` + `os.unlink`",
            ratio=f"{ratio:.1f}× the time",
            passed=passed,
            load=load,
        )
    )

    if not passed:
        report.details["diagnosis"] = diagnose(population, batch_size)

    # --- 3b: nothing to purge, on 1,000,000 rows -----------------------------------------------
    missing = total - Recording.objects.count()
    population.live_fill(missing, prefix="refill")
    _setup.vacuum_analyze(_setup.DB_NAME, *tables)
    _setup.checkpoint(_setup.DB_NAME)
    assert Recording.objects.count() == total
    purge_run(batch_size)  # untimed: connection, caches
    empty, bare = [], []
    for index in range(EMPTY_RUNS):
        order = ("purge", "bare") if index % 2 == 0 else ("bare", "purge")
        for kind in order:
            if kind == "purge":
                started = time.perf_counter()
                run = purge_run(batch_size)
                empty.append(time.perf_counter() - started)
                assert run.status == "finished" and run.purged == 0 and run.expired_found == 0
            else:
                bare.append(bare_selection(population, batch_size))
    text, plan = explain_selection(population.tenants[0], batch_size)
    print("\n  the purge's selection query, with nothing expired (str(queryset.query)):\n")
    print(f"{text}\n\nEXPLAIN (ANALYZE, BUFFERS):\n{plan}\n", flush=True)
    uses_index = "Index" in plan and "Seq Scan on recordings_recording" not in plan
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM recordings_recording")
        rows_now = cursor.fetchone()[0]
    slowest, median = max(empty) * 1e3, statistics.median(empty) * 1e3
    if median >= 50:
        _, _, lines = sections_run("a purge with nothing to purge", lambda: purge_run(batch_size))
        report.details["empty_diagnosis"] = lines
    report.details["empty"] = {
        "rows": rows_now,
        "runs_ms": [1e3 * value for value in empty],
        "bare_ms": [1e3 * value for value in bare],
        "plan": plan,
        "query": text,
    }
    report.add(
        _setup.Row(
            figure=f"3b. Purge with nothing to purge, {rows_now:,} recordings (median of "
            f"{EMPTY_RUNS} runs); the selection query uses an index",
            target="< 50 ms, index scan",
            measured=f"{median:.1f} ms (slowest {slowest:.1f} ms); "
            f"{'index scan' if uses_index else 'NO index scan'}",
            baseline=f"{statistics.median(bare) * 1e3:.2f} ms (median): the bare selection "
            "query, per tenant",
            ratio=f"{median / (statistics.median(bare) * 1e3):.0f}× (medians)",
            passed=median < 50 and uses_index,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 recordings, 20,000 expired")
    parser.add_argument("--recordings", type=int, help="total recordings (default 1,000,000)")
    parser.add_argument("--expired", type=int, help="expired among them (default 20 %%)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--keep-debug", action="store_true", help="leave settings.DEBUG on")
    parser.add_argument("--keep-database", action="store_true", help="leave custodia_bench_rec")
    parser.add_argument("--time-limit-minutes", type=int, default=90)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    total = arguments.recordings or (100_000 if arguments.quick else 1_000_000)
    expired = arguments.expired or total // 5
    if not 1_000 <= total <= 10_000_000 or not 1 <= expired < total:
        parser.error("--recordings must be 1,000 to 10,000,000, and --expired below it")
    if not 1 <= arguments.batch_size <= 10_000:
        parser.error("--batch-size must be between 1 and 10,000")

    with _setup.Run(
        time_limit_minutes=arguments.time_limit_minutes, keep_database=arguments.keep_database
    ) as run:
        _setup.configure_django(run.folder / "recordings", keep_debug=arguments.keep_debug)
        report = _setup.Report("Custodia purge benchmark", _setup.machine_info())
        print(f"Custodia purge benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        bench(report, run.folder, total, expired, arguments.batch_size)
        report.finish()
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
