#!/usr/bin/env python3
"""Benchmark of the do-not-call check, `GET /api/v1/dnc/check`, with 20,000,000 numbers on the
UK's TPS, from 16 concurrent clients against gunicorn as docker-compose runs it, against a bare
indexed SELECT of one number from 16 concurrent connections in the same run.

Run from the project root. It drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432 (advisory lock 7304001, shared with the recordings benchmarks: one at a time),
starts gunicorn on a free port of 127.0.0.1 (`gunicorn portal.wsgi --workers 3`,
docker-compose's command, DEBUG off), counts the checks in Redis DB `--redis-db` of
127.0.0.1:6379, and removes everything at the end:

    .venv/bin/python benchmarks/dnc_check.py --numbers 1000000 --rounds 1 --paced-requests 50  # 3m
    .venv/bin/python benchmarks/dnc_check.py  # 20,000,000, paced at 100 and 200/s: ~15 minutes

Figure 2 of issue 16. The data: the TPS in force with N numbers, imported through the service
of `manage.py import_dnc_list` from the file benchmarks/dnc_import.py writes (valid UK numbers,
several shapes), a CTPS version in force (10,000 numbers), a UK tenant with 10,000 internal
opt-outs and 10,000 consents, its campaign (sources internal, TPS, CTPS) of 100,000 numbers and
its API key. The checks: national UK numbers, one in ten on the TPS, the others not, each
client its own. The clients are processes (not threads: the client's own Python would
otherwise weigh on every figure), one new connection per request (gunicorn's sync workers close
each). Each client sends `--requests` timed requests after 20 untimed ones.

The baseline: `SELECT 1 FROM compliance_dncentry WHERE list_id = <the TPS version> AND number
= <n>` (the partition's number index) in a view mounted beside the portal's URLs (a settings
module written for the run), served by the same gunicorn through the same middleware, from the
same 16 client processes, the same numbers: the least an HTTP check of one number does. Also
shown: the same SELECT straight over psycopg from 16 processes, each its own connection (what
HTTP and Django add), and the bare view behind the API's key check (`api_key_required`: the key
and its rate limit's per-minute counter, one UPSERT per call, committed without waiting for the
WAL flush), what any API call pays before its view. Kinds run in interleaved rounds (SELECT,
bare view, keyed bare view, check) so that other load weighs on all alike. The run's settings
count every call against the key's minute but refuse none (API_RATE_LIMIT_PER_MINUTE = 0).

Then the check and the bare SELECT view from one client, no request queued behind another: a
check's own latency. Targets: the check's p99 under 10 ms (from 16 clients), and within 3× the
bare SELECT view's (p99 to p99). At the end
the counted checks are turned into `dnc.checked` events (compliance/dnc_check_counts.py) and
their total must equal the checks sent: none unaccounted.

The 16 clients above are a closed loop: each sends its next request the moment the last is
answered, so 16 requests are always in the system and, on a machine of few cores, p99 is mostly
time spent queued (Little's law), whatever the view does. The paced mode (`--rates`, default
100 and 200 requests per second in all) is an open loop: 16 client processes sending at a fixed
total rate, each on its own schedule (every 16/rate seconds, the clients' schedules staggered),
never waiting for an answer to send the next (each request is its own thread). A request's
latency is measured from the time it was scheduled to be sent, not from when it was sent: a
request delayed by the ones before it counts its delay (coordinated omission corrected). The
check and the bare SELECT view run interleaved, `--rounds` rounds of `--paced-requests` timed
requests per client after WARMUP untimed ones.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup  # noqa: E402
import dnc_import  # noqa: E402

GUNICORN_WORKERS = 3  # docker-compose.yml's web command
CLIENTS = 16
WARMUP = 20
CAMPAIGN_NUMBERS = 100_000
OPT_OUTS = 10_000

SETTINGS_MODULE = """\
# Written by a do-not-call benchmark for one run: the portal's settings with DEBUG off (the
# environment's DEBUG=true only gives the development defaults: no SSL redirect, dummy secrets),
# and the bare SELECT view mounted beside the portal's URLs.
from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench_dnc_urls"
DEBUG = False
# Every call is still counted against its key's minute (the same UPSERT), never refused: the
# checks, keyed views and warm-ups of one key pass 20,000 a minute on a fast machine, and a 429
# would measure the limit, not the check.
API_RATE_LIMIT_PER_MINUTE = 0
"""

URLS_MODULE = """\
# Written by a do-not-call benchmark for one run.
from django.db import connection
from django.http import JsonResponse
from django.urls import path

