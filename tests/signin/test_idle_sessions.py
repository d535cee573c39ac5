"""A session left idle for SESSION_IDLE_MINUTES (30) ends; one in use is kept."""

from __future__ import annotations

import time

import pytest

from audit.models import AuditEvent
from signin.middleware import LAST_ACTIVITY

from .conftest import password_sign_in

pytestmark = pytest.mark.django_db


def _idle_for(client, minutes: float) -> None:
    session = client.session
    session[LAST_ACTIVITY] = int(time.time() - minutes * 60)
    session.save()


def test_a_session_idle_for_31_minutes_is_sent_to_the_sign_in_page(client, alice):
    password_sign_in(client, "alice")
    assert client.get("/admin/").status_code == 200
    _idle_for(client, 31)
    response = client.get("/admin/recordings/recording/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert client.get("/admin/").status_code == 302  # the session is gone, not just this page
    expired = AuditEvent.objects.get(action="auth.session_expired")
    assert (expired.actor_username, expired.target_id) == ("alice", str(alice.pk))
    assert expired.extra == {"idle_minutes": 31}


def test_a_session_in_use_is_kept(client, alice):
    password_sign_in(client, "alice")
    client.get("/admin/")
    for _ in range(3):
        _idle_for(client, 29)
        assert client.get("/admin/").status_code == 200
    assert client.session[LAST_ACTIVITY] >= time.time() - 5
    assert not AuditEvent.objects.filter(action="auth.session_expired").exists()


def test_the_idle_time_is_configurable(client, alice, settings):
    settings.SESSION_IDLE_MINUTES = 5
    password_sign_in(client, "alice")
    client.get("/admin/")
    _idle_for(client, 6)
    assert client.get("/admin/").status_code == 302
