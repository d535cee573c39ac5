#!/usr/bin/env python3
"""Benchmark of ingestion: 100 KiB recordings through `POST /api/v1/recordings`, served by
gunicorn as docker-compose runs it, from 1 and from 8 concurrent clients.

Run from the project root (it drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432, stores the audio in a temporary folder under /tmp, and starts gunicorn on free
ports of 127.0.0.1; all of it goes at the end):

    .venv/bin/python benchmarks/ingestion.py --quick     # 200 requests per kind and client count
    .venv/bin/python benchmarks/ingestion.py             # 1,000 requests per kind and client count

Figure 1. The API, with everything it does (API-key authentication, the rate limit and upload
slots, validation, audio inspection, encryption, durable storage, the row, its history row and
its audit event, one commit), against the durable bare upload: a view that writes the uploaded
file, fsyncs it and its folder, and commits one row, since a recording must be on disk and in the
database before the recorder is told it is stored. Both are served by the same gunicorn
(`gunicorn portal.wsgi --workers 3`, docker-compose's command, bound to 127.0.0.1 here) through
the same middleware stack and URL resolver: the bare view is mounted beside the portal's URLs by a
settings module written for the run (ROOT_URLCONF, and DEBUG off as in production). The clients
are threads of this process, one new connection per request (gunicorn's sync workers close each),
with the multipart bodies encoded before the clock starts. Kinds run in interleaved blocks (each
goes first in turn) after an untimed warm-up of every worker, so that whatever else runs on the
machine weighs on all alike. A block is 25 requests per client; a rate is the requests of a kind
over the wall time of its blocks.

Target, from 1 client and from 8: at least 100 recordings/s, and at least 0.35 of the durable
bare upload's rate.

Figure 1p. The same API served by a second gunicorn with DATABASE_PREPARED_STATEMENTS=false,
interleaved with the others: what the prepared statements of kit.sql.prepared_cursor earn.

Figure 1b (informative, in this process). One durable commit on this server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup  # noqa: E402

BOUNDARY = "CustodiaBenchBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
API_URL = "/api/v1/recordings"
DURABLE_URL = "/bench/durable-upload"
PER_CLIENT_BLOCK = 25
GUNICORN_WORKERS = 3  # docker-compose.yml's web command
# 6.4 s of 8 kHz 16-bit mono: 102,400 bytes of samples + the 44-byte header = 100 KiB.
AUDIO_SECONDS = 6.4

SETTINGS_MODULE = """\
# Written by benchmarks/ingestion.py for one run: the portal's settings, the durable bare upload
# mounted beside the portal's URLs, and DEBUG off (the environment's DEBUG=true only gives the
# development defaults: no SSL redirect, dummy secrets).
from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench_ingestion_urls"
DEBUG = False
"""

URLS_MODULE = """\
# Written by benchmarks/ingestion.py for one run.
import os
import uuid

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from portal import urls as portal_urls

ROOT = {root!r}


@csrf_exempt
def durable_upload(request):
    \"\"\"The least a durable upload endpoint does: the file written and fsynced with its folder,
    then one row committed, before answering 201.\"\"\"
    upload = request.FILES.get("audio")
    if request.method != "POST" or upload is None:
        return JsonResponse({{"error": "POST with audio only"}}, status=400)
    name = f"{{uuid.uuid4().hex}}.wav"
    with open(os.path.join(ROOT, name), "xb") as output:
        for chunk in upload.chunks():
            output.write(chunk)
        output.flush()
        os.fsync(output.fileno())
    folder = os.open(ROOT, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_upload (name, size) VALUES (%s, %s)", [name, upload.size]
        )
    return JsonResponse({{"stored": name, "size": upload.size}}, status=201)


urlpatterns = [path({url!r}, durable_upload), *portal_urls.urlpatterns]
"""


def site_write(folder: Path, durable_root: Path) -> Path:
    """The settings and URLconf modules gunicorn imports for this run."""
    site = folder / "site"
    site.mkdir()
    (site / "bench_ingestion_settings.py").write_text(SETTINGS_MODULE)
    (site / "bench_ingestion_urls.py").write_text(
        URLS_MODULE.format(root=str(durable_root), url=DURABLE_URL.lstrip("/"))
    )
    return site


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """gunicorn with docker-compose's command on a free port of 127.0.0.1, stopped whatever
    happens (SIGTERM, then SIGKILL)."""

    def __init__(self, site: Path, *, workers: int, extra_environment: dict[str, str]):
        self.port = free_port()
        environment = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="bench_ingestion_settings",
            PYTHONPATH=os.pathsep.join([str(site), str(_setup.ROOT)]),
            LOG_LEVEL="WARNING",
            **extra_environment,
        )
        command = [
            *(sys.executable, "-m", "gunicorn", "portal.wsgi"),
            *("--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)),
            *("--timeout", "120", "--log-level", "warning"),
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

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def bodies(kind: str, count: int, audio: bytes) -> list[bytes]:
    """Multipart bodies as a recorder sends them, each with its own call id and number."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import encode_multipart
    from django.utils import timezone

    started_at = (timezone.now() - timedelta(hours=1)).isoformat()
    result = []
    for i in range(count):
        fields = {
            "call_id": f"bench-{kind}-{i:07d}",
            "direction": "inbound" if i % 3 else "outbound",
            "started_at": started_at,
            # National format, read in the tenant's country (FR): 06 12 xx xx xx is a mobile.
            "customer_number": f"06 12 {i // 10000 % 100:02d} {i // 100 % 100:02d} {i % 100:02d}",
            "purpose": "quality",
            "agent_code": f"A{i % 40:02d}",
            "campaign": "winter-2026",
            "audio": SimpleUploadedFile(f"call-{i}.wav", audio, content_type="audio/wav"),
        }
        result.append(encode_multipart(BOUNDARY, fields))
    return result