from compliance.api_auth import api_key_required
from portal import urls as portal_urls


def bare_select(request):
    \"\"\"The least a check does: one indexed SELECT of one number, its answer as JSON.\"\"\"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM compliance_dncentry WHERE list_id = %s AND number = %s",
            [int(request.GET["list"]), int(request.GET["number"])],
        )
        listed = cursor.fetchone() is not None
    return JsonResponse({"listed": listed})


# The same behind the API's key check (compliance.api_auth: the key, its rate limit's counter):
# what every API call pays before its view runs.
bare_select_with_key = api_key_required(bare_select)

urlpatterns = [
    path("bench/bare-select", bare_select),
    path("bench/bare-select-with-key", bare_select_with_key),
    *portal_urls.urlpatterns,
]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """gunicorn with docker-compose's command on a free port of 127.0.0.1, stopped whatever
    happens (SIGTERM, then SIGKILL)."""

    def __init__(self, folder: Path, *, redis_url: str, workers: int = GUNICORN_WORKERS):
        site = folder / "site"
        site.mkdir(exist_ok=True)
        (site / "bench_dnc_settings.py").write_text(SETTINGS_MODULE)
        (site / "bench_dnc_urls.py").write_text(URLS_MODULE)
        self.port = free_port()
        environment = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="bench_dnc_settings",
            PYTHONPATH=os.pathsep.join([str(site), str(_setup.ROOT)]),
            LOG_LEVEL="WARNING",
            DNC_CHECK_COUNTS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
        )
        command = [
            *(sys.executable, "-m", "gunicorn", "portal.wsgi"),
            *("--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)),
            *("--timeout", "600", "--log-level", "warning"),
        ]
        self.process = subprocess.Popen(command, cwd=_setup.ROOT, env=environment)  # noqa: S603

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


# --- the clients (child processes) ---------------------------------------------------------------


def _http_client(port: int, paths: list[str], token: str, results) -> None:
    latencies = []
    headers = {"Authorization": f"Bearer {token}"}
    for index, path in enumerate(paths):
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            results.put(("error", f"{path} answered {response.status}: {body[:300]!r}"))
            return
        if index >= WARMUP:
            latencies.append(time.perf_counter() - started)
    results.put(("ok", latencies))


def _paced_client(port: int, paths: list[str], token: str, start: float, every: float, results):
    """Open loop: request i is due at start + i * every (time.monotonic(), the same clock in
    every process), sent then on its own thread whether or not the ones before it have been
    answered; its latency runs from when it was due."""
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float | None] = [None] * len(paths)
    errors: list[str] = []

    def one(index: int, path: str, due: float) -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            finally:
                connection.close()
        except OSError as error:
            errors.append(f"{path}: {error}")
            return
        if response.status != 200:
            errors.append(f"{path} answered {response.status}: {body[:300]!r}")
            return
        latencies[index] = time.monotonic() - due

    threads = []
    for index, path in enumerate(paths):
        due = start + index * every
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        thread = threading.Thread(target=one, args=(index, path, due))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        results.put(("error", errors[0]))
        return
    results.put(("ok", latencies[WARMUP:]))


def _select_client(list_id: int, numbers: list[int], results) -> None:
    import psycopg

    latencies = []
    with psycopg.connect(_setup.dsn(_setup.DB_NAME), autocommit=True) as conn:
        for index, number in enumerate(numbers):
            started = time.perf_counter()
            conn.execute(
                "SELECT 1 FROM compliance_dncentry WHERE list_id = %s AND number = %s",
                [list_id, number],
            ).fetchall()
            if index >= WARMUP:
                latencies.append(time.perf_counter() - started)
    results.put(("ok", latencies))


