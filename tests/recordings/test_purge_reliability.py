"""The purge killed at any instant, and two purges at once: the end state is always the same.

These tests run `manage.py purge_expired_recordings` as real processes against the test database
and the test's recordings folder, and SIGKILL them at random moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from audit.verification import audit_chain_verify
from compliance.services.legal_holds import legal_hold_place
from recordings.models import DeletionCertificate, PendingFileRemoval, PurgeRun, Recording
from recordings.services.purge.certificates import certificate_is_valid
from recordings.storage import read_plain_audio

from .helpers import ingest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _purge_command(recordings_dir: Path, batch_size: int) -> tuple[list[str], dict[str, str]]:
    database = connection.settings_dict
    host = quote(database["HOST"] or "", safe="")
    port = f":{database['PORT']}" if database["PORT"] else ""
    url = f"postgres://{database['USER']}@{host}{port}/{database['NAME']}"
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "RECORDINGS_ROOT": str(recordings_dir),
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "RECORDINGS_MASTER_KEY": settings.RECORDINGS_MASTER_KEY,
        "DEBUG": "true",
    }
    command = [
        sys.executable,
        "manage.py",
        "purge_expired_recordings",
        "--batch-size",
        str(batch_size),
    ]
    return command, environment


def _wait_for_a_new_run(process: subprocess.Popen, seconds: float = 15.0) -> None:
    known = set(PurgeRun.objects.values_list("pk", flat=True))
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        if PurgeRun.objects.exclude(pk__in=known).exists():
            return
        time.sleep(0.005)


def _population(cast, expired: int, fresh: int, held: int):
    long_ago = timezone.now() - timedelta(days=400)
    doomed = [ingest(cast.acme, started_at=long_ago, seconds=0.02) for _ in range(expired)]
    kept = [ingest(cast.acme, seconds=0.02) for _ in range(fresh)]
    on_hold = [ingest(cast.acme, started_at=long_ago, seconds=0.02) for _ in range(held)]
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case K",
        reason="Litigation",
        recordings=on_hold,
    )
    return doomed, kept + on_hold


def _assert_end_state(doomed, survivors, recordings_dir: Path):
    doomed_ids = {recording.pk for recording in doomed}
    assert not Recording.objects.filter(pk__in=doomed_ids).exists()
    certificates = DeletionCertificate.objects.filter(recording_id__in=doomed_ids)
    assert sorted(certificates.values_list("recording_id", flat=True)) == sorted(doomed_ids)
    assert all(certificate_is_valid(certificate) for certificate in certificates)
    events = Counter(
        AuditEvent.objects.filter(action="recording.purged").values_list("target_id", flat=True)
    )
    assert events == Counter(str(pk) for pk in doomed_ids)  # exactly one event each
    remaining = {recording.pk: recording for recording in Recording.objects.all()}
    assert set(remaining) == {recording.pk for recording in survivors}
    assert all(recording.status == "active" for recording in remaining.values())
    on_disk = {str(path.relative_to(recordings_dir)) for path in recordings_dir.rglob("*.cstd")}
    assert on_disk == {recording.storage_name for recording in remaining.values()}
    assert not PendingFileRemoval.objects.exists()
    for recording in list(remaining.values())[:: max(1, len(remaining) // 10)]:
        assert read_plain_audio(recording)  # still whole and decryptable
    assert audit_chain_verify(full=True).intact


def test_purge_killed_at_random_moments_resumes_to_the_same_end_state(cast, recordings_dir):
    doomed, survivors = _population(cast, expired=1000, fresh=40, held=30)
    command, environment = _purge_command(recordings_dir, batch_size=2)
    randomness = random.Random(1234)  # noqa: S311 - reproducible kill times
    kills = 0
    deadline = time.monotonic() + 240
    while kills < 20 and time.monotonic() < deadline:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill at a random instant of the purge itself: once the run has started, within the
        # next few batches (each a few milliseconds), so that kills fall before, inside and
        # just after the commits of batches, and between a commit and its file removals.
        _wait_for_a_new_run(process)
        time.sleep(randomness.uniform(0.0, 0.3))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 20
    # The kills landed mid-work: runs that had purged some batches were cut off, and resumed.
    interrupted = PurgeRun.objects.filter(status="failed", purged__gt=0).count()
    assert interrupted >= 5, f"only {interrupted} runs were killed while purging"
    final = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert final.returncode == 0, final.stderr
    _assert_end_state(doomed, survivors, recordings_dir)


def test_two_purges_at_once_delete_each_recording_once(cast, recordings_dir):
    doomed, survivors = _population(cast, expired=300, fresh=20, held=10)
    command, environment = _purge_command(recordings_dir, batch_size=7)
    processes = [
        subprocess.Popen(command, cwd=REPO, env=environment, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for process in processes:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors
    _assert_end_state(doomed, survivors, recordings_dir)
