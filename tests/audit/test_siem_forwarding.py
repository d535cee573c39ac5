"""The trail forwarded to a tenant's SOC (docs/architecture.md, "The trail forwarded to a
tenant's SOC"), against real collectors on 127.0.0.1 (tests/audit/collectors.py): each event
once or more, in order, exactly the tenant's; a collector that is down is retried with back-off
and catches up with nothing skipped; a crash between the send and the cursor re-sends."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, transaction
from django.utils import timezone

from audit.forwarding import delivery
from audit.forwarding.services import siem_forwarder_save
from audit.models import AuditEvent, SiemForwarder
from audit.services import event_record
from audit.tasks import forward_audit_trail

from .collectors import HttpsCollector, SyslogCollector, collector_down, self_signed_certificate

pytestmark = pytest.mark.django_db

# RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG
SYSLOG_HEADER = re.compile(
    rb"^<(\d{1,3})>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ custodia - (\S{1,32}) "
    rb'\[custodia@32473 sequence="(\d+)" tenant="([^"]+)" outcome="(allowed|denied)"\] \{'
)


@pytest.fixture(autouse=True)
def _collectors_on_loopback(settings):
    settings.SIEM_ALLOW_PRIVATE_ADDRESSES = True
    settings.SIEM_FORWARD_TIMEOUT_SECONDS = 5
    settings.SIEM_FORWARD_EVERY_SECONDS = 10


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


def _forwarder(cast, **fields) -> SiemForwarder:
    secret = fields.pop("bearer_secret", None)
    forwarder = SiemForwarder(tenant=cast.acme, name="Acme SOC", **fields)
    return siem_forwarder_save(
        actor=cast.alice, forwarder=forwarder, changed=list(fields), bearer_secret=secret
    )


def _interleaved_events(cast, count: int) -> list[int]:
    """`count` events of Acme's, each followed by one of Globex's; Acme's sequences."""
    acme = []
    for index in range(count):
        acme.append(
            event_record(
                action="recording.played",
                tenant=cast.acme,
                target_type="recordings.recording",
                target_id=index,
                purpose="quality",
                outcome="denied" if index % 3 == 0 else "allowed",
            ).sequence
        )
        event_record(action="recording.played", tenant=cast.globex, target_id=index)
    return acme


def _acme_sequences_after(forwarder_start: int, cast) -> list[int]:
    return list(
        AuditEvent.objects.filter(tenant=cast.acme, sequence__gt=forwarder_start)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )


def test_syslog_over_tls_receives_exactly_the_tenants_events_in_order(cast, certificate):
    with SyslogCollector(tls=certificate) as collector:
        forwarder = _forwarder(
            cast,
            kind="syslog",
            host="127.0.0.1",
            port=collector.port,
            use_tls=True,
            ca_certificate=certificate.pem,
        )
        start = forwarder.last_sequence
        _interleaved_events(cast, 7)
        summary = forward_audit_trail.apply().get()
    expected = _acme_sequences_after(start, cast)
    assert summary == {
        "forwarders": [{"forwarder": forwarder.pk, "status": "caught_up", "delivered": 8}]
    }
    # Its own creation first, then the seven events; none of Globex's.
    assert [d["sequence"] for d in collector.documents()] == expected
    assert len(expected) == 8
    assert {d["tenant"]["slug"] for d in collector.documents()} == {"acme"}
    for message, sequence in zip(collector.messages, expected, strict=True):
        header = SYSLOG_HEADER.match(message)
        assert header is not None, message[:200]
        event = AuditEvent.objects.get(sequence=sequence)
        severity = int(header[1]) - 13 * 8
        assert severity == (4 if event.outcome == "denied" else 6)
        assert int(header[3]) == sequence and header[4] == b"acme"
    first = collector.documents()[1]
    event = AuditEvent.objects.get(sequence=first["sequence"])
    assert first["action"] == "recording.played"
    assert first["action_label"] == "Recording played"
    assert first["outcome"] == "denied"
    assert first["target"] == {"type": "recordings.recording", "id": "0", "label": ""}
    assert first["purpose"] == "quality"
    assert first["hash"] == event.hash
    # The tenant's own zone, with its offset (Paris: +01:00 or +02:00).
    assert re.search(r"\+0[12]:00$", first["occurred_at"])
    assert set(first) >= {"actor", "justification", "client_ip", "workstation", "request_id"}
    forwarder.refresh_from_db()
    assert forwarder.last_sequence == expected[-1]
    assert forwarder.consecutive_failures == 0


def test_a_collector_that_is_down_is_retried_with_back_off_and_catches_up(cast):
    with collector_down() as port:
        forwarder = _forwarder(cast, kind="syslog", host="127.0.0.1", port=port, use_tls=False)
        start = forwarder.last_sequence
        _interleaved_events(cast, 5)

        with pytest.raises(CommandError, match="refused a batch"):
            call_command("forward_audit_trail")
        forwarder.refresh_from_db()
        assert forwarder.last_sequence == start
        assert forwarder.consecutive_failures == 1
        assert "ConnectionRefusedError" in forwarder.last_error
        wait = forwarder.next_attempt_at - forwarder.last_error_at
        assert wait == timedelta(seconds=10)

        # Before the next attempt is due, the beat leaves it alone.
        assert forward_audit_trail.apply().get() == {"forwarders": []}
        # Due again, still down: the wait doubles.
        SiemForwarder.objects.filter(pk=forwarder.pk).update(next_attempt_at=timezone.now())
        forward_audit_trail.apply().get()
        forwarder.refresh_from_db()
        assert forwarder.consecutive_failures == 2
        assert forwarder.next_attempt_at - forwarder.last_error_at == timedelta(seconds=20)

    _interleaved_events(cast, 3)  # written while it was down
    with SyslogCollector(port=port) as collector:
        SiemForwarder.objects.filter(pk=forwarder.pk).update(next_attempt_at=timezone.now())
        forward_audit_trail.apply().get()
    assert [d["sequence"] for d in collector.documents()] == _acme_sequences_after(start, cast)
    forwarder.refresh_from_db()
    assert (forwarder.consecutive_failures, forwarder.next_attempt_at) == (0, None)
    assert forwarder.last_sequence == _acme_sequences_after(start, cast)[-1]


