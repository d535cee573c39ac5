#!/usr/bin/env python3
"""Benchmark of ingestion: 100 KiB recordings through `POST /api/v1/recordings`, one process.

Run from the project root (it drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432, and stores the audio in a temporary folder under /tmp; both go at the end):

    .venv/bin/python benchmarks/ingestion.py --quick     # 200 requests each way, ~15 s
    .venv/bin/python benchmarks/ingestion.py             # 1,000 requests each way, ~1 min

Figure 1. The API, with everything it does (API-key authentication, validation, audio inspection,
encryption, storage, the row, its history row and its audit event, one commit), against a bare
Django view that only writes the uploaded file to disk and answers 201, on the same requests
(same multipart body, same size, distinct call ids). Both are called with Django's test `Client`:
in this process, through the whole WSGI handler, middleware stack and URL routing, with no
network or HTTP parsing in between, so the time is the server's own work. The bare view is
mounted next to the portal's URLs in a URLconf module made here (ROOT_URLCONF overridden), so both
go through the same resolver. The multipart bodies are encoded before the clock starts; the two
kinds run in interleaved blocks of 50 (alternating which goes first) after an untimed warm-up, so
that whatever else runs on the machine weighs on both alike.

Target: at least 100 recordings/s, and at least 0.5 of the bare view's rate.

Figure 1c (informative). The recordings storage fsyncs each file and its folder before the row
commits (recordings.storage.DurableFileSystemStorage), which the bare view does not; a third kind
of request, to a bare view that writes and fsyncs the same way, interleaved with the other two,
shows how much of the difference is that durability.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import types
import uuid
from datetime import timedelta
from pathlib import Path

import _setup

BOUNDARY = "CustodiaBenchBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
API_URL = "/api/v1/recordings"
BARE_URL = "/bench/bare-upload"
DURABLE_URL = "/bench/bare-durable-upload"
BLOCK = 50
WARMUP = 20
# 6.4 s of 8 kHz 16-bit mono: 102,400 bytes of samples + the 44-byte header = 100 KiB.
AUDIO_SECONDS = 6.4


def bare_urlconf(bare_root: Path) -> str:
    """A URLconf module: the bare upload view, then every URL of the portal."""
    from django.http import JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from portal import urls as portal_urls

    @csrf_exempt
    def bare_upload(request):
        """Only writes the upload to disk (what any upload endpoint does at the very least)."""
        if request.method != "POST":
            return JsonResponse({"error": "POST only"}, status=405)
        upload = request.FILES.get("audio")
        if upload is None:
            return JsonResponse({"error": "no audio"}, status=400)
        name = f"{uuid.uuid4().hex}.wav"
        with open(bare_root / name, "xb") as output:
            for chunk in upload.chunks():
                output.write(chunk)
        return JsonResponse({"stored": name, "size": upload.size}, status=201)

    @csrf_exempt
    def bare_durable_upload(request):
        """The same, and the file on disk before answering (fsync of the file and its folder),
        as the recordings storage does: informative, the target is against `bare_upload`."""
        upload = request.FILES.get("audio")
        if request.method != "POST" or upload is None:
            return JsonResponse({"error": "POST with audio only"}, status=400)
        name = f"{uuid.uuid4().hex}.wav"
        with open(durable_root / name, "xb") as output:
            for chunk in upload.chunks():
                output.write(chunk)
            output.flush()
            os.fsync(output.fileno())
        folder = os.open(durable_root, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return JsonResponse({"stored": name, "size": upload.size}, status=201)

    durable_root = bare_root.with_name(bare_root.name + "-durable")
    durable_root.mkdir(exist_ok=True)
    module = types.ModuleType("bench_ingestion_urls")
    module.urlpatterns = [
        path(BARE_URL.lstrip("/"), bare_upload),
        path(DURABLE_URL.lstrip("/"), bare_durable_upload),
        *portal_urls.urlpatterns,
    ]
    sys.modules[module.__name__] = module
    return module.__name__


def bodies(kind: str, count: int, first: int, audio: bytes) -> list[bytes]:
    """Multipart bodies as a recorder sends them, each with its own call id and number."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import encode_multipart
    from django.utils import timezone

    started_at = (timezone.now() - timedelta(hours=1)).isoformat()
    result = []
    for i in range(first, first + count):
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


