"""The README's screenshots that the browser journeys take (docs/screenshots/), at the window's
1400x900 with the admin's navigation folded away. Taken only when asked, so that a test run
leaves the worktree as it found it:

    CUSTODIA_SCREENSHOTS=1 .venv/bin/python -m pytest tests/portal/test_subject_request_journey.py \
        tests/portal/test_register_journey.py tests/portal/test_dashboard_journey.py \
        tests/portal/test_language_browser.py tests/audit/test_access_review_browser.py

(docs/take_screenshots.py takes the others from a running `make run`.)
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WINDOW = {"width": 1400, "height": 900}


def readme_screenshot(page, name: str, *, scroll_to: str = "", element: str = "") -> None:
    """This page as docs/screenshots/<name>; `scroll_to` brings the fieldset holding that
    element to the window's top; `element`: that (first) element alone, whole."""
    if not os.environ.get("CUSTODIA_SCREENSHOTS"):
        return
    page.set_viewport_size(WINDOW)
    if page.locator("#nav-sidebar").is_visible():
        page.click("#toggle-nav-sidebar")
    page.evaluate("window.scrollTo(0, 0)")
    if scroll_to:
        page.locator(scroll_to).evaluate("element => element.closest('fieldset').scrollIntoView()")
    if element:
        page.locator(element).first.screenshot(path=FOLDER / name)
        return
    page.screenshot(path=FOLDER / name)
