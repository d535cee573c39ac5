#!/usr/bin/env python3
"""Benchmark of the data-subject export (issue 14): one subject with 1,000 recordings of ~100 KB
(100 MB of audio), exported as one ZIP, against decrypting the same recordings to disk.

Run from the project root. It drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432 (advisory lock 7304001, like the other recordings benchmarks), and keeps the audio,
the exports and the baseline's plain files in a temporary folder under /tmp; all go at the end:

    .venv/bin/python benchmarks/subject_export.py --quick    # 300 recordings, 2 rounds
    .venv/bin/python benchmarks/subject_export.py            # 1,000 recordings, 3 rounds

The population: one tenant, its compliance officer, and `--recordings` recordings of the same
caller, each a ~100 KB WAV (8 kHz, 16-bit) pushed through the real ingestion service (encrypted
with its own data key, its `recording.ingested` event on the trail); an access request for the
caller, its identity verified.

Figure 1. `subject_export_build` (the task's body: subject.json with every recording, consent and
event, README, and every recording's audio decrypted piece by piece into a streamed ZIP, hashed,
encrypted with AES-GCM and written durably to the recordings storage under a partial name, then
renamed), against a bare baseline: the same recordings (read with the same query) decrypted with
`plain_audio_chunks` and each written to its own plain file on disk (no fsync, no ZIP, no hash,
no second encryption). The two alternate, `--rounds` times each (baseline first); the figure is
the ratio of the medians' throughputs (MB of audio per second).
Target: the export at least half the baseline's speed (ratio >= 0.5).

Figure 2. The benchmark process's resident memory (VmRSS, sampled every 5 ms on a thread) during
the export, minus its value just before: the export worker's peak growth. The same is shown for
the baseline. Target: under 64 MB.

After the last round, the last export is decrypted (not timed) and checked: a valid ZIP whose
audio files are the recordings' SHA-256, and whose size and SHA-256 are the export's.

Safety and bounds: at most 5,000 recordings of at most 1 MB; the whole run stops after
`--time-limit-minutes` (20); the export task is never queued (the build runs in this process);
nothing but 127.0.0.1:5432 is reached.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import _setup

MB = 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRss(threading.Thread):
    """The process's RSS, sampled every 5 ms until stopped: its peak above the value at start."""

    def __init__(self):
        super().__init__(daemon=True)
        self.start_rss = rss_bytes()
        self.peak = self.start_rss
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start_rss


def populate(count: int, kilobytes: int):
    from django.utils import timezone

    from compliance.models import Tenant
    from compliance.services.subject_requests import (
        subject_request_receive,
        subject_request_verify_identity,
    )
    from recordings.demo_audio import tone_wav
    from recordings.services.ingest import recording_ingest

    tenant = Tenant.objects.create(
        name="Bench Assurances", slug="bench", country_code="FR", time_zone="Europe/Paris"
    )
    _, officer = _setup.users_create(tenant)
    audio = tone_wav(kilobytes * 1000 / 16000)  # 8 kHz, 2 bytes a sample
    started = time.perf_counter()
    first_call = timezone.now() - timedelta(days=30)
    for index in range(count):
        recording_ingest(
            tenant=tenant,
            api_key=None,
            audio=audio,
            fields={
                "call_id": f"bench-{index:05d}",
                "direction": "inbound" if index % 3 else "outbound",
                "started_at": (first_call + timedelta(minutes=index)).isoformat(),
                "customer_number": "+33612345678",
                "purpose": "quality",
            },
        )
    print(
        f"  ({count} recordings of {len(audio) / 1000:.0f} KB ingested in "
        f"{time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    request = subject_request_receive(
        actor=officer,
        tenant=tenant,
        kind="access",
        customer_numbers=["+33612345678"],
        channel="email",
    )
    request = subject_request_verify_identity(actor=officer, request=request, method="call_back")
    return officer, request, len(audio)


def decrypt_to_disk(request, folder: Path) -> tuple[float, int]:
    """The baseline: the subject's recordings (the finder's query), each decrypted piece by
    piece and written to a plain file."""
    from recordings.storage import plain_audio_chunks
    from recordings.subject_requests.finder import subject_data_find

    folder.mkdir()
    written = 0
    started = time.perf_counter()
    for recording in subject_data_find(request).recordings.iterator(chunk_size=500):
        with open(folder / f"{recording.pk}.wav", "wb") as output:
            for piece in plain_audio_chunks(recording):
                output.write(piece)
                written += len(piece)
    return time.perf_counter() - started, written


def export(officer, request):
    from recordings.subject_requests.export import subject_export_build, subject_export_start

    created = subject_export_start(actor=officer, request=request)
    started = time.perf_counter()
    built = subject_export_build(export_id=created.pk)
    return time.perf_counter() - started, built


