"""The alert rules' evaluation killed half-way, and two evaluations at once: the alerts are those
of one clean run over the same events, none raised twice.

`manage.py evaluate_alert_rules` runs as a real process against the test database and is
SIGKILLed while it works through many events; the comparison is with a clean, single run made
afterwards over the same events (alerts deleted and cursors rewound)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from audit.alerts.engine import alert_rules_evaluate
from audit.context import AuditContext
from audit.models import Alert, AlertRuleCursor, AuditEvent
from audit.services import Event, events_record_bulk

from .alerting import WEDNESDAY, at, setting, signature

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _population(tenant, events: int) -> int:
    """Plays by 20 people over the evening (off hours, and bursts above the volume threshold),
    refused sign-ins from 5 addresses, and downloads: many alerts, each widened many times."""
    setting("volume", threshold=5, window_minutes=2)
    setting("download_spike", threshold=30)
    setting("denied_burst", threshold=4, window_minutes=1)
    start = at(WEDNESDAY, 17)
    batch = []
    for i in range(events):
        person = i % 20
        context = AuditContext(
            actor_id=10_000 + person, actor_username=f"agent{person}", client_ip=f"192.0.2.{i % 5}"
        )
        when = start + timedelta(seconds=i // 4)
        if i % 7 == 0:
            batch.append(
                Event(
                    action="auth.login_failed",
                    outcome="denied",
                    occurred_at=when,
                    context=AuditContext(client_ip=f"198.51.100.{i % 5}"),
                )
            )
            continue
        action = "recording.downloaded" if i % 11 == 0 else "recording.played"
        batch.append(
            Event(
                action=action,
                tenant_id=tenant.pk,
                target_type="recordings.recording",
                target_id=str(i % 301),
                occurred_at=when,
                context=context,
            )
        )
    events_record_bulk(batch)
    return AuditEvent.objects.latest("sequence").sequence


def _signatures() -> list[tuple]:
    return sorted(signature(alert) for alert in Alert.objects.all())


def _clean_run_signatures() -> list[tuple]:
    """The alerts one uninterrupted run raises over the same events."""
    Alert.objects.all().delete()
    AlertRuleCursor.objects.update(last_sequence=0, state=b"")
    result = alert_rules_evaluate(chunk_size=5_000)
    assert not result.failed
    return _signatures()


def _command(chunk_size: int) -> tuple[list[str], dict[str, str]]:
    database = connection.settings_dict
    host = quote(database["HOST"] or "", safe="")
    port = f":{database['PORT']}" if database["PORT"] else ""
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{host}{port}/{database['NAME']}",
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "DEBUG": "true",
    }
    command = [sys.executable, "manage.py", "evaluate_alert_rules", "--chunk-size", str(chunk_size)]
    return command, environment


def _progress() -> int:
    return min(AlertRuleCursor.objects.values_list("last_sequence", flat=True), default=0)


def test_an_evaluation_killed_mid_run_and_run_again_raises_what_one_clean_run_raises(cast):
    last = _population(cast.acme, 20_000)
    command, environment = _command(chunk_size=300)
    kills = 0
    for _ in range(3):
        before = _progress()
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        # Kill once this run has committed a few chunks of its own, well before the end.
        while process.poll() is None and time.monotonic() < deadline:
            if _progress() >= before + 900:
                break
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 2, "the evaluation ended before it could be killed"
    assert 0 < _progress() < last
    final = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert final.returncode == 0, final.stderr
    assert _progress() >= last
    interrupted = _signatures()
    assert len(interrupted) > 20
    assert Alert.objects.count() == AuditEvent.objects.filter(action="alert.raised").count()
    assert interrupted == _clean_run_signatures()


def test_two_evaluations_at_once_never_raise_the_same_alert_twice(cast):
    _population(cast.acme, 6_000)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def evaluate() -> None:
        try:
            barrier.wait()
            result = alert_rules_evaluate(chunk_size=100)
            assert not result.failed, result.failed
        except BaseException as error:  # reported by the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    together = _signatures()
    assert len(together) > 10
    raised = AuditEvent.objects.filter(action="alert.raised")
    assert raised.count() == len(together)
    assert together == _clean_run_signatures()
