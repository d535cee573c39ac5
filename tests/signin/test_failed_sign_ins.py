"""Failed sign-ins are bounded: an address that sprays many account names is locked too (a
second tier of django-axes, higher than the account's), and the trail gets one event per
account and window, then one count, whatever the number of tries."""

from __future__ import annotations

import time

import pytest

from audit.models import AuditEvent
from signin import tasks

from .conftest import password_sign_in

pytestmark = pytest.mark.django_db


def _events(action: str):
    return AuditEvent.objects.filter(action=action)


def _next_window(seconds: int) -> None:
    time.sleep(seconds - time.time() % seconds + 0.05)


def test_spraying_names_from_one_address_locks_that_address(client, alice, cast, settings):
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 10
    answers = [
        password_sign_in(client, f"nobody{index}", "Summer2026!", REMOTE_ADDR="203.0.113.9")
        for index in range(11)
    ]
    assert [answer.status_code for answer in answers] == [200] * 9 + [429] * 2
    # The right password from that address is refused too, until the cool-off ends.
    assert password_sign_in(client, "alice", REMOTE_ADDR="203.0.113.9").status_code == 429
    locked = _events("auth.locked_out").get()
    assert locked.extra["tier"] == "address"
    assert locked.extra["failures"] == 10
    assert locked.client_ip == "203.0.113.9"
    # Another address is another client.
    assert password_sign_in(client, "alice", REMOTE_ADDR="198.51.100.4").status_code == 302


def test_an_address_is_locked_later_than_an_account(client, alice, cast, settings):
    """Agents behind one NAT mistype their passwords: a few failures from the floor's address
    must not lock the whole floor out."""
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 30
    for index in range(12):
        assert password_sign_in(client, f"agent{index}", "typo").status_code == 200
    assert password_sign_in(client, "alice").status_code == 302


def test_a_burst_of_failed_sign_ins_leaves_one_event_per_account_then_one_count(
    client, alice, cast, settings
):
    settings.SIGNIN_FAILURE_WINDOW_SECONDS = 3
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 1000
    _next_window(3)
    for index in range(12):
        password_sign_in(client, f"nobody{index}", "wrong password")
    answers = [password_sign_in(client, "alice", "wrong password") for _ in range(12)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [429] * 8

    failed = _events("auth.login_failed")
    assert failed.count() == 2
    assert {event.target_label for event in failed} == {"(unknown account)", "alice"}
    assert _events("auth.locked_out").count() == 1

    _next_window(3)
    assert tasks.count_sign_in_failures() == {"windows": 2, "failures": 24}
    counted = {event.target_label: event for event in _events("auth.login_failures_counted")}
    assert counted["(unknown account)"].extra["count"] == 12
    assert counted["(unknown account)"].tenant_id is None
    assert counted["alice"].extra["count"] == 12
    assert counted["alice"].extra["refused_locked"] >= 7
    assert counted["alice"].extra["client_ips"] == {"127.0.0.1": 12}
    assert counted["alice"].tenant_id == cast.acme.pk
    assert counted["alice"].outcome == "denied"
    # Written once.
    assert tasks.count_sign_in_failures() == {"windows": 0, "failures": 0}
    # Nothing typed in place of an unknown name is kept.
    assert not AuditEvent.objects.filter(target_label__startswith="nobody").exists()


def test_one_account_tried_from_many_addresses_leaves_one_event(client, alice, cast, settings):
    settings.SIGNIN_FAILURE_WINDOW_SECONDS = 300
    for index in range(1, 5):
        password_sign_in(client, "alice", "wrong password", REMOTE_ADDR=f"2001:db8:{index}::1")
    assert _events("auth.login_failed").count() == 1
