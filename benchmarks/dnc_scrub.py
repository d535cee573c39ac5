#!/usr/bin/env python3
"""Benchmark of the do-not-call scrub, `POST /api/v1/dnc/scrub`: a CSV of 1,000,000 rows through
gunicorn as docker-compose runs it, its time, and the worker's peak memory at 100,000 rows
against 1,000,000 (flat: the file is read and decided in chunks).

Run from the project root. It drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432 (advisory lock 7304001, shared with the recordings benchmarks: one at a time),
starts gunicorn on a free port of 127.0.0.1 (`gunicorn portal.wsgi --workers 3`, DEBUG off), a
fresh one for each size, and removes everything at the end:

    .venv/bin/python benchmarks/dnc_scrub.py --rows 100000 --small-rows 10000   # ~1 minute
    .venv/bin/python benchmarks/dnc_scrub.py                                    # 1,000,000

Figure 3 of issue 16. The data: the TPS in force with `--list-numbers` numbers (the file
benchmarks/dnc_import.py writes, imported through the service), a CTPS version, a UK tenant
with its campaign (sources internal, TPS, CTPS) and API key. The CSV: `id,name,phone`, the phone
a national UK number, one row in twenty on the TPS. The client streams the file from disk
(Content-Length, as `curl --data-binary @file` sends it) and reads the callable rows back as
they come. Each size runs on a new gunicorn after one untimed scrub of 1,000 rows; the memory is
the peak resident set (VmHWM) of its workers.

Targets: the worker's peak memory at 1,000,000 rows within 1.25× its peak at 100,000 rows
(flat), and informative: rows per second end to end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup  # noqa: E402
import dnc_check  # noqa: E402
import dnc_import  # noqa: E402


def data_build(folder: Path, count: int) -> dict:
    from django.utils import timezone

    from compliance.dnc_models import Campaign
    from compliance.dnc_sources import sources_for_countries
    from compliance.models import LegalBasis, Purpose, Tenant
    from compliance.services.api_keys import api_key_create
    from compliance.services.dnc_lists import dnc_list_import

    raw_path, e164_path, _ = dnc_import.files_write(folder, count)
    for source, path in (("tps", raw_path), ("ctps", raw_path)):
        dnc_list_import(
            actor=None,
            source=source,
            tenant=None,
            path=path,
            version=f"bench-{source}",
            delivered_at=timezone.now() - timedelta(days=1),
        )
    listed = [int(line) for _, line in zip(range(50_000), e164_path.open(), strict=False)]
    raw_path.unlink()
    e164_path.unlink()
    ranges = dnc_import.uk_ranges()
    tenant = Tenant.objects.create(
        name="Bench UK", slug="bench-uk", country_code="GB", time_zone="Europe/London"
    )
    purpose = Purpose.objects.create(
        tenant=tenant,
        code="telemarketing",
        name="Telemarketing",
        legal_basis=LegalBasis.CONSENT,
        requires_consent=True,
        default_retention_months=6,
    )
    today = tenant.today()
    campaign = Campaign.objects.create(
        tenant=tenant,
        name="Bench campaign",
        purpose=purpose,
        legal_basis=LegalBasis.CONSENT,
        sources=sources_for_countries({"GB"}),
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=30),
    )
    _, token = api_key_create(actor=None, tenant=tenant, name="Bench dialer")
    return {
        "token": token,
        "campaign": campaign.pk,
        "listed": listed,
        "ranges": ranges,
        "list_numbers": count,
    }


def csv_write(path: Path, rows: int, data: dict) -> int:
    """`id,name,phone`; one row in twenty on the TPS. Returns the rows on it."""
    ranges, listed, start = data["ranges"], data["listed"], data["list_numbers"]
    on_list = 0
    with path.open("w") as out:
        out.write("id,name,phone\n")
        lines = []
        for index in range(rows):
            if index % 20 == 0:
                number = listed[index // 20 % len(listed)]
                on_list += 1
            else:
                i = start + index
                suffix = (i // len(ranges) * 104729 + 17) % 10**6
                number = int(f"44{ranges[i % len(ranges)]}{suffix:06d}")
            lines.append(f"{index},Customer {index},0{str(number)[2:]}\n")
            if len(lines) == 10_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))
    return on_list


def scrub(port: int, path: Path, data: dict) -> dict:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    try:
        with path.open("rb") as body:
            connection.request(
                "POST",
                f"/api/v1/dnc/scrub?campaign={data['campaign']}",
                body=body,
                headers={
                    "Authorization": f"Bearer {data['token']}",
                    "Content-Type": "text/csv",
                    "Content-Length": str(path.stat().st_size),
                },
            )
        response = connection.getresponse()
        if response.status != 200:
            raise SystemExit(f"the scrub answered {response.status}: {response.read()[:300]!r}")
        received = lines = 0
        while piece := response.read(1 << 16):
            received += len(piece)
            lines += piece.count(b"\n")
        headers = {k: v for k, v in response.getheaders() if k.lower().startswith("x-scrub")}
    finally:
        connection.close()
    return {
        "seconds": time.perf_counter() - started,
        "bytes_back": received,
        "lines_back": lines,
        "headers": headers,
    }


def peak_rss_mib(pids: list[int]) -> float:
    peaks = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def one_size(folder: Path, rows: int, data: dict, redis_url: str) -> dict:
    path = folder / f"scrub-{rows}.csv"
    on_list = csv_write(path, rows, data)
    warmup = folder / "warmup.csv"
    csv_write(warmup, 1_000, data)
    server = dnc_check.Gunicorn(folder, redis_url=redis_url)
    try:
        server.wait_ready()
        for _ in range(dnc_check.GUNICORN_WORKERS):
            scrub(server.port, warmup, data)
        before = peak_rss_mib(server.worker_pids())
        result = scrub(server.port, path, data)
        result["rss_peak_before_mib"] = round(before, 1)
        result["rss_peak_mib"] = round(peak_rss_mib(server.worker_pids()), 1)
    finally:
        server.stop()
    path.unlink()
    result["rows"] = rows
    result["on_list"] = on_list
    headers = {k.lower(): v for k, v in result["headers"].items()}
    assert int(headers["x-scrub-rows"]) == rows, headers
    assert int(headers["x-scrub-callable"]) == rows - on_list, headers
    print(
        f"  {rows:,} rows: {result['seconds']:.1f} s ({rows / result['seconds']:,.0f} rows/s), "
        f"worker peak RSS {result['rss_peak_before_mib']} -> {result['rss_peak_mib']} MiB "
        f"[load {_setup.load_average()}]",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--small-rows", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--list-numbers", type=int, default=1_000_000, help="TPS size")
    parser.add_argument("--redis-db", type=int, default=6)
    parser.add_argument("--time-limit-minutes", type=int, default=60)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    if not 1_000 <= arguments.small_rows < arguments.rows <= 10_000_000:
        parser.error("1,000 <= --small-rows < --rows <= 10,000,000")
    if not 10_000 <= arguments.list_numbers <= 30_000_000:
        parser.error("--list-numbers must be between 10,000 and 30,000,000")
    redis_url = f"redis://127.0.0.1:6379/{arguments.redis_db}"

    with _setup.Run(time_limit_minutes=arguments.time_limit_minutes) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia do-not-call scrub benchmark", _setup.machine_info())
        print(f"Custodia do-not-call scrub benchmark, {_setup.DATE}, {_setup.COMMIT}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        data = data_build(run.folder, arguments.list_numbers)
        _setup.checkpoint(_setup.DB_NAME)
        from django.db import connections

        connections.close_all()
        small = one_size(run.folder, arguments.small_rows, data, redis_url)
        large = one_size(run.folder, arguments.rows, data, redis_url)
        growth = large["rss_peak_mib"] / small["rss_peak_mib"]
        report.add(
            _setup.Row(
                figure=(
                    f"3. POST /api/v1/dnc/scrub, {arguments.rows:,} rows (TPS of "
                    f"{arguments.list_numbers:,}), gunicorn worker's peak RSS"
                ),
                target="flat: ≤ 1.25× the peak at the small size",
                measured=f"{large['rss_peak_mib']} MiB at {arguments.rows:,} rows",
                baseline=f"{small['rss_peak_mib']} MiB at {arguments.small_rows:,} rows",
                ratio=f"{growth:.2f}×",
                passed=growth <= 1.25,
            )
        )
        report.add(
            _setup.Row(
                figure=f"3b. The same scrub's time, end to end ({arguments.rows:,} rows)",
                target="informative",
                measured=(
                    f"{large['seconds']:.1f} s ({arguments.rows / large['seconds']:,.0f} rows/s)"
                ),
                baseline=(
                    f"{small['seconds']:.1f} s at {arguments.small_rows:,} rows "
                    f"({arguments.small_rows / small['seconds']:,.0f} rows/s)"
                ),
                ratio=f"{large['seconds'] / small['seconds']:.1f}× the time for "
                f"{arguments.rows / arguments.small_rows:.0f}× the rows",
                passed=None,
            )
        )
        report.details = {"small": small, "large": large}
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        return report.finish()


if __name__ == "__main__":
    sys.exit(main())
