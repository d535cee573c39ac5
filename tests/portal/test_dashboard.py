"""The compliance dashboard of the admin's index (portal/dashboard.py, the panels of
recordings/dashboard.py, compliance/dashboard.py and audit/dashboard.py): each role sees the
panels its role in the tenant permits, each number is right for the data seeded, each is a link
to the admin list filtered by declared filters that shows the same number, no internal code is
on screen, and another tenant's data is never counted."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AlertStatus, AuditEvent, Checkpoint, Severity
from audit.services import Event, event_record, events_record_bulk
from audit.verification import audit_chain_verify
from compliance.dnc_models import Campaign
from compliance.models import Purpose
from compliance.services.legal_holds import legal_hold_release
from compliance.services.screenings import screening_answer_import
from kit.dashboard import Figure, Panel, PanelContent, panel_register, panel_unregister
from recordings.models import Recording, Status
from recordings.services.access import AccessRefused, access_grant_request
from recordings.services.purge.run import purge_expired_recordings

from ..factories import (
    alert_for,
    campaign_for,
    dnc_list_for,
    incident_for,
    legal_hold_for,
    screening_for,
    subject_request_for,
)
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

JUSTIFICATION = "Complaint ref. 2026-118 about the agent's tone"

EVERY_TENANT_PANEL = {
    "recordings.by_purpose",
    "recordings.retention",
    "recordings.purge",
    "recordings.listening",
    "compliance.legal_holds",
    "compliance.subject_requests",
    "compliance.dnc_freshness",
    "audit.alerts",
    "audit.chain",
}


# --- reading the page ---------------------------------------------------------------------------


def _boards(html: str) -> dict[str, str]:
    """Each board of the page by its tenant id ("" for the platform's), as HTML."""
    parts = re.split(r'(?=<section class="dashboard-board")', html)
    boards = {}
    for part in parts[1:]:
        tenant = re.match(r'<section class="dashboard-board"(?: data-tenant="(\d+)")?', part)
        boards[tenant.group(1) or ""] = part.split("</section>")[0]
    return boards


def _panels(board: str) -> dict[str, str]:
    parts = re.split(r'(?=<div class="module dashboard-panel")', board)
    return {re.search(r'data-panel="([^"]+)"', part).group(1): part for part in parts[1:] if part}


def _figures(panel: str) -> dict[str, tuple[str, str]]:
    """Each figure of a panel: label -> (number shown, link)."""
    found = {}
    for label, url, shown in re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="dashboard-count[^"]*"><a href="([^"]+)">'
        r"([^<]+)</a>",
        panel,
    ):
        found[unescape(label)] = (unescape(shown), unescape(url))
    for url, label, shown in re.findall(
        r'<td class="dashboard-count"><a href="([^"]+)" title="([^"]+)">([^<]+)</a>', panel
    ):
        found[unescape(label)] = (unescape(shown), unescape(url))
    return found


def _visible_text(html: str) -> str:
    body = html.split('<div id="content"', 1)[-1]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def _index(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def _list_count(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.context_data["cl"].result_count


# --- the world ---------------------------------------------------------------------------------


def _purpose(code: str) -> Purpose:
    return Purpose.objects.get(tenant__isnull=True, code=code)


def _seed(tenant, people) -> dict:
    """The same shape of data in any tenant: what its board must count."""
    today = tenant.today()
    quality = [ingest(tenant, purpose="quality") for _ in range(4)]
    training = [ingest(tenant, purpose="training") for _ in range(2)]
    Recording.objects.filter(pk=quality[0].pk).update(retain_until=today - timedelta(days=2))
    Recording.objects.filter(pk=quality[1].pk).update(retain_until=today + timedelta(days=3))
    Recording.objects.filter(pk=quality[2].pk).update(retain_until=today + timedelta(days=20))
    # An anonymised row (the policy said "anonymise"): purged status, kept metadata.
    Recording.objects.filter(pk=training[0].pk).update(status=Status.PURGED)
    held = legal_hold_for(tenant=tenant)
    released = legal_hold_for(tenant=tenant)
    legal_hold_release(actor=people["officer"], hold=released, release_reason="Case settled")
    overdue = subject_request_for(tenant=tenant)
    overdue.due_on = today - timedelta(days=40)
    overdue.save()
    soon = subject_request_for(tenant=tenant, number="+33612345679")
    soon.due_on = today + timedelta(days=5)
    soon.save()
    subject_request_for(tenant=tenant, number="+33612345670")  # a month left
    alert_for(tenant=tenant, status=AlertStatus.NEW, severity=Severity.HIGH, rule="volume")
    alert_for(tenant=tenant, status=AlertStatus.NEW, severity=Severity.LOW, rule="off_hours")
    alert_for(
        tenant=tenant,
        status=AlertStatus.INVESTIGATING,
        severity=Severity.MEDIUM,
        rule="denied_burst",
    )
    alert_for(tenant=tenant, status=AlertStatus.CLOSED, severity=Severity.HIGH, rule="volume")
    incident_for(tenant=tenant)
    # Listening: two grants and one refusal today (the officer's own roles may listen).
    for recording in quality[2:4]:
        access_grant_request(
            user=people["listener"],
            recording=recording,
            purpose="complaint",
            justification=JUSTIFICATION,
        )
    # Refused and on the trail: neither an officer nor a supervisor may hear a training
    # recording to supervise an agent (an officer never states it, the recording was not made
    # for it).
    with pytest.raises(AccessRefused):
        access_grant_request(
            user=people["listener"],
            recording=training[1],
            purpose="supervision",
            justification=JUSTIFICATION,
        )
    # Do-not-call: the tenant's own list in force; a running campaign screened today (fresh),
    # one never screened (stale), one ended (not counted).
    dnc_list_for(tenant=tenant, version="internal-2026-12")
    screened = screening_for(tenant=tenant)
    Campaign.objects.filter(pk=screened.campaign_id).update(name="Screened campaign")
    screening_answer_import(actor="test", screening=screened, data=b"", screened_on=today)
    campaign_for(tenant=tenant, name="Unscreened campaign")
    ended = campaign_for(tenant=tenant, name="Ended campaign")
    Campaign.objects.filter(pk=ended.pk).update(
        starts_on=today - timedelta(days=90), ends_on=today - timedelta(days=60)
    )
    return {"held": held}


@pytest.fixture
def world(cast):
    # Yesterday's grant, on the trail before today's (appended first, as time goes).
    events_record_bulk(
        [
            Event(
                action="recording.access_granted",
                tenant_id=tenant.pk,
                occurred_at=timezone.now() - timedelta(days=2),
            )
            for tenant in (cast.acme, cast.globex)
        ]
    )
    acme = _seed(cast.acme, {"officer": cast.alice, "listener": cast.bob})
    globex = _seed(cast.globex, {"officer": cast.erin, "listener": cast.erin})
    # Globex has more of everything, so that a count mixing tenants shows.
    ingest(cast.globex, purpose="quality")
    alert_for(
        tenant=cast.globex, status=AlertStatus.NEW, severity=Severity.HIGH, rule="download_spike"
    )
    purge_expired_recordings(triggered_by="test")
    audit_chain_verify(full=True)
    return {"acme": acme, "globex": globex}


# --- who sees what -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        ("alice", EVERY_TENANT_PANEL),
        (
            "bob",
            {
                "recordings.by_purpose",
                "recordings.retention",
                "recordings.listening",
                "audit.alerts",
                "audit.chain",
            },
        ),
        ("carol", {"recordings.by_purpose", "recordings.retention"}),
        # The auditor reads the trail, holds and purge runs, never listening.
        (
            "dave",
            {
                "recordings.by_purpose",
                "recordings.retention",
                "recordings.purge",
                "compliance.legal_holds",
                "compliance.dnc_freshness",
                "audit.alerts",
                "audit.chain",
            },
        ),
    ],
)
def test_each_acme_role_sees_the_panels_its_role_permits(cast, client, world, person, expected):
    boards = _boards(_index(client, getattr(cast, person)))
    assert list(boards) == [str(cast.acme.pk)]
    assert set(_panels(boards[str(cast.acme.pk)])) == expected


def test_erin_sees_globex_board_only(cast, client, world):
    boards = _boards(_index(client, cast.erin))
    assert list(boards) == [str(cast.globex.pk)]
    assert set(_panels(boards[str(cast.globex.pk)])) == EVERY_TENANT_PANEL
    assert "Acme" not in _visible_text(_index(client, cast.erin))


def test_root_keeps_the_app_list_with_the_platform_panels_and_each_tenants_board(
    cast, client, world
):
    html = _index(client, cast.root)
    boards = _boards(html)
    assert list(boards) == [""]
    assert set(_panels(boards[""])) == {
        "recordings.purge_platform",
        "audit.alerts",
        "audit.chain",
    }
    assert 'class="app-recordings module' in html  # Django's list of apps is still there
    for tenant in (cast.acme, cast.globex):
        assert reverse("admin:dashboard", args=[tenant.pk]) in html
    response = client.get(reverse("admin:dashboard", args=[cast.globex.pk]))
    assert response.status_code == 200
    boards = _boards(response.content.decode())
    assert list(boards) == [str(cast.globex.pk)]
    assert set(_panels(boards[str(cast.globex.pk)])) == EVERY_TENANT_PANEL


def test_another_tenants_board_is_a_404_like_a_missing_one_and_on_its_trail(cast, client, world):
    client.force_login(cast.alice)
    assert client.get(reverse("admin:dashboard", args=[cast.acme.pk])).status_code == 200
    assert client.get(reverse("admin:dashboard", args=[cast.globex.pk])).status_code == 404
    assert client.get(reverse("admin:dashboard", args=[999_999])).status_code == 404
    refused = AuditEvent.objects.filter(action="access.cross_tenant_refused")
    assert refused.count() == 1
    assert refused.get().tenant_id == cast.globex.pk


# --- the numbers -------------------------------------------------------------------------------


def _alice_figures(client, cast) -> dict[str, dict[str, tuple[str, str]]]:
    board = _boards(_index(client, cast.alice))[str(cast.acme.pk)]
    return {key: _figures(panel) for key, panel in _panels(board).items()}


def test_each_panel_counts_the_seeded_data_of_its_tenant_only(cast, client, world):
    figures = _alice_figures(client, cast)
    shown = {
        key: {label: value[0] for label, value in found.items()} for key, found in figures.items()
    }
    assert shown["recordings.by_purpose"] == {
        # The purge deleted the expired one; one training call is anonymised.
        "Quality monitoring: Active": "3",
        "Agent training: Active": "1",
        "Agent training: Purged (retention ended)": "1",
    }
    assert shown["recordings.retention"] == {
        "Expired, awaiting the purge": "0",
        "Retention ends within 7 days": "1",
        "Retention ends within 30 days": "2",
    }
    assert shown["compliance.legal_holds"] == {"Legal holds in force": "1"}
    assert shown["compliance.subject_requests"] == {
        "Overdue": "1",
        "Due within 7 days": "1",
        "Due later": "1",
    }
    assert shown["recordings.listening"] == {
        "Listening granted": "2",
        "Listening refused": "1",
        "Playback refused (no valid grant)": "0",
    }
    assert shown["audit.alerts"] == {
        "New alerts": "2",
        "New alerts of high severity": "1",
        "Alerts being investigated": "1",
        "Open personal-data breach incidents": "1",
    }
    assert shown["compliance.dnc_freshness"] == {
        "Running campaigns": "2",
        "Running campaigns with a stale list or screening": "1",
    }
    # The purge run: what it found for Acme (the one expired quality call).
    assert shown["recordings.purge"] == {
        "Found to delete": "1",
        "Kept by legal holds": "0",
        "Kept by restrictions (GDPR Art. 18)": "0",
    }


def test_each_link_opens_its_filtered_list_with_the_same_count(cast, client, world):
    checked = 0
    for person, tenant in [
        (cast.alice, cast.acme),
        (cast.erin, cast.globex),
        (cast.dave, cast.acme),
    ]:
        client.force_login(person)
        board = _boards(_index(client, person))[str(tenant.pk)]
        for key, panel in _panels(board).items():
            for label, (shown, url) in _figures(panel).items():
                if "/changelist" in url or "?" in url:
                    assert _list_count(client, url) == int(shown), (person, key, label, url)
                    # Declared filters only: an undeclared lookup would have been a 400.
                    assert dict(parse_qsl(urlsplit(url).query)).get("e") is None
                else:
                    assert client.get(url).status_code == 200, url
                checked += 1
    assert checked > 40


def test_root_links_to_every_tenant_open_the_same_counts(cast, client, world):
    client.force_login(cast.root)
    html = _index(client, cast.root)
    for label, (shown, url) in _figures(_panels(_boards(html)[""])["audit.alerts"]).items():
        # Every tenant's: Acme's and Globex's (one more new high alert at Globex).
        assert _list_count(client, url) == int(shown), label
    assert _figures(_panels(_boards(html)[""])["audit.alerts"])["New alerts"][0] == "5"


def test_the_platform_purge_panel_shows_the_runs_totals(cast, client, world):
    html = _index(client, cast.root)
    figures = _figures(_panels(_boards(html)[""])["recordings.purge_platform"])
    assert figures["Deleted"][0] == "2"  # Acme's expired call and Globex's
    assert figures["Failed"][0] == "0"


def test_dnc_panel_names_each_list_and_the_stale_campaigns_first(cast, client, world):
    board = _boards(_index(client, cast.alice))[str(cast.acme.pk)]
    panel = _visible_text(_panels(board)["compliance.dnc_freshness"])
    assert "Internal opt-outs" in panel and "version internal-2026-12: fresh" in panel
    stale = panel.index("Unscreened campaign — Bloctel (France)")
    assert "this campaign's file has never been screened" in panel[stale:]
    fresh = panel.index("Screened campaign — Bloctel (France)")
    assert stale < fresh and "Ended campaign" not in panel
    assert "fresh until" in panel[fresh:]
    erin = _visible_text(_boards(_index(client, cast.erin))[str(cast.globex.pk)])
    assert "Lista Robinson (Spain)" in erin and "Bloctel" not in erin


def test_chain_panel_names_the_last_verification_and_its_range(cast, client, world):
    board = _boards(_index(client, cast.alice))[str(cast.acme.pk)]
    panel = _visible_text(_panels(board)["audit.chain"])
    checkpoint = Checkpoint.objects.get()
    assert re.search(r"Last verified\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", panel), panel
    intact = re.search(r"Found intact\s+events #1 to #([\d,]+)", panel)
    assert intact and int(intact.group(1).replace(",", "")) == checkpoint.sequence, panel
    # The first verification: every event so far is new since the one before (none).
    assert re.search(rf"New since the verification before\s+events #1 to #{intact.group(1)}", panel)


# --- what is on screen --------------------------------------------------------------------------

# Codes that must never be shown: purposes (whose names are words: "Agent training" is the
# training purpose's), statuses, actions, reasons, roles.
CODES = [
    "telemarketing",
    "call_analysis",
    "insurance_telesales",
    "in_progress",
    "dry_run",
    "expired",
    "erasure_request",
    "consent_withdrawn",
    "compliance_officer",
    "investigating",
    "access_granted",
    "recording.access_granted",
    "audit.chain_broken",
]


def test_no_internal_code_is_shown(cast, client, world):
    for person in (cast.alice, cast.bob, cast.dave, cast.erin, cast.root):
        text = _visible_text(_index(client, person))
        shown = [
            code for code in CODES if re.search(rf"(?<![\w.]){re.escape(code)}(?![\w.])", text)
        ]
        assert not shown, (person.username, shown)


def test_charts_are_svg_with_classes_and_no_inline_style_or_script(cast, client, world):
    html = _index(client, cast.alice)
    charts = re.findall(r"<svg class=\"dashboard-chart\".*?</svg>", html, flags=re.S)
    assert len(charts) >= 4
    for chart in charts:
        assert "style" not in chart and "script" not in chart and " on" not in chart
        assert "<title>" in chart and 'role="img"' in chart
    response = client.get(reverse("admin:index"))
    assert "portal/dashboard.css" in response.content.decode()


def test_times_are_in_the_tenants_zone_and_named(cast, client, world):
    board = _boards(_index(client, cast.erin))[str(cast.globex.pk)]
    assert "Europe/Madrid" in board
    text = _visible_text(board)
    assert re.search(r"Last verified\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", text)
    assert re.search(r"Since\s+\d{4}-\d\d-\d\d 00:00:00 CES?T", text)


# --- the trail's "today" -----------------------------------------------------------------------


def test_the_trails_today_filter_counts_todays_events_of_the_tenants_day(cast, client):
    events_record_bulk(
        [
            Event(
                action="recording.access_granted",
                tenant_id=cast.acme.pk,
                occurred_at=timezone.now() - timedelta(days=1, hours=2),
            )
        ]
    )
    for _ in range(3):
        event_record(action="recording.access_granted", tenant=cast.acme)
    client.force_login(cast.alice)
    url = reverse("admin:audit_auditevent_changelist")
    today = {"action": "recording.access_granted", "tenant": cast.acme.pk, "occurred": "today"}
    assert _list_count(client, f"{url}?action=recording.access_granted&tenant={cast.acme.pk}") == 4
    assert client.get(url, today).context_data["cl"].result_count == 3
    week = {**today, "occurred": "7d"}
    assert client.get(url, week).context_data["cl"].result_count == 4
    assert client.get(url, {**today, "occurred": "forever"})["Location"].endswith("?e=1")


# --- a panel registered later -------------------------------------------------------------------


def test_a_panel_registered_by_a_feature_shows_to_the_roles_it_names(cast, client):
    seen = []

    def freshness(board) -> PanelContent:
        seen.append(board.tenant)
        return PanelContent(figures=[Figure("Lists older than 30 days", 2)])

    panel_register(
        Panel(
            key="dnc.freshness",
            title="Do-not-call lists",
            build=freshness,
            permissions=("compliance.view_subjectrequest",),
            order=80,
        )
    )
    try:
        assert "dnc.freshness" in _panels(_boards(_index(client, cast.alice))[str(cast.acme.pk)])
        assert "dnc.freshness" not in _panels(_boards(_index(client, cast.dave))[str(cast.acme.pk)])
        assert "dnc.freshness" not in _boards(_index(client, cast.root))[""]
    finally:
        panel_unregister("dnc.freshness")
    assert seen == [cast.acme]


# --- fast at scale ------------------------------------------------------------------------------

LARGE_TABLES = ("recordings_recording", "audit_auditevent")


def test_every_dashboard_query_can_read_an_index(cast, client, world):
    """With sequential scans priced out, no query of the index reads the recordings or the
    trail sequentially: each has an index to read (benchmarks/dashboard.py checks the plans on
    filled tables)."""
    pages = [(cast.alice, reverse("admin:index")), (cast.root, reverse("admin:index"))]
    pages.append((cast.root, reverse("admin:dashboard", args=[cast.acme.pk])))
    sequential = []
    for user, path in pages:
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            try:
                for query in captured.captured_queries:
                    sql = query["sql"]
                    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                        continue
                    if not any(table in sql for table in LARGE_TABLES):
                        continue
                    cursor.execute("EXPLAIN " + sql)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    sequential += [
                        f"{path}: {sql[:200]}"
                        for table in LARGE_TABLES
                        if f"Seq Scan on {table}" in plan
                    ]
            finally:
                cursor.execute("SET enable_seqscan = on")
    assert not sequential, "\n".join(sequential)
