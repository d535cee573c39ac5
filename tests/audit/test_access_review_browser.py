"""Who accessed this recording, as a supervisor finds out in Chromium: carol (quality analyst)
states her purpose and justification on the listen form from her workstation; bob (supervisor)
opens the recording's page, follows "Who accessed this", and reads her listening there — the
purpose by its name, the justification, the workstation — on a 1366-pixel laptop screen, every
key column in view without scrolling sideways.

    CUSTODIA_SCREENSHOTS=1 .venv/bin/python -m pytest tests/audit/test_access_review_browser.py

takes the README's screenshots of the listen form and the access review.
Headless Debian Chromium driven by Playwright, on the session's browser (tests/conftest.py);
skipped with a reason where the chromium package is missing.
"""

from __future__ import annotations

import pytest

from audit.models import AuditEvent

from ..browser import LAPTOP, csp_violations, sign_in, sign_out
from ..portal.screenshots import readme_screenshot
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)

WORKSTATION = "WS-LYON-QA-07"
JUSTIFICATION = "Monthly quality sample, week 48: the renewal call of the home contract"
# The trail's columns a reviewer reads, each to be in view.
KEY_COLUMNS = (
    "occurred_at",
    "actor_username",
    "action_shown",
    "target",
    "purpose_name",
    "justification_short",
    "workstation_id",
)


def test_bob_finds_carols_listening_with_its_purpose_justification_and_workstation(cast, page):
    recording = ingest(cast.acme, call_id="renewal-2026-118")
    page.set_viewport_size(LAPTOP)

    # carol, at her workstation (the contact centre's proxy names it in a header).
    page.context.set_extra_http_headers({"X-Workstation-Id": WORKSTATION})
    sign_in(page, "carol")
    page.goto(f"/recordings/{recording.pk}/listen/")
    page.get_by_label("Quality review").check()
    page.fill("#id_justification", JUSTIFICATION)
    readme_screenshot(page, "listen-form.png")
    page.click("input[type=submit]")
    page.wait_for_url(f"**/recordings/{recording.pk}/player/")
    sign_out(page)
    page.context.set_extra_http_headers({})

    # bob, from the recording's page to its access review.
    page.set_viewport_size(LAPTOP)
    sign_in(page, "bob")
    page.goto(f"/admin/recordings/recording/{recording.pk}/change/")
    page.get_by_role("link", name="Who accessed this").click()
    page.wait_for_url(f"**/admin/audit/auditevent/?*target=recordings.recording*{recording.pk}*")
    rows = page.locator("#result_list tbody tr").filter(has_text="carol")
    granted = rows.filter(has=page.locator("td.field-purpose_name", has_text="Quality review"))
    assert granted.count() >= 1
    row = granted.first
    assert "renewal-2026-118" in row.locator("td.field-target").inner_text()
    assert row.locator("td.field-workstation_id").inner_text().strip() == WORKSTATION
    shown = row.locator("td.field-justification_short")
    full = shown.locator("[title]")
    assert JUSTIFICATION in (full.get_attribute("title") if full.count() else shown.inner_text())
    # No raw code where a person reads.
    assert "quality" not in row.locator("td.field-purpose_name").inner_text().split()
    # Nobody else's event about another recording.
    targets = page.locator("#result_list td.field-target").all_inner_texts()
    assert targets and all("renewal-2026-118" in text for text in targets), targets

    viewport = page.evaluate("document.documentElement.clientWidth")
    assert viewport == LAPTOP["width"] - page.evaluate(
        "window.innerWidth - document.documentElement.clientWidth"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport
    for column in KEY_COLUMNS:
        for cell in (
            page.locator(f"#result_list thead th.column-{column}"),
            row.locator(f".field-{column}"),
        ):
            box = cell.bounding_box()
            assert box is not None, column
            assert 0 <= box["x"] and box["x"] + box["width"] <= viewport, (column, box)
    assert csp_violations(page) == []
    assert AuditEvent.objects.filter(
        action="recording.access_granted", actor_username="carol", workstation_id=WORKSTATION
    ).exists()
    readme_screenshot(page, "access-review.png")
