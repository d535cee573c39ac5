"""The context of docs/architecture.md, invariant 4: every event knows who, from which IP and
workstation, in which request."""

from __future__ import annotations

import pytest
from django.test import override_settings

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _sign_in(
    client, username: str, password: str = "custodia-demo", remote_addr: str = "", **headers
):
    # REMOTE_ADDR is the connection's address, not a header: it goes into the WSGI environ.
    environ = {"REMOTE_ADDR": remote_addr} if remote_addr else {}
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        headers=headers,
        **environ,
    )


def test_sign_in_is_recorded_with_ip_workstation_and_request_id(cast, client):
    response = _sign_in(
        client,
        "bob",
        **{"X-Workstation-Id": "WS-QA-07", "X-Request-Id": "req-123", "User-Agent": "Firefox/140"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor_id == cast.bob.pk
    assert event.actor_username == "bob"
    assert event.tenant_id == cast.acme.pk
    assert event.workstation_id == "WS-QA-07"
    assert event.request_id == "req-123"
    assert event.user_agent == "Firefox/140"
    assert event.client_ip == "127.0.0.1"
    assert response.headers["X-Request-Id"] == "req-123"


def test_a_nul_character_in_a_traced_header_is_kept_visible_not_a_500(cast, client):
    """PostgreSQL cannot store NUL: the request is served and traced, the NUL shown as U+FFFD."""
    response = _sign_in(
        client, "bob", **{"X-Workstation-Id": "WS-\x0007", "User-Agent": "Firefox\x00/140"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.workstation_id, event.user_agent) == ("WS-\ufffd07", "Firefox\ufffd/140")


def test_failed_sign_in_is_a_denied_event(cast, client):
    response = _sign_in(client, "bob", password="wrong")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.outcome == "denied"
    assert event.target_label == "bob"
    assert event.actor_id is None
    assert event.tenant_id == cast.acme.pk


def test_sign_out_is_recorded(cast, client):
    client.force_login(cast.carol)
    client.post("/admin/logout/")
    event = AuditEvent.objects.get(action="auth.logout")
    assert event.actor_username == "carol"


def test_request_id_is_generated_when_absent_or_malformed(cast, client):
    _sign_in(client, "bob", **{"X-Request-Id": "bad id with spaces; drop table"})
    event = AuditEvent.objects.get(action="auth.login")
    assert len(event.request_id) == 32
    assert " " not in event.request_id


@override_settings(AUDIT_TRUSTED_PROXY_COUNT=1)
def test_client_ip_comes_from_the_trusted_proxy_only(cast, client):
    # The client forged the first entry; our one trusted proxy appended the real address.
    _sign_in(client, "bob", remote_addr="10.0.0.2", **{"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert AuditEvent.objects.get(action="auth.login").client_ip == "203.0.113.9"


def test_forwarded_header_is_ignored_without_a_trusted_proxy(cast, client):
    _sign_in(client, "bob", remote_addr="198.51.100.7", **{"X-Forwarded-For": "6.6.6.6"})
    assert AuditEvent.objects.get(action="auth.login").client_ip == "198.51.100.7"


def test_what_was_typed_for_an_unknown_account_is_not_kept(cast, client):
    _sign_in(client, "hunter2-my-password")
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.target_label == "(unknown account)"
    assert "hunter2" not in str(event.extra)
