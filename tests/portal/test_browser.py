"""As a person would: sign in through the browser and see only your own tenant.

Headless Debian Chromium driven by Playwright (never a downloaded browser), with the fixtures and
helpers every browser journey shares (tests/conftest.py, tests/browser.py). `make test` installs
the chromium package where it can; on a machine without it these tests are skipped with a reason.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from recordings.services.ingest import recording_ingest

from ..audio import tone_wav
from ..browser import authenticator_code as _authenticator_code
from ..browser import csp_violations as _csp_violations
from ..browser import sign_in as _sign_in
from ..browser import sign_out as _sign_out

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("username", "own", "foreign"),
    [("alice", "Acme Insurance", "Globex Telecom"), ("erin", "Globex Telecom", "Acme Insurance")],
)
def test_member_signs_in_and_sees_only_their_tenant(cast, page, username, own, foreign):
    _sign_in(page, username)
    page.goto("/admin/compliance/tenant/")
    table = page.locator("#result_list").inner_text()
    assert own in table
    assert foreign not in table
    page.goto("/admin/audit/auditevent/")
    trail = page.locator("#changelist").inner_text()
    # Their sign-in, by its label in the action catalogue, not its code (auth.login).
    assert "Signed in" in trail and "auth.login" not in trail


def test_staff_enrol_an_authenticator_and_sign_in_with_its_code_or_a_recovery_code(
    cast, page, settings
):
    settings.OTP_REQUIRED = True
    # The password alone leads to enrolment, not to the admin.
    _sign_in(page, "alice", lands_on="**/signin/two-factor/enrol/?next=*")
    assert page.locator("#qr-code svg").is_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#id_token", _authenticator_code(secret))
    page.click("input[type=submit]")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.click("#continue")
    page.wait_for_url("**/admin/")
    _sign_out(page)

    # With the app's code (of the next 30-second step: the one just used cannot be replayed).
    _sign_in(page, "alice", lands_on="**/signin/two-factor/?next=*")
    page.goto("/admin/recordings/recording/")
    page.wait_for_url("**/signin/two-factor/?next=*")
    page.fill("#id_token", _authenticator_code(secret, steps_ahead=1))
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/recordings/recording/")
    _sign_out(page)

    # With a recovery code, once.
    _sign_in(page, "alice", lands_on="**/signin/two-factor/?next=*")
    page.fill("#id_token", codes[0])
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    _sign_out(page)
    _sign_in(page, "alice", lands_on="**/signin/two-factor/?next=*")
    page.fill("#id_token", codes[0])
    page.click("input[type=submit]")
    assert "This code is not valid" in page.locator(".errorlist").inner_text()
    page.goto("/admin/")
    page.wait_for_url("**/signin/two-factor/?next=*")

    assert _csp_violations(page) == []
    actions = list(
        AuditEvent.objects.filter(action__startswith="auth.two_factor")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [
        "auth.two_factor_enrolled",
        "auth.two_factor_verified",
        "auth.two_factor_verified",
        "auth.two_factor_failed",
    ]


def test_the_admin_and_the_player_work_under_the_content_security_policy(cast, page):
    recording = recording_ingest(
        tenant=cast.acme,
        api_key=None,
        audio=tone_wav(1.0),
        fields={
            "call_id": "csp-001",
            "direction": "inbound",
            "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "customer_number": "06 12 34 56 78",
            "purpose": "quality",
        },
    ).recording
    _sign_in(page, "carol")
    # The admin's own scripts run: the navigation sidebar's button folds it away.
    page.goto("/admin/recordings/recording/")
    before = page.locator("#main").get_attribute("class")
    page.click("#toggle-nav-sidebar")
    assert page.locator("#main").get_attribute("class") != before
    page.goto(f"/recordings/{recording.pk}/listen/")
    page.check("input[name=purpose][value=training]")
    page.fill("#id_justification", "Monthly quality sample, week 48")
    page.click("input[type=submit]")
    page.wait_for_url(f"**/recordings/{recording.pk}/player/")
    audio = page.locator("#recording-audio")
    assert audio.bounding_box()["width"] > 300  # the stylesheet that replaced the inline style
    page.evaluate("document.querySelector('#recording-audio').play().catch(() => null)")
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline
        and not AuditEvent.objects.filter(action="recording.played").exists()
    ):
        page.wait_for_timeout(200)
    assert AuditEvent.objects.filter(action="recording.played").exists()
    assert _csp_violations(page) == []


def test_an_officer_starts_a_purge_dry_run_from_the_purge_runs_page(cast, page):
    recording_ingest(
        tenant=cast.acme,
        api_key=None,
        audio=tone_wav(0.5),
        fields={
            "call_id": "expired-001",
            "direction": "inbound",
            "started_at": (timezone.now() - timedelta(days=400)).isoformat(),
            "customer_number": "06 12 34 56 78",
            "purpose": "quality",
        },
    )
    _sign_in(page, "alice")
    page.goto("/admin/recordings/purgerun/")
    button = page.get_by_role("button", name="Start a dry run")
    assert button.is_visible()
    button.click()
    page.wait_for_url("**/admin/recordings/purgerun/*/change/")
    assert "Nothing was deleted" in page.locator(".messagelist").inner_text()
    assert "Preview (dry run)" in page.locator("#content").inner_text()
    assert _csp_violations(page) == []
