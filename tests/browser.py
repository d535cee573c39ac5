"""What the browser journeys share: Debian's chromium (never a downloaded browser) driven by
Playwright, headless, against pytest-django's live server on PostgreSQL.

The fixtures are tests/conftest.py's: `browser`, one Chromium for the whole session, and `page`,
a new context (a new session: cookies, language, viewport) per test. A test that uses them runs
after every other test of the session, and is skipped with CHROMIUM_MISSING where the chromium
package is not installed (`make browser` installs it; `make test` runs that first).
"""

from __future__ import annotations

import base64
import shutil

from django_otp.oath import totp

CHROMIUM = shutil.which("chromium")
CHROMIUM_MISSING = (
    "Debian's chromium package is not installed (`make browser` installs it): "
    "the browser journeys are skipped"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    # The player's tests call play() with no click on the page; heard by nobody.
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
# Every wait of a step bounded: a journey stuck on a page fails in seconds, not at the timeout.
STEP_TIMEOUT_MS = 15_000
# What a reviewer's laptop shows (the commonest width).
LAPTOP = {"width": 1366, "height": 768}
PASSWORD = "custodia-demo"  # tests/factories.py's UserFactory


def sign_in(page, username: str, lands_on: str = "**/admin/", password: str = PASSWORD) -> None:
    """Through the admin's sign-in page, as a person types it."""
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(lands_on)


def sign_out(page) -> None:
    page.goto("/admin/")
    page.click("#logout-form button")
    page.wait_for_url("**/admin/logout/")


def csp_violations(page) -> list[str]:
    """Every Content-Security-Policy violation of the page so far, as its own
    securitypolicyviolation event and the console report them."""
    reported = page.evaluate("window.__violations")
    console = [text for text in page.console_errors if "Content Security Policy" in text]
    return reported + console


def authenticator_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this base32 secret (RFC 6238: 30-second steps, 6
    digits)."""
    return f"{totp(base64.b32decode(secret), step=30, digits=6, drift=steps_ahead):06d}"


def visible_text(page) -> str:
    """What the page's body shows a person (not its hidden elements, nor its scripts)."""
    return page.locator("body").inner_text()
