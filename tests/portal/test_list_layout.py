"""The lists a reviewer reads all day fit a laptop's screen: at 1366 pixels wide (the commonest
laptop width), with the admin's navigation open as it is by default, the audit trail, the
recordings and the consents show every key column without scrolling sideways, call ids on one
line and long justifications shortened with their full text on hover.

Headless Debian Chromium driven by Playwright, as tests/portal/test_browser.py; skipped with a
reason where the chromium package is missing.
"""

from __future__ import annotations

import pytest

from audit.context import AuditContext, bound_context
from audit.services import event_record
from compliance.access_rules import AccessNeed

from ..browser import csp_violations as _csp_violations
from ..browser import sign_in as _sign_in
from ..factories import campaign_for, consent_for
from ..recordings.helpers import ingest

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]

# The commonest laptop screens.
LAPTOPS = [{"width": 1366, "height": 768}, {"width": 1440, "height": 900}]
# A recorder's call ids as contact-centre platforms send them: UUIDs.
CALL_IDS = [
    "4f9c2a1e-7b3d-4e8f-9a6c-2d1b0e5f3c7a",
    "b81e6d2f-0c4a-4b9e-8f3d-6a2c1e7b9d05",
]
JUSTIFICATION = (
    "Complaint ref. 2026-118 from the caller about the agent's tone during the renewal of the "
    "home insurance contract; the customer relations team asked for a review before replying"
)


def _world(cast) -> None:
    recordings = [
        ingest(cast.acme, call_id=call_id, campaign="Renewals Q4", agent_code="A17")
        for call_id in CALL_IDS
    ]
    consent_for(tenant=cast.acme, call_id=CALL_IDS[0], operator="Agent A17 (Lyon floor 2)")
    consent_for(tenant=cast.acme, number="+33698765432", decision="refused")
    # What carol's listening leaves on the trail, from her workstation behind the proxy (IPv6).
    context = AuditContext(
        actor_id=cast.carol.pk,
        actor_username="carol",
        client_ip="2001:db8:85a3:1200:8a2e:370:7334:1f2a",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
        workstation_id="WS-LYON-QA-FLOOR2-07",
        request_id="f3b2c1d0e9a8b7c6d5e4f3a2b1c0d9e8",
    )
    with bound_context(context):
        for recording in recordings:
            for action in ("recording.access_granted", "recording.played"):
                event_record(
                    action=action,
                    tenant=cast.acme,
                    target=recording,
                    purpose=AccessNeed.COMPLAINT,
                    justification=JUSTIFICATION,
                )


def _layout(page) -> dict:
    return page.evaluate(
        """() => {
            const table = document.querySelector('#result_list');
            const results = table.closest('.results');
            const root = document.documentElement;
            return {
                viewport: root.clientWidth,
                page_overflow: root.scrollWidth - root.clientWidth,
                table_overflow: results.scrollWidth - results.clientWidth,
                table_right: table.getBoundingClientRect().right,
            };
        }"""
    )


def _assert_fits(page, columns: tuple[str, ...]) -> None:
    layout = _layout(page)
    assert layout["page_overflow"] <= 0, layout
    assert layout["table_overflow"] <= 0, layout
    assert layout["table_right"] <= layout["viewport"], layout
    for column in columns:
        header = page.locator(f"#result_list thead th.column-{column}")
        box = header.bounding_box()
        assert box is not None, f"no column {column}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= layout["viewport"], (column, box)


def _lines(page, selector: str) -> list[int]:
    """How many lines each matching element's text runs on."""
    return page.eval_on_selector_all(
        selector,
        "elements => elements.map(element => {"
        " const range = document.createRange(); range.selectNodeContents(element);"
        " return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size; })",
    )


@pytest.mark.parametrize("screen", LAPTOPS, ids=lambda screen: str(screen["width"]))
def test_the_trail_recordings_and_consents_fit_a_laptop_screen(cast, page, screen):
    _world(cast)
    page.set_viewport_size(screen)
    _sign_in(page, "alice")

    page.goto("/admin/audit/auditevent/?action=recording.played")
    _assert_fits(
        page,
        (
            "occurred_at",
            "actor_username",
            "action_shown",
            "target",
            "purpose_name",
            "justification_short",
            "workstation_id",
            "client_ip",
        ),
    )
    targets = page.locator("#result_list td.field-target").all_inner_texts()
    assert all(any(call_id in text for call_id in CALL_IDS) for text in targets), targets
    assert _lines(page, "#result_list td.field-target .call-id") == [1, 1]
    shortened = page.locator("#result_list td.field-justification_short [title]").first
    assert shortened.get_attribute("title") == JUSTIFICATION
    assert len(shortened.inner_text()) < len(JUSTIFICATION)

    page.goto("/admin/recordings/recording/")
    _assert_fits(
        page,
        (
            "call_id",
            "started_at",
            "direction",
            "purpose",
            "customer",
            "duration",
            "status",
            "retain_until",
        ),
    )
    assert _lines(page, "#result_list th.field-call_id a") == [1, 1]

    page.goto("/admin/compliance/consent/")
    _assert_fits(
        page, ("customer", "purpose", "decision", "decided_at", "channel", "recorded_by", "receipt")
    )
    assert _csp_violations(page) == []  # the stylesheet is a file, no inline style


def test_the_platform_operator_sees_the_tenant_column_too(cast, page):
    _world(cast)
    page.set_viewport_size(LAPTOPS[0])
    _sign_in(page, "root")
    page.goto("/admin/audit/auditevent/?action=recording.played")
    _assert_fits(
        page,
        (
            "occurred_at",
            "actor_username",
            "action_shown",
            "target",
            "purpose_name",
            "justification_short",
            "workstation_id",
            "client_ip",
            "tenant",
        ),
    )
    page.goto("/admin/recordings/recording/")
    _assert_fits(page, ("call_id", "started_at", "purpose", "status", "tenant"))
    page.goto("/admin/compliance/consent/")
    _assert_fits(page, ("customer", "purpose", "decision", "tenant"))
    assert _csp_violations(page) == []


def test_the_campaigns_fit_a_laptop_screen(cast, page):  # noqa: F811
    """A campaign calling France and the UK, never screened: every list that applies and the
    stale ones are named, in the list's width."""
    campaign_for(
        tenant=cast.acme,
        name="Home insurance renewals, spring offers for existing customers",
        numbers=("0612345678", "+447911123456"),
    )
    page.set_viewport_size(LAPTOPS[0])
    _sign_in(page, "alice")
    page.goto("/admin/compliance/campaign/")
    _assert_fits(page, ("name", "purpose_label", "period", "numbers", "lists", "freshness"))
    freshness = page.locator("#result_list td.field-freshness").first.inner_text()
    assert "Bloctel (France): never screened" in freshness
    assert _csp_violations(page) == []
