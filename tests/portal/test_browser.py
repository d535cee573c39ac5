"""As a person would: sign in through the browser and see only your own tenant.

Headless Debian Chromium driven by Playwright (never a downloaded browser). `make test` installs
the chromium package where it can; on a machine without it these tests are skipped with a reason.
"""

from __future__ import annotations

import shutil

import pytest

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
        yield context.new_page()
        browser.close()


def _sign_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "custodia-demo")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


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
    assert "auth.login" in trail
