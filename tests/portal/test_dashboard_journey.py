"""The compliance dashboard as alice (Acme's compliance officer) sees it in Chromium on the demo
data of a fresh `make run` (`manage.py seed_demo`): her index shows Acme's panels with their
charts, in both of the admin's colour themes, without a Content-Security-Policy violation; a
number is one click from its list, which shows the same number. dave (Acme's auditor) sees no
listening panel.

    CUSTODIA_SCREENSHOTS=1 .venv/bin/python -m pytest tests/portal/test_dashboard_journey.py

takes the README's screenshots of it (docs/screenshots/dashboard.png, dashboard-dark.png).
Headless Debian Chromium driven by Playwright, as tests/portal/test_browser.py; skipped with a
reason where the chromium package is missing.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from compliance.models import Tenant

from ..browser import csp_violations as _csp_violations
from ..browser import sign_in as _sign_in
from ..browser import sign_out as _sign_out
from .screenshots import WINDOW, readme_screenshot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(90),  # a journey stuck on a page fails, with the rest still run
]


def _brightness(colour: str) -> float:
    """The mean of an "rgb(r, g, b)" colour's channels, 0 (black) to 255 (white)."""
    channels = [int(value) for value in re.findall(r"\d+", colour)[:3]]
    return sum(channels) / 3


def test_alice_reads_acmes_dashboard_in_both_themes_and_follows_a_number(page):
    page.set_default_timeout(15_000)
    page.set_viewport_size(WINDOW)
    call_command("seed_demo", verbosity=0)
    acme = Tenant.objects.get(slug="acme")

    _sign_in(page, "alice")
    board = page.locator(f'.dashboard-board[data-tenant="{acme.pk}"]')
    assert "Acme" in board.locator(".dashboard-board-title").inner_text()
    assert acme.time_zone in board.locator(".dashboard-zone").inner_text()
    panels = board.locator(".dashboard-panel")
    keys = {panels.nth(index).get_attribute("data-panel") for index in range(panels.count())}
    assert {"recordings.by_purpose", "recordings.listening", "audit.chain"} <= keys
    assert board.locator("svg.dashboard-chart").count() >= 3
    assert "Globex" not in board.inner_text()
    # The charts take their colours from the stylesheet: a bar is filled, in the light theme.
    bar = board.locator("svg.dashboard-chart rect.chart-bar").first
    light = bar.evaluate("element => getComputedStyle(element).fill")
    assert light not in ("", "none", "rgb(0, 0, 0)"), light
    readme_screenshot(page, "dashboard.png", element=".dashboard-board")

    # The dark theme: the same bar, another colour from the admin's variables, text readable.
    page.emulate_media(color_scheme="dark")
    page.reload()
    bar = page.locator(f'.dashboard-board[data-tenant="{acme.pk}"] svg rect.chart-bar').first
    dark = bar.evaluate("element => getComputedStyle(element).fill")
    label = page.locator("svg.dashboard-chart text.chart-label").first
    text_colour = label.evaluate("element => getComputedStyle(element).fill")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert _brightness(background) < 80 < _brightness(text_colour), (text_colour, background)
    assert dark not in ("", "none", background), dark
    readme_screenshot(page, "dashboard-dark.png", element=".dashboard-board")
    page.emulate_media(color_scheme="light")

    # One click from a number to its list, which counts the same.
    retention = page.locator('.dashboard-panel[data-panel="recordings.retention"] tr').filter(
        has_text="within 30 days"
    )
    shown = retention.locator("a").inner_text()
    retention.locator("a").click()
    page.wait_for_url(re.compile(r".*/admin/recordings/recording/\?.*retention_ends=30d.*"))
    paginator = page.locator("#changelist .paginator").inner_text()
    assert re.search(rf"\b{re.escape(shown)} recordings?\b", paginator), (shown, paginator)
    assert not _csp_violations(page)

    # The auditor reviews the trail but never listening.
    _sign_out(page)
    _sign_in(page, "dave")
    auditor_keys = page.locator(".dashboard-panel").evaluate_all(
        "panels => panels.map(panel => panel.dataset.panel)"
    )
    assert "recordings.listening" not in auditor_keys and "audit.chain" in auditor_keys