def post(port: int, url: str, body: bytes, token: str) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            url,
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE},
        )
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    if response.status != 201:
        raise SystemExit(f"{url} answered {response.status}: {content[:300]!r}")
    return time.perf_counter() - started


class Kind:
    def __init__(self, name: str, port: int, url: str, payloads: list[bytes]):
        self.name, self.port, self.url, self.payloads = name, port, url, payloads
        self.sent = 0
        self.seconds = 0.0
        self.latencies: list[float] = []

    def block(self, pool: ThreadPoolExecutor, count: int, token: str) -> None:
        payloads = self.payloads[self.sent : self.sent + count]
        self.sent += count
        started = time.perf_counter()
        latencies = list(pool.map(lambda body: post(self.port, self.url, body, token), payloads))
        self.seconds += time.perf_counter() - started
        self.latencies += latencies

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 requests per kind and clients")
    parser.add_argument("--requests", type=int, help="timed requests per kind (default 1,000)")
    parser.add_argument("--clients", default="1,8", help="concurrent clients, e.g. 1,8")
    parser.add_argument("--time-limit-minutes", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    total = arguments.requests or (200 if arguments.quick else 1_000)
    try:
        client_counts = [int(part) for part in arguments.clients.split(",")]
    except ValueError:
        parser.error("--clients must be numbers separated by commas, e.g. 1,8")
    if not all(1 <= clients <= 16 for clients in client_counts):
        parser.error("--clients must be between 1 and 16")
    if not 50 <= total <= 10_000:
        parser.error("--requests must be between 50 and 10,000")

    with _setup.Run(time_limit_minutes=arguments.time_limit_minutes) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia ingestion benchmark (gunicorn)", _setup.machine_info())
        print(f"Custodia ingestion benchmark (gunicorn), {_setup.DATE}, {_setup.COMMIT}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        bench(report, run.folder, total, client_counts)
        commit_floor(report)
        report.finish()
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


def bench(report, folder: Path, total: int, client_counts: list[int]) -> None:
    from django.db import connection

    from compliance.models import Tenant
    from compliance.services.api_keys import api_key_create
    from recordings.demo_audio import tone_wav
    from recordings.models import Recording

    tenant = Tenant.objects.create(
        name="Bench tenant", slug="bench", country_code="FR", time_zone="Europe/Paris"
    )
    _, token = api_key_create(actor=None, tenant=tenant, name="Bench recorder")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_upload (id bigserial PRIMARY KEY, name text, size integer)"
        )
    audio = tone_wav(AUDIO_SECONDS, frequency=440.0)
    durable_root = folder / "durable-uploads"
    durable_root.mkdir()
    site = site_write(folder, durable_root)
    warmup = 4 * GUNICORN_WORKERS
    rounds = [(clients, max(1, total // (PER_CLIENT_BLOCK * clients))) for clients in client_counts]
    needed = warmup + sum(PER_CLIENT_BLOCK * clients * blocks for clients, blocks in rounds)
    started = time.perf_counter()
    payloads = {name: bodies(name, needed, audio) for name in ("api", "unprepared", "durable")}
    print(
        f"  {3 * needed:,} bodies of {len(payloads['api'][0]):,} bytes encoded in "
        f"{time.perf_counter() - started:.1f} s (before the clock starts)",
        flush=True,
    )
    servers = [
        Gunicorn(site, workers=GUNICORN_WORKERS, extra_environment={}),
        Gunicorn(
            site,
            workers=GUNICORN_WORKERS,
            extra_environment={"DATABASE_PREPARED_STATEMENTS": "false"},
        ),
    ]
    try:
        for server in servers:
            server.wait_ready()
        prepared, unprepared = servers
        kinds = [
            Kind("api", prepared.port, API_URL, payloads["api"]),
            Kind("unprepared", unprepared.port, API_URL, payloads["unprepared"]),
            Kind("durable", prepared.port, DURABLE_URL, payloads["durable"]),
        ]
        with ThreadPoolExecutor(max_workers=GUNICORN_WORKERS) as pool:
            for kind in kinds:  # every worker loads Django and opens its connection
                kind.block(pool, warmup, token)
        for clients, blocks in rounds:
            for kind in kinds:
                kind.latencies, kind.seconds = [], 0.0
            print(
                f"\n[1] {clients} client(s): {blocks} blocks of {PER_CLIENT_BLOCK * clients} "
                "requests per kind, interleaved",
                flush=True,
            )
            with ThreadPoolExecutor(max_workers=clients) as pool:
                for block in range(blocks):
                    shift = block % len(kinds)
                    for kind in kinds[shift:] + kinds[:shift]:
                        kind.block(pool, PER_CLIENT_BLOCK * clients, token)
            rows_add(report, clients, *kinds, audio_bytes=len(audio))
    finally:
        for server in servers:
            server.stop()

    # Everything the API was asked to store is there: rows and files.
    api, unprepared_api, durable = kinds
    expected = api.sent + unprepared_api.sent
    assert Recording.objects.filter(tenant=tenant).count() == expected, expected
    stored = sum(1 for path in (folder / "recordings").rglob("*.cstd") if path.is_file())
    assert stored == expected, (stored, expected)
    assert sum(1 for _ in durable_root.iterdir()) == durable.sent
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_upload")
        assert cursor.fetchone()[0] == durable.sent
        cursor.execute("SELECT count(*) FROM recordings_historicalrecording")
        assert cursor.fetchone()[0] == expected


def rows_add(report, clients: int, api: Kind, unprepared: Kind, durable: Kind, *, audio_bytes):
    def ms(kind: Kind, fraction: float) -> float:
        return _setup.percentile(kind.latencies, fraction) * 1e3

    for kind in (api, unprepared, durable):
        print(
            f"    {kind.name:<10} {kind.rate:7.1f}/s  mean "
            f"{statistics.fmean(kind.latencies) * 1e3:6.2f} ms  p50 {ms(kind, 0.5):6.2f} ms  "
            f"p95 {ms(kind, 0.95):6.2f} ms  [load {_setup.load_average()}]",
            flush=True,
        )
    report.details[f"ingestion_{clients}_clients"] = {
        kind.name: {
            "requests": len(kind.latencies),
            "seconds": kind.seconds,
            "rate": kind.rate,
            "p50_ms": ms(kind, 0.5),
            "p95_ms": ms(kind, 0.95),
        }
        for kind in (api, unprepared, durable)
    }
    baseline = (
        f"{durable.rate:,.0f} uploads/s (p50 {ms(durable, 0.5):.1f} ms): durable bare upload "
        "(file and folder fsynced, one row committed), same gunicorn"
    )
    for kind, figure, target in (
        (
            api,
            f"1. Ingestion, `POST /api/v1/recordings`, {len(api.latencies):,} WAV recordings of "
            f"{audio_bytes / 1024:.0f} KiB, gunicorn ({GUNICORN_WORKERS} workers), "
            f"{clients} client(s)",
            "≥ 100 recordings/s and ≥ 0.35× baseline",
        ),
        (
            unprepared,
            f"1p. The same, DATABASE_PREPARED_STATEMENTS=false (second gunicorn), "
            f"{clients} client(s)",
            "— (what the prepared statements earn)",
        ),
    ):
        ratio = kind.rate / durable.rate
        report.add(
            _setup.Row(
                figure=figure,
                target=target,
                measured=f"{kind.rate:,.0f} recordings/s (p50 {ms(kind, 0.5):.1f} ms, "
                f"p95 {ms(kind, 0.95):.1f} ms)",
                baseline=baseline,
                ratio=f"{ratio:.2f}×",
                passed=(kind.rate >= 100 and ratio >= 0.35) if kind is api else None,
            )
        )


def commit_floor(report) -> None:
    """Informative: one durable commit on this server (a one-row INSERT in its own transaction),
    the least any request that records something pays; and the same without the commit."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_commit (id bigserial PRIMARY KEY, payload text)")
    committed, inside = [], []
    for i in range(-20, 200):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_commit (payload) VALUES (%s)", [f"row {i}"])
        if i >= 0:
            committed.append(time.perf_counter() - started)
    with transaction.atomic(), connection.cursor() as cursor:
        for i in range(200):
            started = time.perf_counter()
            cursor.execute("INSERT INTO bench_commit (payload) VALUES (%s)", [f"row {i}"])
            inside.append(time.perf_counter() - started)
    commit_ms = statistics.median(committed) * 1e3
    insert_ms = statistics.median(inside) * 1e3
    report.details["commit_floor"] = {"commit_ms": commit_ms, "insert_ms": insert_ms}
    report.add(
        _setup.Row(
            figure="1b. One durable commit on this server (one-row INSERT, own transaction; "
            "median of 200)",
            target="— (informative: the floor of any request that records something)",
            measured=f"{commit_ms:.2f} ms",
            baseline=f"{insert_ms:.3f} ms: the same INSERT without its commit",
            ratio=f"{commit_ms / insert_ms:.0f}×",
            passed=None,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
