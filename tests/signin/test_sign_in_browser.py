"""As a person signs in, in Chromium: the password on the real sign-in page, then the code their
authenticator app shows (computed here from the device's key, as the app computes it); a wrong
code is refused, says why, and the admin stays closed.

Headless Debian Chromium driven by Playwright, on the session's browser (tests/conftest.py);
skipped with a reason where the chromium package is missing.
"""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent

from ..browser import csp_violations, sign_in
from .conftest import current_code

pytestmark = pytest.mark.django_db(transaction=True)

# django-otp slows down repeated failures on a device: after one wrong code, the next try is
# heard a second later (a person reading the error takes longer).
THROTTLE_MS = 1_100


def _a_wrong_code(device: TOTPDevice) -> str:
    """Six digits the app shows at none of the steps the device accepts now (one either side)."""
    accepted = {current_code(device, steps_ahead=step) for step in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(0, 1_000_000, 111_111) if f"{n:06d}" not in accepted)


def test_alice_signs_in_with_her_password_and_her_apps_code_a_wrong_code_refused(
    cast, page, settings
):
    settings.OTP_REQUIRED = True
    device = TOTPDevice.objects.create(user=cast.alice, name="Phone", confirmed=True)

    sign_in(page, "alice", lands_on="**/signin/two-factor/?next=*")
    assert page.locator("#id_token").is_visible()
    # The password alone opens nothing.
    page.goto("/admin/recordings/recording/")
    page.wait_for_url("**/signin/two-factor/?next=*")

    page.fill("#id_token", _a_wrong_code(device))
    page.click("input[type=submit]")
    assert "This code is not valid" in page.locator(".errorlist").inner_text()
    assert "/signin/two-factor/" in page.url
    page.goto("/admin/")
    page.wait_for_url("**/signin/two-factor/?next=*")

    page.wait_for_timeout(THROTTLE_MS)
    page.fill("#id_token", current_code(device))
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    assert page.locator(".dashboard-board").count() == 1
    page.goto("/admin/recordings/recording/")
    assert page.locator("#changelist").is_visible()

    assert csp_violations(page) == []
    trail = AuditEvent.objects.filter(actor_username="alice", action__startswith="auth.")
    assert list(trail.order_by("sequence").values_list("action", "outcome")) == [
        ("auth.login", "allowed"),
        ("auth.two_factor_failed", "denied"),
        ("auth.two_factor_verified", "allowed"),
    ]
