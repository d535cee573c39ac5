"""As a person would: sign in through the browser and see only your own tenant.

Headless Debian Chromium driven by Playwright (never a downloaded browser). `make test` installs
the chromium package where it can; on a machine without it these tests are skipped with a reason.
"""

from __future__ import annotations

import base64
import shutil
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from django_otp.oath import totp

from audit.models import AuditEvent
from recordings.services.ingest import recording_ingest

from ..audio import tone_wav

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself (fixtures, assertions) are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        # Every Content-Security-Policy violation, as the console reports it and as the page's
        # own securitypolicyviolation event does (the init script runs outside the policy).
        page.console_errors = []
        page.on(
            "console",
            lambda message: message.type == "error" and page.console_errors.append(message.text),
        )
        page.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation', event =>"
            " window.__violations.push(event.violatedDirective + ' ' + event.blockedURI));"
        )
        yield page
        # While Playwright's loop runs, Django keeps this thread's ORM connections per context:
        # the ones the test's own queries opened are closed here, not by pytest-django (which
        # then could not drop the test database: "being accessed by other users").
        connections.close_all()
        browser.close()


def _csp_violations(page) -> list[str]:
    reported = page.evaluate("window.__violations")
    console = [text for text in page.console_errors if "Content Security Policy" in text]
    return reported + console


def _sign_in(page, username: str, lands_on: str = "**/admin/") -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "custodia-demo")
    page.click("input[type=submit]")
    page.wait_for_url(lands_on)


def _sign_out(page) -> None:
    page.goto("/admin/")
    page.click("#logout-form button")
    page.wait_for_url("**/admin/logout/")


def _authenticator_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this secret (RFC 6238: 30-second steps, 6 digits)."""
    return f"{totp(base64.b32decode(secret), step=30, digits=6, drift=steps_ahead):06d}"


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
