"""Screenshots for the README, taken from a running `make run` (http://127.0.0.1:8000).

    .venv/bin/python docs/take_screenshots.py

Drives Debian's chromium (never a downloaded browser) with Playwright.

The data-subject request's page, the erasure preview and the Art. 30 register are taken by the
browser journeys instead (tests/portal/screenshots.py):

    CUSTODIA_SCREENSHOTS=1 .venv/bin/python -m pytest tests/portal/test_subject_request_journey.py \
        tests/portal/test_register_journey.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = "http://127.0.0.1:8000"
OUT = Path(__file__).resolve().parent / "screenshots"


def sign_in(page, username: str) -> None:
    page.goto(f"{BASE}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "custodia-demo")
    page.click("input[type=submit]")
    page.wait_for_url(f"{BASE}/admin/")


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("install Debian's chromium package first", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(
            viewport={"width": 1800, "height": 900},
            extra_http_headers={"X-Workstation-Id": "WS-QA-07"},
        )
        page = context.new_page()
        sign_in(page, "alice")
        page.goto(f"{BASE}/admin/recordings/recording/")
        page.screenshot(path=OUT / "recordings.png")
        page.goto(f"{BASE}/admin/recordings/purgerun/")
        page.screenshot(path=OUT / "purge.png")
        context.clear_cookies()
        sign_in(page, "carol")
        page.goto(f"{BASE}/admin/recordings/recording/?q=acme-demo-0001")
        page.click("#result_list tbody tr th a")
        # "Listen" asks for a purpose; "Open the player" while a grant still holds.
        page.click("#content a[href$='/listen/'], #content a[href$='/player/']")
        if page.locator("input[name=purpose][value=quality]").count():
            page.check("input[name=purpose][value=quality]")
            page.fill("textarea[name=justification]", "Monthly quality sample, agent A17")
            page.click("input[type=submit]")
        page.wait_for_url("**/player/")
        page.evaluate("document.querySelector('audio').muted = true")
        page.evaluate("document.querySelector('audio').play()")
        page.wait_for_timeout(1500)
        page.screenshot(path=OUT / "player.png")
        context.clear_cookies()
        sign_in(page, "bob")
        page.goto(f"{BASE}/admin/audit/auditevent/?q=carol")
        page.screenshot(path=OUT / "audit-trail.png")
        # Setting up two-factor sign-in (asked of every staff member when OTP_REQUIRED is on).
        context.clear_cookies()
        sign_in(page, "dave")
        page.goto(f"{BASE}/signin/two-factor/enrol/")
        page.screenshot(path=OUT / "two-factor-enrolment.png")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
