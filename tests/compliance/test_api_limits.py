"""The API's limits (compliance/api_auth.py): failed authentications collapsed into one event per
burst and throttled per key prefix and address, a rate limit per key, and a cap on the uploads
a key has in flight."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone

from audit.models import AuditEvent
from compliance import api_limits, tasks
from compliance.models import ApiAuthFailureWindow
from compliance.services.api_keys import api_key_create
from kit import locks
from recordings.models import Recording

from ..audio import tone_wav

URL = "/api/v1/recordings"


def _call(call_id: str = "call-001") -> dict:
    return {
        "call_id": call_id,
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "+33 6 12 34 56 78",
        "purpose": "quality",
        "audio": SimpleUploadedFile("call.wav", tone_wav(0.2), content_type="audio/wav"),
    }


def push(client: Client, token: str, *, call_id: str = "call-001", address: str = "127.0.0.1"):
    return client.post(
        URL, _call(call_id), headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=address
    )


@pytest.fixture
def acme_key(cast):
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")


def _wrong(api_key) -> str:
    return f"cst_{api_key.prefix}_guessed-secret"


def _failure_events():
    return AuditEvent.objects.filter(action="api.auth_failed")


def _summaries():
    return AuditEvent.objects.filter(action="api.auth_failures_counted")


def _wait_for_a_fresh_window(seconds: int) -> None:
    """Start a test at the beginning of a fixed window, so that it does not straddle two (short
    windows are waited for; a long one only when it is about to end)."""
    if seconds <= 3 or time.time() % seconds > seconds - 5:
        time.sleep(seconds - time.time() % seconds + 0.05)


# Failed authentications ---------------------------------------------------------------------


@pytest.mark.django_db
def test_burst_of_failed_authentications_leaves_one_event_then_one_count(cast, acme_key, settings):
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 3
    settings.API_AUTH_FAILURE_LIMIT = 1000
    _wait_for_a_fresh_window(3)
    api_key, _ = acme_key
    client = Client()
    for _ in range(20):
        assert push(client, _wrong(api_key)).status_code == 401
    first = _failure_events().get()
    assert first.tenant_id == cast.acme.pk
    assert first.extra["api_key"] == api_key.prefix
    assert not _summaries().exists()

    time.sleep(3 - time.time() % 3 + 0.05)
    # The next failure after the window has closed writes the closed window's count.
    assert push(client, _wrong(api_key)).status_code == 401
    summary = _summaries().get()
    assert summary.tenant_id == cast.acme.pk
    assert summary.outcome == "denied"
    assert summary.extra["count"] == 20
    assert summary.extra["api_key"] == api_key.prefix
    assert summary.extra["client_ips"] == {"127.0.0.1": 20}
    assert _failure_events().count() == 2  # the new window's first failure


@pytest.mark.django_db
def test_closed_window_is_counted_by_the_periodic_task_without_a_further_failure(
    cast, acme_key, settings
):
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 3
    settings.API_AUTH_FAILURE_LIMIT = 1000
    _wait_for_a_fresh_window(3)
    api_key, _ = acme_key
    for _ in range(5):
        push(Client(), _wrong(api_key))
    assert tasks.count_api_auth_failures()["windows"] == 0  # still open
    time.sleep(3 - time.time() % 3 + 0.05)

    assert tasks.count_api_auth_failures() == {"windows": 1, "failures": 5}
    assert _summaries().get().extra["count"] == 5
    # Written once: a second run, or a later failure, does not count the window again.
    assert tasks.count_api_auth_failures() == {"windows": 0, "failures": 0}
    push(Client(), _wrong(api_key))
    assert _summaries().count() == 1


@pytest.mark.django_db
def test_a_single_failure_needs_no_summary(cast, acme_key, settings):
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 2
    _wait_for_a_fresh_window(2)
    push(Client(), _wrong(acme_key[0]))
    time.sleep(2 - time.time() % 2 + 0.05)
    tasks.count_api_auth_failures()
    assert not _summaries().exists()
    assert _failure_events().count() == 1


@pytest.mark.django_db
def test_unknown_keys_are_collapsed_per_address_whatever_their_prefix(cast, settings):
    settings.API_AUTH_FAILURE_LIMIT = 1000
    for index in range(20):
        push(Client(), f"cst_{index:08x}_madeup")
    assert _failure_events().count() == 1


@pytest.mark.django_db
def test_past_the_limit_the_answer_is_429_before_any_key_check(cast, acme_key, settings):
    settings.API_AUTH_FAILURE_LIMIT = 5
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 300
    _wait_for_a_fresh_window(300)
    api_key, token = acme_key
    client = Client()
    for _ in range(5):
        assert push(client, _wrong(api_key)).status_code == 401

    # Even the right secret is not checked from this address for this key now.
    blocked = push(client, token)
    assert blocked.status_code == 429
    assert blocked.json()["field"] == "Authorization"
    assert 0 < int(blocked["Retry-After"]) <= 300
    assert not Recording.objects.exists()
    # The recorder at another address is not affected.
    assert push(client, token, address="192.0.2.7").status_code == 201
    assert _failure_events().count() == 1


@pytest.mark.django_db
def test_a_failure_that_ends_after_its_window_was_counted_counts_in_the_next(
    cast, acme_key, settings, monkeypatch
):
    """A request that started before a window's end but fails after its count went on the trail
    must not reopen that window (a count of 1 and a second 'first' event for it)."""
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 3
    settings.API_AUTH_FAILURE_LIMIT = 1000
    _wait_for_a_fresh_window(3)
    api_key, _ = acme_key
    started = timezone.now()
    closed_window = api_limits.window_start(started, 3)
    for _ in range(5):
        push(Client(), _wrong(api_key))
    time.sleep(3 - time.time() % 3 + 0.05)
    assert tasks.count_api_auth_failures() == {"windows": 1, "failures": 5}

    # The slow request: its clock was read when it arrived, in the window now closed.
    monkeypatch.setattr("compliance.api_auth.timezone", SimpleNamespace(now=lambda: started))
    assert push(Client(), _wrong(api_key)).status_code == 401
    assert not ApiAuthFailureWindow.objects.filter(window_start=closed_window).exists()
    assert ApiAuthFailureWindow.objects.get().window_start > closed_window
    assert _summaries().count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_processes_closing_the_same_window_write_its_count_once(cast, acme_key, settings):
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 2
    settings.API_AUTH_FAILURE_LIMIT = 1000
    _wait_for_a_fresh_window(2)
    api_key, _ = acme_key
    for _ in range(4):
        push(Client(), _wrong(api_key))
    time.sleep(2 - time.time() % 2 + 0.05)

    first_has_counted, release_first = threading.Event(), threading.Event()
    results = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = api_limits.api_auth_failures_summarise()
                first_has_counted.set()
                release_first.wait(10)  # holds its transaction open while the second runs
        finally:
            connection.close()

    def second() -> None:
        try:
            results["second"] = api_limits.api_auth_failures_summarise()
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_has_counted.wait(10)
    threads[1].start()
    time.sleep(0.5)  # the second now waits on the rows the first is deleting
    release_first.set()
    for thread in threads:
        thread.join(10)

    assert sorted(results.values()) == [(0, 0), (1, 4)]
    assert [event.extra["count"] for event in _summaries()] == [4]


@pytest.mark.django_db
def test_garbage_from_a_shared_address_does_not_lock_out_a_valid_key(cast, acme_key, settings):
    """A contact centre's recorder behind a NAT keeps working when an infected PC behind the
    same address sprays made-up keys; the made-up keys themselves are stopped."""
    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 300
    _wait_for_a_fresh_window(300)
    api_key, token = acme_key
    _, globex_token = api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex recorder")
    client = Client()
    for index in range(3):
        assert push(client, f"junk{index}", address="10.9.9.9").status_code == 401
    assert push(client, "cst_0badc0de_madeup", address="10.9.9.9").status_code == 429
    # A wrong secret of a real key is refused too while the shared bucket is full.
    assert push(client, _wrong(api_key), address="10.9.9.9").status_code == 429

    assert push(client, globex_token, call_id="g-1", address="10.9.9.9").status_code == 201
    assert push(client, token, call_id="a-1", address="10.9.9.9").status_code == 201
    assert Recording.objects.count() == 2


@pytest.mark.django_db
def test_addresses_of_one_ipv6_64_share_one_bucket(cast, settings):
    """An IPv6 client holds a whole /64: walking through its addresses is one client."""
    settings.API_AUTH_FAILURE_LIMIT = 20
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 300
    _wait_for_a_fresh_window(300)
    client = Client()
    answers = [
        push(client, "cst_0badc0de_madeup", address=f"2001:db8::{index:x}").status_code
        for index in range(1, 31)
    ]
    assert answers == [401] * 20 + [429] * 10
    event = _failure_events().get()
    # The trail keeps the exact address; only the bucket is the /64.
    assert event.client_ip == "2001:db8::1"
    # Another /64 is another client.
    assert push(client, "cst_0badc0de_madeup", address="2001:db8:0:1::1").status_code == 401


@pytest.mark.django_db
def test_one_key_tried_from_many_addresses_leaves_one_event_then_one_count(
    cast, acme_key, settings
):
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 3
    _wait_for_a_fresh_window(3)
    api_key, _ = acme_key
    client = Client()
    addresses = [f"2001:db8:{index:x}::1" for index in range(1, 16)]
    addresses += [f"198.51.100.{index}" for index in range(1, 11)]
    for address in addresses:
        assert push(client, _wrong(api_key), address=address).status_code == 401
    first = _failure_events().get()
    assert first.tenant_id == cast.acme.pk
    assert first.client_ip == "2001:db8:1::1"

    time.sleep(3 - time.time() % 3 + 0.05)
    assert tasks.count_api_auth_failures() == {"windows": 1, "failures": 25}
    summary = _summaries().get()
    assert summary.tenant_id == cast.acme.pk
    assert summary.extra["count"] == 25
    assert summary.extra["addresses"] == 25
    assert summary.extra["client_ips"]["2001:db8:1::/64"] == 1
    assert summary.extra["client_ips"]["198.51.100.10"] == 1


# Rate limit per key -------------------------------------------------------------------------


@pytest.mark.django_db
def test_key_over_its_rate_limit_gets_429_with_retry_after(cast, acme_key, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    _wait_for_a_fresh_window(60)
    _, token = acme_key
    client = Client()
    for index in range(3):
        assert push(client, token, call_id=f"call-{index}").status_code == 201

    refused = push(client, token, call_id="call-3")
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "this API key made more than 3 calls in this minute; retry after the time given "
        "in Retry-After",
        "field": "Authorization",
    }
    assert 0 < int(refused["Retry-After"]) <= 60
    assert Recording.objects.count() == 3
    # Another tenant's key has its own budget.
    _, globex_token = api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex recorder")
    assert push(client, globex_token, call_id="call-3").status_code == 201


def _admit(token: str):
    prefix = token.split("_")[1]
    return api_limits.api_call_admit(
        prefix=prefix, token=token, client_ip="127.0.0.1", upload=False, now=timezone.now()
    )


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_rate_limit_counter_relaxes_its_own_commit_only(cast, acme_key):
    """The counter's statement commits without waiting for the WAL flush, so that the calls of
    one key do not queue behind each other's flush; the session's later transactions, the
    trail's events among them, keep the server's setting."""
    api_key, token = acme_key
    _wait_for_a_fresh_window(60)
    configured = _synchronous_commit()
    first, second = _admit(token), _admit(token)
    assert (first.api_key_id, first.calls, second.calls) == (api_key.pk, 1, 2)
    assert _synchronous_commit() == configured
    # What the statement does with what a caller in autocommit passes, seen inside a
    # transaction held open around it (in autocommit it ends with the statement).
    parameters = api_limits.admit_parameters(
        prefix=token.split("_")[1],
        token=token,
        client_ip="127.0.0.1",
        upload=False,
        now=timezone.now(),
        relaxed=True,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(api_limits._admit_sql(), parameters)
        assert _synchronous_commit() == "off"


@pytest.mark.django_db
def test_the_rate_limit_counter_leaves_a_callers_transaction_durable(cast, acme_key):
    _, token = acme_key
    configured = _synchronous_commit()
    with transaction.atomic():
        assert _admit(token).calls == 1
        # Still in the caller's transaction: its commit must wait for the flush as before.
        assert _synchronous_commit() == configured


# Uploads in flight per key ------------------------------------------------------------------


def _upload_slots_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            # This test database's: another test run's (a parallel worker's) are not ours.
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [locks.UPLOAD_SLOT_NAMESPACE],
        )
        return cursor.fetchone()[0]


def _open_upload(address: tuple[str, int], token: str, call_id: str) -> tuple[socket.socket, bytes]:
    """Send an upload's headers and the first half of its body; return the socket and the rest."""
    data = _call(call_id)
    body = encode_multipart(BOUNDARY, data)
    head = (
        f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {MULTIPART_CONTENT}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    sock = socket.create_connection(address, timeout=30)
    half = len(body) // 2
    sock.sendall(head + body[:half])
    return sock, body[half:]


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _wait_for_slots(count: int) -> None:
    deadline = time.monotonic() + 20
    while _upload_slots_held() != count:
        assert time.monotonic() < deadline, f"{_upload_slots_held()} upload slots held"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_one_upload_more_than_a_key_may_have_in_flight_is_refused_at_once(
    cast, live_server, settings, recordings_dir
):
    settings.API_UPLOADS_IN_FLIGHT_PER_KEY = 2
    _, token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")
    parsed = urlsplit(live_server.url)
    address = (parsed.hostname, parsed.port)

    # Two uploads in flight: their bodies are half sent, so both hold a slot while reading.
    first = _open_upload(address, token, "call-1")
    second = _open_upload(address, token, "call-2")
    _wait_for_slots(2)

    # The third is answered at once, without waiting for either of the others.
    third, rest = _open_upload(address, token, "call-3")
    third.sendall(rest)
    status, headers, body = _answer(third)
    assert status == 429
    assert headers["retry-after"] == "1"
    assert b'"field": "Authorization"' in body

    for sock, rest in (first, second):
        sock.sendall(rest)
    assert [_answer(sock)[0] for sock, _ in (first, second)] == [201, 201]
    # Nothing of the refused upload was written; every slot was given back.
    assert sorted(Recording.objects.values_list("call_id", flat=True)) == ["call-1", "call-2"]
    assert len([path for path in recordings_dir.rglob("*") if path.is_file()]) == 2
    _wait_for_slots(0)


@pytest.mark.django_db
def test_upload_slot_is_given_back_when_the_upload_is_refused(cast, acme_key, settings):
    settings.API_UPLOADS_IN_FLIGHT_PER_KEY = 1
    _, token = acme_key
    client = Client()
    data = _call("call-1")
    data["audio"] = SimpleUploadedFile("call.wav", b"not audio", content_type="audio/wav")
    refused = client.post(URL, data, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 415
    assert _upload_slots_held() == 0
    assert push(client, token, call_id="call-2").status_code == 201
    assert _upload_slots_held() == 0


@pytest.mark.django_db
def test_slot_of_a_worker_whose_connection_died_is_free_again(cast, acme_key, settings):
    """A crashed worker's database session ends, and PostgreSQL releases its slot with it."""
    settings.API_UPLOADS_IN_FLIGHT_PER_KEY = 1
    api_key, token = acme_key
    database = connection.settings_dict
    other = psycopg.connect(
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=database["USER"],
        dbname=database["NAME"],
        autocommit=True,
    )
    other.execute(
        "SELECT pg_advisory_lock(%s, %s)",
        [locks.UPLOAD_SLOT_NAMESPACE, locks.upload_slot_key(api_key.pk, 1)],
    )
    assert push(Client(), token).status_code == 429
    other.close()
    _wait_for_slots(0)
    assert push(Client(), token).status_code == 201