def post_all(client, url: str, payloads: list[bytes], headers: dict) -> list[float]:
    times = []
    for body in payloads:
        started = time.perf_counter()
        response = client.post(url, body, content_type=CONTENT_TYPE, headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 201, (url, response.status_code, response.content[:300])
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 requests each way")
    parser.add_argument("--requests", type=int, help="timed requests each way (default 1,000)")
    parser.add_argument("--profile", action="store_true", help="cProfile 200 extra API requests")
    parser.add_argument("--keep-debug", action="store_true", help="leave settings.DEBUG on")
    parser.add_argument("--keep-database", action="store_true", help="leave custodia_bench_rec")
    parser.add_argument("--time-limit-minutes", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    total = arguments.requests or (200 if arguments.quick else 1_000)
    if not BLOCK <= total <= 20_000:
        parser.error(f"--requests must be between {BLOCK} and 20,000")
    blocks = total // BLOCK
    total = blocks * BLOCK

    with _setup.Run(
        time_limit_minutes=arguments.time_limit_minutes, keep_database=arguments.keep_database
    ) as run:
        _setup.configure_django(run.folder / "recordings", keep_debug=arguments.keep_debug)
        report = _setup.Report("Custodia ingestion benchmark", _setup.machine_info())
        print(f"Custodia ingestion benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        bench(report, run.folder, total, blocks, profile=arguments.profile)
        report.finish()
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


def bench(report, folder: Path, total: int, blocks: int, *, profile: bool) -> None:
    from django.db import connection
    from django.test import Client, override_settings

    from compliance.models import Tenant
    from compliance.services.api_keys import api_key_create
    from recordings.demo_audio import tone_wav
    from recordings.models import Recording

    tenant = Tenant.objects.create(
        name="Bench tenant", slug="bench", country_code="FR", time_zone="Europe/Paris"
    )
    _, token = api_key_create(actor=None, tenant=tenant, name="Bench recorder")
    headers = {"Authorization": f"Bearer {token}"}
    audio = tone_wav(AUDIO_SECONDS, frequency=440.0)
    bare_root = folder / "bare-uploads"
    bare_root.mkdir()

    print(
        f"\n[1] ingestion: {total:,} requests each way of {len(audio):,}-byte WAV recordings, "
        f"blocks of {BLOCK} interleaved, after {WARMUP} untimed of each",
        flush=True,
    )
    started = time.perf_counter()
    api_bodies = bodies("api", WARMUP + total, 0, audio)
    bare_bodies = bodies("bare", WARMUP + total, 0, audio)
    durable_bodies = bodies("durable", WARMUP + total, 0, audio)
    print(
        f"  {3 * len(api_bodies):,} bodies of {len(api_bodies[0]):,} bytes "
        f"encoded in {time.perf_counter() - started:.1f} s (before the clock starts)",
        flush=True,
    )
    client = Client()
    samples: dict[str, list[float]] = {"api": [], "bare": [], "durable": []}
    kinds = {
        "api": (API_URL, api_bodies),
        "bare": (BARE_URL, bare_bodies),
        "durable": (DURABLE_URL, durable_bodies),
    }
    with override_settings(ROOT_URLCONF=bare_urlconf(bare_root)):
        for url, payloads in kinds.values():
            post_all(client, url, payloads[:WARMUP], headers)
        for block in range(blocks):
            low, high = WARMUP + block * BLOCK, WARMUP + (block + 1) * BLOCK
            order = list(kinds)[block % 3 :] + list(kinds)[: block % 3]  # each goes first in turn
            for kind in order:
                url, payloads = kinds[kind]
                samples[kind] += post_all(client, url, payloads[low:high], headers)
        profile_text = ""
        if profile:
            extra = bodies("profiled", 200, 0, audio)
            profiler = cProfile.Profile()
            profiler.enable()
            post_all(client, API_URL, extra, headers)
            profiler.disable()
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(40)
            profile_text = stream.getvalue()

    # Everything the API was asked to store is there: rows and files.
    expected = WARMUP + total + (200 if profile else 0)
    assert Recording.objects.filter(tenant=tenant).count() == expected
    stored = sum(1 for path in (folder / "recordings").rglob("*.cstd") if path.is_file())
    assert stored == expected, (stored, expected)
    assert sum(1 for _ in bare_root.iterdir()) == WARMUP + total
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM recordings_historicalrecording")
        history_rows = cursor.fetchone()[0]
    assert history_rows == expected

    api_seconds, bare_seconds = sum(samples["api"]), sum(samples["bare"])
    api_rate, bare_rate = total / api_seconds, total / bare_seconds
    ratio = api_rate / bare_rate

    def ms(values: list[float], fraction: float) -> float:
        return _setup.percentile(values, fraction) * 1e3

    report.details["ingestion"] = {
        "requests_each_way": total,
        "audio_bytes": len(audio),
        "body_bytes": len(api_bodies[0]),
        "api_seconds": api_seconds,
        "bare_seconds": bare_seconds,
        "api_ms": {"p50": ms(samples["api"], 0.5), "p95": ms(samples["api"], 0.95)},
        "bare_ms": {"p50": ms(samples["bare"], 0.5), "p95": ms(samples["bare"], 0.95)},
    }
    for kind in ("api", "bare", "durable"):
        values = samples[kind]
        print(
            f"    {kind:<5} mean {statistics.fmean(values) * 1e3:6.2f} ms  "
            f"p50 {ms(values, 0.5):6.2f} ms  p95 {ms(values, 0.95):6.2f} ms  "
            f"max {max(values) * 1e3:6.2f} ms",
            flush=True,
        )
    report.add(
        _setup.Row(
            figure=f"1. Ingestion, `POST /api/v1/recordings`, {total:,} WAV recordings of "
            f"{len(audio) / 1024:.0f} KiB, one process (test Client, in-process)",
            target="≥ 100 recordings/s and ≥ 0.5× baseline",
            measured=f"{api_rate:,.0f} recordings/s (p50 {ms(samples['api'], 0.5):.1f} ms, "
            f"p95 {ms(samples['api'], 0.95):.1f} ms)",
            baseline=f"{bare_rate:,.0f} uploads/s (p50 {ms(samples['bare'], 0.5):.1f} ms): bare "
            "view writing the same upload to disk",
            ratio=f"{ratio:.2f}×",
            passed=api_rate >= 100 and ratio >= 0.5,
        )
    )
    durable_rate = total / sum(samples["durable"])
    report.details["ingestion"]["durable_ms"] = {
        "p50": ms(samples["durable"], 0.5),
        "p95": ms(samples["durable"], 0.95),
    }
    report.add(
        _setup.Row(
            figure="1c. The same API requests against a bare view that writes the upload and "
            "fsyncs it and its folder, as the recordings storage does",
            target="— (informative)",
            measured=f"{api_rate:,.0f} recordings/s",
            baseline=f"{durable_rate:,.0f} uploads/s (p50 {ms(samples['durable'], 0.5):.1f} ms)",
            ratio=f"{api_rate / durable_rate:.2f}×",
            passed=None,
        )
    )
    if profile_text:
        print("\n  cProfile of 200 API requests (cumulative):\n")
        print(profile_text)
    commit_floor(report)
    if not (api_rate >= 100 and ratio >= 0.5):
        with override_settings(ROOT_URLCONF=bare_urlconf(bare_root)):
            report.details["diagnosis"] = diagnose(client, headers, audio)


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


def diagnose(client, headers: dict, audio: bytes) -> list[str]:
    """200 more API requests with the ingestion's steps and every SQL statement timed."""
    from django.http.multipartparser import MultiPartParser

    from compliance import api_auth, api_limits
    from kit import sql
    from recordings import api, crypto, storage
    from recordings.services import ingest

    targets = [
        (api, "recording_ingest", "recording_ingest() (the service, all of it)"),
        (api_auth, "api_key_authenticate", "api_key_authenticate()"),
        (
            api_limits,
            "api_call_admit",
            "limits: api_call_admit() (rate, failures, slot: one statement)",
        ),
        (api_limits, "upload_slot_release", "limits: upload_slot_release()"),
        (MultiPartParser, "parse", "multipart parsing (request.FILES)"),
        (ingest, "_validate", "ingest: _validate() (purpose, number, consent)"),
        (ingest, "inspect_audio", "ingest: inspect_audio() (mutagen)"),
        (ingest, "_lookup", "ingest: _lookup() (purpose, policies, erased call: one SELECT)"),
        (ingest, "normalise_number", "ingest: normalise_number() (phonenumbers)"),
        (ingest, "decide", "ingest: decide() (retain_until)"),
        (sql, "insert_with_history", "kit.sql.insert_with_history() (row + history row)"),
        (crypto, "wrap_key", "ingest: crypto.wrap_key()"),
        (storage, "store_encrypted", "storage: store_encrypted() (write + fsync, own thread)"),
        (
            storage.StoringInBackground,
            "wait",
            "ingest: waiting for the file before the commit",
        ),
        (ingest, "event_record", "ingest: event_record()"),
    ]
    extra = bodies("timed", 200, 0, audio)
    _, _, lines = _setup.sections_run(
        "200 API requests", lambda: post_all(client, API_URL, extra, headers), targets
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