def check(built, expected_audio: dict[str, str], folder: Path) -> None:
    """Not timed: the export decrypts to a valid ZIP holding each recording's original audio."""
    from recordings.subject_requests.export import subject_export_chunks

    path = folder / "check.zip"
    digest = hashlib.sha256()
    with open(path, "wb") as output:
        for piece in subject_export_chunks(built):
            digest.update(piece)
            output.write(piece)
    assert path.stat().st_size == built.size_bytes and digest.hexdigest() == built.sha256
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("subject.json"))
        assert len(document["recordings"]) == len(expected_audio)
        for entry in document["recordings"]:
            with archive.open(entry["audio_file"]) as member:
                audio = hashlib.sha256()
                while chunk := member.read(MB):
                    audio.update(chunk)
            assert audio.hexdigest() == expected_audio[entry["call_id"]], entry["call_id"]
    path.unlink()
    print(f"  (checked: {len(expected_audio)} audio files, ZIP of {built.size_bytes / MB:.1f} MiB)")


def bench(report: _setup.Report, folder: Path, count: int, kilobytes: int, rounds: int) -> None:
    from recordings import tasks
    from recordings.models import Recording
    from recordings.storage import recordings_storage

    # The build runs here, timed: the task the request's page would queue is not sent.
    tasks.build_subject_export.delay = lambda *args, **kwargs: None
    officer, request, audio_size = populate(count, kilobytes)
    audio_mb = count * audio_size / MB
    expected = dict(Recording.objects.values_list("call_id", "audio_sha256"))
    _setup.checkpoint(_setup.DB_NAME)
    baseline_times, baseline_growth, export_times, export_growth = [], [], [], []
    built = None
    for round_number in range(1, rounds + 1):
        plain = folder / f"plain-{round_number}"
        with PeakRss() as memory:
            seconds, written = decrypt_to_disk(request, plain)
        assert written == count * audio_size
        baseline_times.append(seconds)
        baseline_growth.append(memory.growth)
        shutil.rmtree(plain)
        if built is not None:
            recordings_storage().delete(built.storage_name)  # the previous round's ZIP
        with PeakRss() as memory:
            seconds, built = export(officer, request)
        assert built.status == "ready", built.failure
        export_times.append(seconds)
        export_growth.append(memory.growth)
        print(
            f"  round {round_number}: decrypt to disk {baseline_times[-1]:.2f} s "
            f"(+{baseline_growth[-1] / MB:.1f} MiB), export {export_times[-1]:.2f} s "
            f"(+{export_growth[-1] / MB:.1f} MiB) [load {_setup.load_average()}]",
            flush=True,
        )
    check(built, expected, folder)
    baseline, measured = statistics.median(baseline_times), statistics.median(export_times)
    ratio = baseline / measured  # throughput ratio: the same megabytes in both
    report.add(
        _setup.Row(
            figure=f"1. Data-subject export, {count:,} recordings of {audio_size / 1000:.0f} KB "
            f"({audio_mb:.0f} MiB of audio), median of {rounds}",
            target="≥ 0.5× the baseline's speed",
            measured=f"{audio_mb / measured:.0f} MiB/s ({measured:.2f} s; ZIP "
            f"{built.size_bytes / MB:.0f} MiB)",
            baseline=f"{audio_mb / baseline:.0f} MiB/s ({baseline:.2f} s; the same recordings "
            "decrypted to plain files)",
            ratio=f"{ratio:.2f}×",
            passed=ratio >= 0.5,
        )
    )
    peak = max(export_growth)
    report.add(
        _setup.Row(
            figure="2. Peak RSS growth of the process building the export (largest of the rounds)",
            target="< 64 MB",
            measured=f"+{peak / MB:.1f} MiB",
            baseline=f"+{max(baseline_growth) / MB:.1f} MiB decrypting to disk",
            ratio="—",
            passed=peak < 64 * 1000 * 1000,
        )
    )
    report.details.update(
        baseline_seconds=baseline_times,
        export_seconds=export_times,
        baseline_rss_growth=baseline_growth,
        export_rss_growth=export_growth,
        zip_bytes=built.size_bytes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 recordings, 2 rounds")
    parser.add_argument("--recordings", type=int, help="recordings of the subject (default 1,000)")
    parser.add_argument("--kilobytes", type=int, default=100, help="size of each (default 100)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3)")
    parser.add_argument("--time-limit-minutes", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    count = arguments.recordings or (300 if arguments.quick else 1_000)
    rounds = arguments.rounds or (2 if arguments.quick else 3)
    if not 1 <= count <= 5_000 or not 1 <= arguments.kilobytes <= 1_000 or not 1 <= rounds <= 9:
        parser.error("--recordings 1 to 5,000, --kilobytes 1 to 1,000, --rounds 1 to 9")

    with _setup.Run(time_limit_minutes=arguments.time_limit_minutes) as run:
        _setup.configure_django(run.folder / "recordings")
        report = _setup.Report("Custodia data-subject export benchmark", _setup.machine_info())
        print(f"Custodia data-subject export benchmark, {_setup.DATE}")
        print(json.dumps(report.machine))
        _setup.database_recreate()
        with tempfile.TemporaryDirectory(dir=run.folder) as scratch:
            bench(report, Path(scratch), count, arguments.kilobytes, rounds)
        report.finish()
        if arguments.json:
            payload = {"rows": [vars(row) for row in report.rows], "details": report.details}
            arguments.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
