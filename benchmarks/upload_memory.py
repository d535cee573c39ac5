#!/usr/bin/env python3
"""Benchmark of the web server's memory under large uploads: ten parallel ~49 MB WAV uploads to
`POST /api/v1/recordings`, served by gunicorn as docker-compose runs it.

Run from the project root (it drops and creates its own database, `custodia_bench_rec` on
127.0.0.1:5432, stores the audio in a temporary folder under /tmp, and starts gunicorn on a free
port of 127.0.0.1; all three go at the end):

    .venv/bin/python benchmarks/upload_memory.py            # ~1 minute

Figure 4. gunicorn with docker-compose's command (`gunicorn portal.wsgi --workers 3`, bound to
127.0.0.1 here) serves a tenant with one API key. The script sends one small upload to warm the
workers, samples the resident memory (RSS) of the master and its workers every 20 ms, then sends
`--uploads` uploads of `--megabytes` MB at once, each from its own thread and connection, with
its body streamed from a file on disk (the client's memory is not the server's). The figure is
the peak of the sum of the RSS of every gunicorn process during the uploads; its baseline is the
same sum at rest after the warm-up. Every upload must be answered 201.

gunicorn's sync workers serve one request each, so three uploads are read at a time and the
others wait in the listen queue: the peak above rest is what three uploads in progress cost.
Target: bounded memory, well under one body per worker above the resting sum.

Safety and bounds: at most 16 uploads of at most 50 MB; every request has a 300 s timeout; the
whole run stops after `--time-limit-minutes` (5); it talks to nothing but 127.0.0.1; gunicorn is
stopped (SIGTERM, then SIGKILL) whatever happens.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup  # noqa: E402

PYTHON = sys.executable
GUNICORN_WORKERS = 3  # docker-compose.yml's web command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_wav(path: Path, megabytes: float) -> None:
    """A valid 8 kHz 16-bit mono WAV of about `megabytes` MB: one second of tone, repeated."""
    rate = 8000
    second = struct.pack(
        f"<{rate}h", *(int(12000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(rate))
    )
    seconds = int(megabytes * 1_000_000 / len(second))
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(rate)
        for _ in range(seconds):
            output.writeframesraw(second)


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def gunicorn_pids(master: int) -> list[int]:
    pids = [master]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == master:
                pids.append(int(entry))
    return pids


class Sampler(threading.Thread):
    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master = master
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak = max(self.peak, rss_bytes(gunicorn_pids(self.master)))
            time.sleep(0.02)


def upload(port: int, token: str, audio: Path, call_id: str) -> int:
    boundary = uuid.uuid4().hex
    fields = {
        "call_id": call_id,
        "direction": "inbound",
        "started_at": "2026-11-28T09:15:00+01:00",
        "customer_number": "+33612345678",
        "purpose": "quality",
    }
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="call.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + audio.stat().st_size + len(tail)

    def body():
        yield head
        with audio.open("rb") as source:
            while chunk := source.read(1 << 20):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request(
            "POST",
            "/api/v1/recordings",
            body=body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=10, help="parallel uploads (1 to 16)")
    parser.add_argument("--megabytes", type=float, default=49.0, help="size of each (1 to 50)")
    parser.add_argument("--time-limit-minutes", type=int, default=5)
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.uploads <= 16 or not 1 <= arguments.megabytes <= 50:
        parser.error("--uploads must be 1 to 16 and --megabytes 1 to 50")

    with _setup.Run(time_limit_minutes=arguments.time_limit_minutes) as run:
        recordings_root = run.folder / "recordings"
        _setup.configure_django(recordings_root)
        print("Custodia upload memory benchmark (gunicorn)", flush=True)
        _setup.database_recreate()
        from compliance.models import Tenant
        from compliance.services.api_keys import api_key_create

        tenant = Tenant.objects.create(
            name="Bench tenant", slug="bench", country_code="FR", time_zone="Europe/Paris"
        )
        _, token = api_key_create(actor=None, tenant=tenant, name="Bench recorder")
        audio = run.folder / "call.wav"
        write_wav(audio, arguments.megabytes)
        small = run.folder / "small.wav"
        write_wav(small, 0.1)

        port = free_port()
        environment = dict(os.environ, LOG_LEVEL="WARNING")
        command = [
            *(PYTHON, "-m", "gunicorn", "portal.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(GUNICORN_WORKERS)),
            *("--timeout", "300"),
        ]
        server = subprocess.Popen(command, cwd=_setup.ROOT, env=environment)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("gunicorn did not start") from None
                    time.sleep(0.3)
            # Warm every worker (each loads Django on its first request).
            for index in range(2 * GUNICORN_WORKERS):
                status = upload(port, token, small, f"warm-{index}")
                assert status == 201, f"warm-up upload answered {status}"
            time.sleep(1)
            resting = rss_bytes(gunicorn_pids(server.pid))
            sampler = Sampler(server.pid)
            sampler.start()
            statuses: list[int] = []

            def send(index: int) -> None:
                statuses.append(upload(port, token, audio, f"big-{index}"))

            started = time.perf_counter()
            threads = [threading.Thread(target=send, args=(i,)) for i in range(arguments.uploads)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            seconds = time.perf_counter() - started
            time.sleep(0.2)
            sampler.stopping.set()
            sampler.join()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        mb = 1024 * 1024
        size = audio.stat().st_size
        print(
            f"  {arguments.uploads} parallel uploads of {size / 1e6:.1f} MB in {seconds:.1f} s, "
            f"answers {sorted(statuses)}",
            flush=True,
        )
        print(
            f"  gunicorn RSS (master + {GUNICORN_WORKERS} workers): "
            f"at rest {resting / mb:.0f} MiB, "
            f"peak during the uploads {sampler.peak / mb:.0f} MiB "
            f"(+{(sampler.peak - resting) / mb:.0f} MiB, "
            f"{(sampler.peak - resting) / arguments.uploads / mb:.1f} MiB per upload) "
            f"[load {_setup.load_average()}]",
            flush=True,
        )
        if sorted(statuses) != [201] * arguments.uploads:
            print("  FAIL: not every upload was answered 201", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