def run_clients(target, arguments_per_client: list[tuple]) -> tuple[list[float], float]:
    """Every client a process, started together; (latencies of all, wall seconds)."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, results)) for args in arguments_per_client
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    latencies: list[float] = []
    for _ in processes:
        kind, payload = results.get(timeout=1800)
        if kind == "error":
            for process in processes:
                process.kill()
            raise SystemExit(payload)
        latencies += payload
    seconds = time.perf_counter() - started
    for process in processes:
        process.join()
    return latencies, seconds


# --- the data ------------------------------------------------------------------------------------


def data_build(folder: Path, count: int) -> dict:
    """The TPS (N numbers) and CTPS in force, the tenant, its campaign, opt-outs, consents and
    key. Returns what the clients need."""
    from django.db import connection
    from django.utils import timezone

    from compliance.dnc_models import Campaign, DncList
    from compliance.dnc_sources import sources_for_countries
    from compliance.models import LegalBasis, Purpose, Tenant
    from compliance.services.api_keys import api_key_create
    from compliance.services.dnc_lists import dnc_list_import

    started = time.perf_counter()
    raw_path, e164_path, mix = dnc_import.files_write(folder, count)
    print(f"  {count:,} numbers written in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    tps = dnc_list_import(
        actor=None,
        source="tps",
        tenant=None,
        path=raw_path,
        version="bench-tps",
        delivered_at=timezone.now() - timedelta(days=1),
    )
    print(
        f"  TPS of {tps.entry_count:,} numbers in force in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    ctps_path = folder / "ctps.txt"
    with raw_path.open("rb") as source, ctps_path.open("wb") as target:
        for _ in range(10_000):
            target.write(source.readline())
    dnc_list_import(
        actor=None,
        source="ctps",
        tenant=None,
        path=ctps_path,
        version="bench-ctps",
        delivered_at=timezone.now() - timedelta(days=1),
    )
    listed = []
    with e164_path.open() as numbers:
        for index, line in enumerate(numbers):
            if index % 97 == 0:
                listed.append(int(line))
            if len(listed) >= 200_000:
                break
    raw_path.unlink()
    e164_path.unlink()
    # Valid UK numbers on no list: those the generator would write after the N it wrote.
    ranges = dnc_import.uk_ranges()
    unlisted = [
        int(f"44{ranges[i % len(ranges)]}{(i // len(ranges) * 104729 + 17) % 10**6:06d}")
        for i in range(count, count + 200_000)
    ]
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
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO compliance_campaignnumber (campaign_id, number, country, added_at) "
            "SELECT %s, n, 'GB', now() - interval '1 day' FROM unnest(%s::bigint[]) AS n",
            [campaign.pk, unlisted[:CAMPAIGN_NUMBERS]],
        )
        cursor.execute(
            "INSERT INTO compliance_dncoptout (tenant_id, number, channel, note, added_at, "
            "added_by) SELECT %s, '+' || n::text, 'api', '', now(), 'bench' "
            "FROM unnest(%s::bigint[]) AS n",
            [tenant.pk, [447500000000 + n for n in range(OPT_OUTS)]],
        )
        cursor.execute(
            "INSERT INTO compliance_consent (tenant_id, customer_number, subject_reference, "
            "purpose_id, decision, decided_at, channel, ivr_prompt_id, ivr_prompt_version, "
            "call_id, operator, recorded_by, recorded_at) SELECT %s, '+' || n::text, '', %s, "
            "'granted', now() - interval '1 day', 'ivr', '', '', '', '', 'bench', now() "
            "FROM unnest(%s::bigint[]) AS n",
            [tenant.pk, purpose.pk, listed[:OPT_OUTS]],
        )
        cursor.execute("ANALYZE")
    _, token = api_key_create(actor=None, tenant=tenant, name="Bench dialer")
    tps = DncList.objects.get(source="tps", status="in_force")
    return {
        "token": token,
        "campaign": campaign.pk,
        "list_id": tps.pk,
        "listed": listed,
        "unlisted": unlisted,
    }


def numbers_for(client: int, per_client: int, listed: list[int], unlisted: list[int]) -> list[int]:
    """One in ten on the TPS, the others valid UK numbers on no list (half of them in the
    campaign's file)."""
    numbers = []
    for index in range(per_client):
        serial = client * per_client + index
        if index % 10 == 0:
            numbers.append(listed[serial % len(listed)])
        else:
            numbers.append(unlisted[serial % len(unlisted)])
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=20_000_000, help="default 20,000,000")
    parser.add_argument("--requests", type=int, default=200, help="timed per client and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--rates",
        default="100,200",
        help="paced mode: total requests per second of the 16 clients, comma-separated "
        "(default 100,200; empty: no paced mode)",
    )
    parser.add_argument(
        "--paced-requests", type=int, default=200, help="paced mode: timed per client and round"
    )
    parser.add_argument("--redis-db", type=int, default=6, help="Redis DB of the counters")
    parser.add_argument("--time-limit-minutes", type=int, default=60)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    if not 10_000 <= arguments.numbers <= 30_000_000:
        parser.error("--numbers must be between 10,000 and 30,000,000")
    if not 50 <= arguments.requests <= 5_000 or not 1 <= arguments.rounds <= 10:
        parser.error("--requests must be between 50 and 5,000, --rounds between 1 and 10")
    try:
        arguments.rates = [int(rate) for rate in arguments.rates.split(",") if rate.strip()]
    except ValueError:
        parser.error("--rates: whole numbers of requests per second, comma-separated")
    if not all(10 <= rate <= 2_000 for rate in arguments.rates):
        parser.error("--rates must each be between 10 and 2,000")
    if not 50 <= arguments.paced_requests <= 5_000:
        parser.error("--paced-requests must be between 50 and 5,000")
    redis_url = f"redis://127.0.0.1:6379/{arguments.redis_db}"
    os.environ["DNC_CHECK_COUNTS_URL"] = redis_url

    with _setup.Run(time_limit_minutes=arguments.time_limit_minutes) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia do-not-call check benchmark", _setup.machine_info())
        print(f"Custodia do-not-call check benchmark, {_setup.DATE}, {_setup.COMMIT}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        data = data_build(run.folder, arguments.numbers)
        _setup.checkpoint(_setup.DB_NAME)
        from django.db import connections

        from compliance.dnc_check_counts import PREFIX, client, dnc_checks_record

        redis = client()
        for key in redis.scan_iter(match=f"{PREFIX}*"):
            redis.delete(key)
        connections.close_all()
        server = Gunicorn(run.folder, redis_url=redis_url)
        try:
            server.wait_ready()
            results = bench(server.port, data, arguments)
        finally:
            server.stop()
        recorded = dnc_checks_record()
        sent = (WARMUP + arguments.requests) * (CLIENTS * arguments.rounds + 1)
        sent += (
            (WARMUP + arguments.paced_requests) * CLIENTS * arguments.rounds * len(arguments.rates)
        )
        print(f"  checks sent {sent:,}, recorded on the trail {recorded['checks']:,}")
        rows_add(report, results, arguments, sent=sent, recorded=recorded)
        report.details = {key: value for key, value in results.items() if key != "latencies"}
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        return report.finish()


def bench(port: int, data: dict, arguments) -> dict:
    per_client = WARMUP + arguments.requests
    latencies: dict[str, list[float]] = {"select": [], "bare": [], "keyed": [], "check": []}
    seconds: dict[str, float] = dict.fromkeys(latencies, 0.0)
    for round_number in range(arguments.rounds):
        numbers = [
            numbers_for(round_number * CLIENTS + c, per_client, data["listed"], data["unlisted"])
            for c in range(CLIENTS)
        ]
        kinds = {
            "select": (_select_client, [(data["list_id"], n) for n in numbers]),
            "bare": (
                _http_client,
                [
                    (
                        port,
                        [f"/bench/bare-select?list={data['list_id']}&number={n}" for n in nums],
                        data["token"],
                    )
                    for nums in numbers
                ],
            ),
            "keyed": (
                _http_client,
                [
                    (
                        port,
                        [
                            f"/bench/bare-select-with-key?list={data['list_id']}&number={n}"
                            for n in nums
                        ],
                        data["token"],
                    )
                    for nums in numbers
                ],
            ),
            "check": (
                _http_client,
                [
                    (
                        port,
                        [
                            f"/api/v1/dnc/check?campaign={data['campaign']}&number=0{str(n)[2:]}"
                            for n in client_numbers
                        ],
                        data["token"],
                    )
                    for client_numbers in numbers
                ],
            ),
        }
        for kind, (target, client_arguments) in kinds.items():
            found, wall = run_clients(target, client_arguments)
            latencies[kind] += found
            seconds[kind] += wall
            print(
                f"  round {round_number + 1} {kind:<6}: p50 {percentile(found, 0.5) * 1e3:6.2f} "
                f"ms, p99 {percentile(found, 0.99) * 1e3:6.2f} ms, "
                f"{len(found) / wall:,.0f}/s [load {_setup.load_average()}]",
                flush=True,
            )
    summary = {
        kind: {
            "p50_ms": percentile(values, 0.5) * 1e3,
            "p95_ms": percentile(values, 0.95) * 1e3,
            "p99_ms": percentile(values, 0.99) * 1e3,
            "per_second": len(values) / seconds[kind],
            "samples": len(values),
        }
        for kind, values in latencies.items()
    }
    # One client, nothing queued: a request's own latency through the same gunicorn.
    alone = {}
    numbers = numbers_for(CLIENTS * arguments.rounds, per_client, data["listed"], data["unlisted"])
    for kind, path in (
        ("bare", f"/bench/bare-select?list={data['list_id']}&number={{n}}"),
        ("check", f"/api/v1/dnc/check?campaign={data['campaign']}&number=0{{national}}"),
    ):
        paths = [path.format(n=n, national=str(n)[2:]) for n in numbers]
        found, wall = run_clients(_http_client, [(port, paths, data["token"])])
        alone[kind] = {
            "p50_ms": percentile(found, 0.5) * 1e3,
            "p95_ms": percentile(found, 0.95) * 1e3,
            "p99_ms": percentile(found, 0.99) * 1e3,
            "per_second": len(found) / wall,
            "samples": len(found),
        }
        print(
            f"  one client {kind:<6}: p50 {alone[kind]['p50_ms']:6.2f} ms, p99 "
            f"{alone[kind]['p99_ms']:6.2f} ms [load {_setup.load_average()}]",
            flush=True,
        )
    return {
        "summary": summary,
        "alone": alone,
        "paced": {rate: paced(port, data, arguments, rate) for rate in arguments.rates},
        "numbers": arguments.numbers,
        "clients": CLIENTS,
    }


def paced(port: int, data: dict, arguments, rate: int) -> dict:
    """Open loop at `rate` requests per second in all: the check and the bare SELECT view in
    interleaved rounds, 16 clients each sending every CLIENTS / rate seconds."""
    per_client = WARMUP + arguments.paced_requests
    every = CLIENTS / rate
    paths = {
        "bare": f"/bench/bare-select?list={data['list_id']}&number={{n}}",
        "check": f"/api/v1/dnc/check?campaign={data['campaign']}&number=0{{national}}",
    }
    latencies: dict[str, list[float]] = {"bare": [], "check": []}
    seconds: dict[str, float] = dict.fromkeys(latencies, 0.0)
    for round_number in range(arguments.rounds):
        serial = CLIENTS * (arguments.rounds + 1 + round_number)
        numbers = [
            numbers_for(serial + c, per_client, data["listed"], data["unlisted"])
            for c in range(CLIENTS)
        ]
        for kind, path in paths.items():
            start = time.monotonic() + 1.0  # every client started before the first is due
            client_arguments = [
                (
                    port,
                    [path.format(n=n, national=str(n)[2:]) for n in nums],
                    data["token"],
                    start + c / rate,  # the clients' schedules staggered
                    every,
                )
                for c, nums in enumerate(numbers)
            ]
            found, wall = run_clients(_paced_client, client_arguments)
            latencies[kind] += found
            seconds[kind] += wall - 1.0
            print(
                f"  paced {rate}/s round {round_number + 1} {kind:<6}: p50 "
                f"{percentile(found, 0.5) * 1e3:6.2f} ms, p99 "
                f"{percentile(found, 0.99) * 1e3:6.2f} ms [load {_setup.load_average()}]",
                flush=True,
            )
    return {
        kind: {
            "p50_ms": percentile(values, 0.5) * 1e3,
            "p95_ms": percentile(values, 0.95) * 1e3,
            "p99_ms": percentile(values, 0.99) * 1e3,
            "per_second": len(values) / seconds[kind] * per_client / arguments.paced_requests,
            "samples": len(values),
        }
        for kind, values in latencies.items()
    }


def rows_add(report, results: dict, arguments, *, sent: int, recorded: dict) -> None:
    summary = results["summary"]
    check, select, bare = summary["check"], summary["select"], summary["bare"]

    def shown(figures: dict) -> str:
        return (
            f"p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms, "
            f"p99 {figures['p99_ms']:.2f} ms ({figures['per_second']:,.0f}/s)"
        )

    ratio = check["p99_ms"] / bare["p99_ms"]
    report.add(
        _setup.Row(
            figure=(
                f"2. GET /api/v1/dnc/check, {arguments.numbers:,} TPS numbers, {CLIENTS} "
                f"clients, gunicorn --workers {GUNICORN_WORKERS}"
            ),
            target="p99 < 10 ms and ≤ 3× the bare SELECT's p99",
            measured=shown(check),
            baseline=f"bare indexed SELECT through the same gunicorn: {shown(bare)}",
            ratio=f"{ratio:.2f}× (p50 {check['p50_ms'] / bare['p50_ms']:.2f}×)",
            passed=check["p99_ms"] < 10 and ratio <= 3,
        )
    )
    report.add(
        _setup.Row(
            figure="2b. The same check against the bare SELECT straight over psycopg",
            target="informative: what HTTP and Django add",
            measured=shown(check),
            baseline=f"bare SELECT, 16 psycopg connections: {shown(select)}",
            ratio=f"{check['p99_ms'] / select['p99_ms']:.1f}× (p99)",
            passed=None,
        )
    )
    keyed = summary["keyed"]
    report.add(
        _setup.Row(
            figure="2d. The check against the bare SELECT view behind the API's key check",
            target="informative: what the check adds to any API call",
            measured=shown(check),
            baseline=f"bare SELECT behind api_key_required: {shown(keyed)}",
            ratio=f"{check['p99_ms'] / keyed['p99_ms']:.2f}× (p99)",
            passed=None,
        )
    )
    alone = results["alone"]
    report.add(
        _setup.Row(
            figure="2e. The same from one client (no request queued behind another)",
            target="informative: a check's own latency",
            measured=shown(alone["check"]),
            baseline=f"bare SELECT view: {shown(alone['bare'])}",
            ratio=f"{alone['check']['p99_ms'] / alone['bare']['p99_ms']:.2f}× (p99)",
            passed=None,
        )
    )
    for rate, figures in results["paced"].items():
        check_paced, bare_paced = figures["check"], figures["bare"]
        report.add(
            _setup.Row(
                figure=(
                    f"2f. The same check paced at {rate} requests/s in all (open loop, {CLIENTS} "
                    "clients, latency from each request's scheduled time)"
                ),
                target="p99 < 10 ms at a fixed offered rate",
                measured=shown(check_paced),
                baseline=f"bare SELECT view, same pacing: {shown(bare_paced)}",
                ratio=f"{check_paced['p99_ms'] / bare_paced['p99_ms']:.2f}× (p99)",
                passed=check_paced["p99_ms"] < 10,
            )
        )
    report.add(
        _setup.Row(
            figure="2c. Checks accounted on the trail (dnc.checked events)",
            target="every check sent",
            measured=f"{recorded['checks']:,} checks in {recorded['events']} event(s)",
            baseline=f"{sent:,} sent",
            ratio=f"{recorded['checks'] / sent:.3f}",
            passed=recorded["checks"] == sent,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