def test_a_crash_after_sending_before_the_cursor_moves_sends_again(cast, monkeypatch):
    with SyslogCollector() as collector:
        forwarder = _forwarder(
            cast, kind="syslog", host="127.0.0.1", port=collector.port, use_tls=False
        )
        start = forwarder.last_sequence
        _interleaved_events(cast, 4)
        advance = delivery._cursor_advance

        def crash(*args, **kwargs):
            raise RuntimeError("worker killed after the collector took the batch")

        monkeypatch.setattr(delivery, "_cursor_advance", crash)
        with pytest.raises(RuntimeError):
            delivery.audit_trail_forward(forwarder_id=forwarder.pk)
        forwarder.refresh_from_db()
        assert forwarder.last_sequence == start  # the batch is not counted as delivered
        monkeypatch.setattr(delivery, "_cursor_advance", advance)
        _interleaved_events(cast, 2)
        call_command("forward_audit_trail")
    received = [d["sequence"] for d in collector.documents()]
    expected = _acme_sequences_after(start, cast)
    # At least once: the first batch twice, then everything; no gap, in order after the resend.
    assert received[: len(expected) - 2] == expected[:-2]
    assert received[len(expected) - 2 :] == expected
    assert sorted(set(received)) == expected


def test_an_https_endpoint_gets_json_batches_with_its_bearer_secret(cast, certificate):
    with HttpsCollector(certificate) as collector:
        forwarder = _forwarder(
            cast,
            kind="https",
            url=collector.url,
            ca_certificate=certificate.pem,
            bearer_secret="soc-token-123",
        )
        start = forwarder.last_sequence
        assert "soc-token-123" not in forwarder.bearer_secret_sealed
        _interleaved_events(cast, 3)
        collector.status = 503
        forward_audit_trail.apply().get()
        forwarder.refresh_from_db()
        assert forwarder.last_error.startswith("the endpoint answered HTTP 503")
        assert forwarder.last_sequence == start
        collector.status = 200
        call_command("forward_audit_trail", "--now")
    assert [d["sequence"] for d in collector.documents()] == _acme_sequences_after(start, cast)
    headers, _ = collector.requests[0]
    assert headers["Authorization"] == "Bearer soc-token-123"
    assert headers["Content-Type"] == "application/json"


def test_an_untrusted_certificate_is_a_failure_not_a_delivery(cast, certificate, tmp_path):
    (tmp_path / "other").mkdir()
    other = self_signed_certificate(tmp_path / "other")
    with SyslogCollector(tls=certificate) as collector:
        forwarder = _forwarder(
            cast,
            kind="syslog",
            host="127.0.0.1",
            port=collector.port,
            use_tls=True,
            ca_certificate=other.pem,
        )
        result = delivery.audit_trail_forward(forwarder_id=forwarder.pk)
    assert result.status == "failed"
    assert result.error.startswith("TLS:")
    assert collector.messages == []


def test_a_private_address_is_refused_unless_the_platform_allows_it(cast, settings):
    with SyslogCollector() as collector:
        forwarder = _forwarder(
            cast, kind="syslog", host="127.0.0.1", port=collector.port, use_tls=False
        )
        settings.SIEM_ALLOW_PRIVATE_ADDRESSES = False
        result = delivery.audit_trail_forward(forwarder_id=forwarder.pk)
    assert result.status == "failed"
    assert "private" in result.error
    assert collector.messages == []


def test_the_beat_forwards_every_few_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["forward-audit-trail"]
    assert entry["task"] == "audit.tasks.forward_audit_trail"
    assert entry["schedule"] == settings.SIEM_FORWARD_EVERY_SECONDS == 10


@pytest.mark.django_db(transaction=True)
def test_one_runner_at_a_time_per_forwarder(cast):
    """A second runner (another worker, the command during a beat run) skips a forwarder
    that one is serving, instead of sending the same batch alongside it."""
    with SyslogCollector() as collector:
        forwarder = _forwarder(
            cast, kind="syslog", host="127.0.0.1", port=collector.port, use_tls=False
        )
        _interleaved_events(cast, 2)
        locked, release = threading.Event(), threading.Event()

        def first_runner_holding_the_row():
            try:
                with transaction.atomic():
                    SiemForwarder.objects.select_for_update().get(pk=forwarder.pk)
                    locked.set()
                    release.wait(10)
            finally:
                connections.close_all()

        thread = threading.Thread(target=first_runner_holding_the_row)
        thread.start()
        try:
            assert locked.wait(10)
            assert delivery.audit_trail_forward(forwarder_id=forwarder.pk).status == "busy"
        finally:
            release.set()
            thread.join(10)
        assert collector.messages == []
        assert delivery.audit_trail_forward(forwarder_id=forwarder.pk).delivered == 3


def test_the_command_names_an_unknown_forwarder(cast):
    with pytest.raises(CommandError, match="--forwarder: no SIEM forwarder 999"):
        call_command("forward_audit_trail", "--forwarder", "999")
