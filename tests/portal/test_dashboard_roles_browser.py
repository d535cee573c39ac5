"""The dashboard (the admin's index) as each of Acme's roles sees it in Chromium: alice
(compliance officer), bob (supervisor) and dave (auditor) see their panels, carol (quality
analyst) only what her role allows; for each of them a panel's number is a link to the list it
counts, filtered, which shows the same number.

Headless Debian Chromium driven by Playwright, on the session's browser (tests/conftest.py);
skipped with a reason where the chromium package is missing. The panels' figures themselves are
tests/portal/test_dashboard.py's.
"""

from __future__ import annotations

import re

import pytest

from audit.context import AuditContext, bound_context
from recordings.services.access import access_grant_request

from ..browser import csp_violations, sign_in, sign_out
from ..factories import legal_hold_for
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)

PANELS = {
    "alice": {
        "recordings.by_purpose",
        "recordings.retention",
        "recordings.purge",
        "recordings.listening",
        "compliance.legal_holds",
        "compliance.subject_requests",
        "compliance.dnc_freshness",
        "audit.alerts",
        "audit.chain",
    },
    "bob": {
        "recordings.by_purpose",
        "recordings.retention",
        "recordings.listening",
        "audit.alerts",
        "audit.chain",
    },
    "carol": {"recordings.by_purpose", "recordings.retention"},
    "dave": {
        "recordings.by_purpose",
        "recordings.retention",
        "recordings.purge",
        "compliance.legal_holds",
        "compliance.dnc_freshness",
        "audit.alerts",
        "audit.chain",
    },
}


def test_each_role_sees_its_panels_and_a_number_opens_its_filtered_list(cast, page):
    recordings = [ingest(cast.acme, purpose="quality") for _ in range(3)]
    ingest(cast.acme, purpose="training")
    ingest(cast.globex, purpose="quality")  # never counted on Acme's board
    legal_hold_for(tenant=cast.acme)
    # bob's listening of today, as his request records it.
    with bound_context(AuditContext(actor_id=cast.bob.pk, actor_username="bob")):
        access_grant_request(
            user=cast.bob,
            recording=recordings[0],
            purpose="complaint",
            justification="Complaint ref. 2026-118 about the agent's tone",
        )

    for person, expected in PANELS.items():
        sign_in(page, person)
        board = page.locator(f'.dashboard-board[data-tenant="{cast.acme.pk}"]')
        assert board.is_visible(), person
        panels = board.locator(".dashboard-panel")
        shown = {
            panels.nth(index).get_attribute("data-panel")
            for index in range(panels.count())
            if panels.nth(index).is_visible()
        }
        assert shown == expected, person
        assert page.locator(".dashboard-board").count() == 1, person  # Globex's is not hers

        # A number of the recordings' panel: its list, filtered, counts the same.
        link = board.locator(
            '.dashboard-panel[data-panel="recordings.by_purpose"] td.dashboard-count a'
        ).first
        number = link.inner_text().strip()
        with page.expect_navigation():
            link.click()
        assert re.search(r"/admin/recordings/recording/\?.+", page.url), page.url
        counted = page.locator("#changelist .paginator").inner_text()
        assert re.search(rf"\b{re.escape(number)} recordings?\b", counted), (person, counted)
        if "recordings.listening" in expected:
            # Today's listening, one click from the trail's events of today that it counts.
            page.go_back()
            granted = page.locator(
                '.dashboard-panel[data-panel="recordings.listening"] tr',
                has_text="Listening granted",
            ).locator("a")
            assert granted.inner_text().strip() == "1", person
            with page.expect_navigation():
                granted.click()
            assert "/admin/audit/auditevent/?" in page.url, page.url
            rows = page.locator("#result_list tbody tr")
            assert rows.count() == 1, person
            assert "bob" in rows.first.locator("td.field-actor_username").inner_text()
        assert csp_violations(page) == [], person
        sign_out(page)
