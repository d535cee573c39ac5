#!/usr/bin/env python3
"""Benchmark of importing a full do-not-call list: 10,000,000 UK numbers through the service of
`manage.py import_dnc_list` (compliance/services/dnc_lists.py::dnc_list_import), against a bare
COPY of the same numbers, already normalised, into a plain table of the same shape with its
index, in the same run.

Run from the project root. It drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432 (advisory lock 7304001, shared with the recordings benchmarks: one at a time),
and drops it at the end; its files go to a temporary folder under /tmp, removed at the end:

    .venv/bin/python benchmarks/dnc_import.py --numbers 1000000   # ~1 minute
    .venv/bin/python benchmarks/dnc_import.py                     # 10,000,000: ~5 minutes

Figure 1 of issue 16. The file: N distinct valid UK numbers (landlines and mobiles of 4-digit
ranges where every number is valid), written as a TPS file would hold them, one per line: 85 %
national (07400 123456 without the space), 10 % international with "+" (+447400123456), 4.9 %
with the international prefix (00447400123456), 0.1 % with spaces (07400 123456), which only
phonenumbers reads. The import: the service as the command calls it, from the file to the new
version in force (reading and normalising, COPY in committed batches with their progress, the
index, ANALYZE, the swap's transaction), in this process; from the second round on, the swap also
supersedes the previous version and drops its table. The baseline: one COPY of the same numbers
as E.164 digits (the import's output) from a file of their own into `bench_bare (list_id,
number)`, then the same index (the same maintenance_work_mem), in one transaction, through
psycopg. Each round times the baseline then the import, after a CHECKPOINT each; the figure is
the best of each over the rounds (default 2). The import process's memory (RSS, sampled every
50 ms) is shown: it stays flat whatever N.

Targets: ≥ 100,000 numbers/s, and the import within 3× the bare COPY's time.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup  # noqa: E402

# Free disk needed per million numbers: the two files (~30 MB), the version's table and index
# (~60 MB, twice while the previous one is superseded), the baseline's, the WAL in between.
DISK_PER_MILLION_BYTES = 400 * 1024**2
DISK_MARGIN_BYTES = 3 * 1024**3
GENERATION_CHUNK = 200_000


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """The process's peak resident memory while it runs (sampled every 50 ms)."""

    def __init__(self):
        self.start = self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def uk_ranges() -> list[str]:
    """4-digit beginnings of 10-digit UK national numbers (landlines 01, 02, mobiles 07) every
    sampled number of which phonenumbers holds valid in the UK itself: what the import's common
    case reads."""
    from compliance.dnc_numbers import FastPath

    fast = FastPath("GB")
    sample = random.Random(16)  # noqa: S311 - reproducible data
    ranges = []
    for first in ("1", "2", "7"):
        for rest in range(1000):
            beginning = f"{first}{rest:03d}"
            numbers = [f"0{beginning}{sample.randrange(10**6):06d}".encode() for _ in range(200)]
            if all(fast.line_match(number) for number in numbers):
                ranges.append(beginning)
    return ranges


