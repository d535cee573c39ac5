"""Repeated failed passwords lock the account (django-axes); the lockout is on the trail, and a
platform operator unlocks it in the admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from audit.models import AuditEvent

from .conftest import PASSWORD, password_sign_in

pytestmark = pytest.mark.django_db


def _fail(client, username: str, times: int, **extra):
    return [
        password_sign_in(client, username, "wrong password", **extra).status_code
        for _ in range(times)
    ]


def test_the_fifth_failed_password_locks_the_account_even_with_the_right_one_after(
    client, alice, settings
):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert _fail(client, "alice", 4) == [200, 200, 200, 200]  # the form again, with an error
    locked = password_sign_in(client, "alice", "wrong password")
    assert locked.status_code == 429
    assert "locked" in locked.content.decode()
    assert "30 minutes" in locked.content.decode()
    right = password_sign_in(client, "alice", PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_holds_from_another_address_and_browser(client, alice):
    _fail(client, "alice", 5, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="first")
    other = password_sign_in(client, "alice", REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="other")
    assert other.status_code == 429


def test_a_lockout_is_on_the_trail_once_naming_the_account(client, alice):
    _fail(client, "alice", 7)
    events = AuditEvent.objects.filter(action="auth.locked_out")
    assert events.count() == 1
    event = events.get()
    assert event.outcome == "denied"
    assert event.target_id == str(alice.pk)
    assert event.tenant_id == alice.memberships.get().tenant_id
    assert event.extra["failures"] == 5
    assert event.extra["tier"] == "account"
    # The window's first failed sign-in is an event; the others are counted (test_failed_sign_ins).
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1


def test_a_lockout_of_an_unknown_name_keeps_nothing_typed(client, cast):
    _fail(client, "my-password-typed-in-the-wrong-box", 5)
    event = AuditEvent.objects.get(action="auth.locked_out")
    assert event.target_label == "(unknown account)"


def test_a_successful_sign_in_forgets_earlier_failures(client, alice):
    _fail(client, "alice", 4)
    assert password_sign_in(client, "alice").status_code == 302
    client.logout()
    assert _fail(client, "alice", 4) == [200, 200, 200, 200]


def test_an_account_locked_by_someone_else_stays_usable_for_others(client, alice, cast):
    cast.bob.set_password(PASSWORD)
    cast.bob.save()
    _fail(client, "alice", 5)
    assert password_sign_in(client, "bob").status_code == 302


def test_a_platform_operator_unlocks_an_account_and_it_is_on_the_trail(client, alice, login, cast):
    _fail(client, "alice", 5)
    attempt = AccessAttempt.objects.get(username="alice")
    operator = login(cast.root)
    listing = operator.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    response = operator.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock", "_selected_action": [attempt.pk]},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    reset = AuditEvent.objects.get(action="auth.lockout_reset")
    assert reset.actor_username == "root"
    assert reset.target_id == str(alice.pk)
    operator.logout()
    assert password_sign_in(client, "alice").status_code == 302


def test_deleting_the_attempt_in_the_admin_also_unlocks_and_is_audited(client, alice, login, cast):
    _fail(client, "alice", 5)
    attempt = AccessAttempt.objects.get(username="alice")
    operator = login(cast.root)
    response = operator.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert AuditEvent.objects.filter(action="auth.lockout_reset").count() == 1


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "dave", "erin"])
def test_tenant_staff_cannot_see_or_unlock_lockouts(client, login, cast, username):
    # Not a cast member: their own sign-in would forget their failures.
    _fail(client, "mallory", 5)
    attempt = AccessAttempt.objects.get(username="mallory")
    member = login(getattr(cast, username))
    assert member.get("/admin/axes/accessattempt/").status_code == 403
    assert member.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").status_code == 403
    assert (
        member.post(
            "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]}
        ).status_code
        == 403
    )
    assert "Access attempts" not in member.get("/admin/").content.decode()
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