def files_write(folder: Path, count: int) -> tuple[Path, Path, dict]:
    """The list as its provider sends it, and the same numbers as E.164 digits (the baseline's
    input); distinct numbers, spread over the ranges."""
    ranges = uk_ranges()
    per_range = -(-count // len(ranges))
    if per_range > 10**6:
        raise SystemExit(f"at most {len(ranges) * 10**6:,} distinct numbers")
    raw_path, e164_path = folder / "tps.txt", folder / "tps-e164.txt"
    with raw_path.open("wb") as raw, e164_path.open("wb") as e164:
        for low in range(0, count, GENERATION_CHUNK):
            lines, digits = [], []
            for index in range(low, min(count, low + GENERATION_CHUNK)):
                beginning = ranges[index % len(ranges)]
                # 104729 is prime to 10**6: the suffixes of one range never repeat.
                national = f"{beginning}{(index // len(ranges) * 104729 + 17) % 10**6:06d}"
                shape = index % 1000
                if shape < 850:
                    lines.append(f"0{national}")
                elif shape < 950:
                    lines.append(f"+44{national}")
                elif shape < 999:
                    lines.append(f"0044{national}")
                else:
                    lines.append(f"0{national[:4]} {national[4:]}")
                digits.append(f"44{national}")
            raw.write(("\n".join(lines) + "\n").encode())
            e164.write(("\n".join(digits) + "\n").encode())
    shapes = {
        "national": 85.0,
        "plus": 10.0,
        "international_prefix": 4.9,
        "spaced (phonenumbers)": 0.1,
    }
    return raw_path, e164_path, {"ranges": len(ranges), "shapes_percent": shapes}


def bare_copy(e164_path: Path) -> float:
    """One COPY of the normalised numbers into a plain table of the same shape, then its
    index, in one transaction: the seconds taken."""
    import psycopg

    _setup.checkpoint(_setup.DB_NAME)
    with psycopg.connect(_setup.dsn(_setup.DB_NAME)) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare")
        conn.commit()
        started = time.perf_counter()
        conn.execute(
            "CREATE TABLE bench_bare (list_id bigint NOT NULL DEFAULT 1, number bigint NOT NULL)"
        )
        with conn.cursor() as cursor, cursor.copy("COPY bench_bare (number) FROM STDIN") as copy:
            with e164_path.open("rb") as stream:
                while piece := stream.read(1 << 20):
                    copy.write(piece)
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute("CREATE INDEX bench_bare_number ON bench_bare (number)")
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_bare")
        conn.commit()
    return seconds


def service_import(raw_path: Path, round_number: int) -> dict:
    """The import as manage.py import_dnc_list runs it: the seconds, and where they went."""
    from django.utils import timezone

    from compliance.services.dnc_lists import dnc_list_import

    _setup.checkpoint(_setup.DB_NAME)
    marks = {}

    def progress(dnc_list):
        marks.setdefault("first_batch", time.perf_counter())
        if dnc_list.progress >= 100:
            marks["loaded_and_indexed"] = time.perf_counter()

    with RssSampler() as memory:
        started = time.perf_counter()
        dnc_list = dnc_list_import(
            actor=None,
            source="tps",
            tenant=None,
            path=raw_path,
            version=f"bench-{round_number}",
            delivered_at=timezone.now() - timedelta(minutes=1),
            on_progress=progress,
        )
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "numbers": dnc_list.entry_count,
        "rejected": dnc_list.rejected_count,
        "load_and_index_seconds": marks.get("loaded_and_indexed", started) - started,
        "swap_seconds": started + seconds - marks.get("loaded_and_indexed", started),
        "rss_start_mib": round(memory.start, 1),
        "rss_peak_mib": round(memory.peak, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=10_000_000, help="default 10,000,000")
    parser.add_argument("--rounds", type=int, default=2, help="baseline then import, each round")
    parser.add_argument("--keep-database", action="store_true", help="leave the database")
    parser.add_argument("--time-limit-minutes", type=int, default=60)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    if not 10_000 <= arguments.numbers <= 30_000_000:
        parser.error("--numbers must be between 10,000 and 30,000,000")
    if not 1 <= arguments.rounds <= 5:
        parser.error("--rounds must be between 1 and 5")
    needed = arguments.numbers / 1e6 * DISK_PER_MILLION_BYTES + DISK_MARGIN_BYTES
    # The files go to a folder under /tmp, the tables to PostgreSQL's data: one disk here.
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if needed > free:
        raise SystemExit(
            f"about {needed / 1024**3:.1f} GB of free disk needed, {free / 1024**3:.1f}"
        )

    with _setup.Run(
        time_limit_minutes=arguments.time_limit_minutes, keep_database=arguments.keep_database
    ) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia do-not-call import benchmark", _setup.machine_info())
        print(f"Custodia do-not-call import benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        started = time.perf_counter()
        raw_path, e164_path, mix = files_write(run.folder, arguments.numbers)
        print(
            f"  {arguments.numbers:,} numbers written in {time.perf_counter() - started:.0f} s "
            f"({raw_path.stat().st_size / 1024**2:.0f} MB, {mix['ranges']} ranges)",
            flush=True,
        )
        baselines, imports = [], []
        for round_number in range(1, arguments.rounds + 1):
            baselines.append(bare_copy(e164_path))
            print(f"  round {round_number}: bare COPY + index {baselines[-1]:.1f} s", flush=True)
            imports.append(service_import(raw_path, round_number))
            result = imports[-1]
            assert result["numbers"] == arguments.numbers and not result["rejected"], result
            print(
                f"  round {round_number}: import {result['seconds']:.1f} s (load and index "
                f"{result['load_and_index_seconds']:.1f} s, swap {result['swap_seconds']:.1f} s; "
                f"RSS {result['rss_start_mib']} -> peak {result['rss_peak_mib']} MiB)",
                flush=True,
            )
        best_baseline = min(baselines)
        best = min(imports, key=lambda item: item["seconds"])
        rate = arguments.numbers / best["seconds"]
        baseline_rate = arguments.numbers / best_baseline
        ratio = best["seconds"] / best_baseline
        report.add(
            _setup.Row(
                figure=f"1. Import of {arguments.numbers:,} numbers (import_dnc_list's service)",
                target="≥ 100,000 numbers/s and ≤ 3× the bare COPY's time",
                measured=f"{rate:,.0f} numbers/s ({best['seconds']:.1f} s)",
                baseline=f"{baseline_rate:,.0f} numbers/s ({best_baseline:.1f} s, COPY + index)",
                ratio=f"{ratio:.2f}×",
                passed=rate >= 100_000 and ratio <= 3,
            )
        )
        report.add(
            _setup.Row(
                figure="1b. The import's memory (RSS of the process)",
                target="flat",
                measured=f"peak {best['rss_peak_mib']} MiB",
                baseline=f"{best['rss_start_mib']} MiB when it started",
                ratio=f"+{best['rss_peak_mib'] - best['rss_start_mib']:.0f} MiB",
                passed=None,
            )
        )
        report.details = {"mix": mix, "baselines_seconds": baselines, "imports": imports}
        if arguments.json:
            arguments.json.write_text(
                json.dumps({"machine": report.machine, **report.details}, indent=2)
            )
        return report.finish()


if __name__ == "__main__":
    sys.exit(main())
