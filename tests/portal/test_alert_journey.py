"""Issue 13's journey, as the people live it: carol plays thirty recordings in a minute, the rules
read the trail, and alice (compliance officer) finds the alert on the admin index in Chromium,
triages it with a note, marks it a real danger, opens the personal-data breach incident from it
and reads its 72-hour clock.

Headless Debian Chromium driven by Playwright, as tests/portal/test_browser.py; skipped with a
reason where the chromium package is missing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Alert, AlertStatus, AlertStatusChange, AuditEvent, Incident
from recordings.services.ingest import recording_ingest

from ..audio import tone_wav
from ..browser import sign_in as _sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
]

PLAYS = 30


def _carol_plays_thirty_calls(cast) -> None:
    """Thirty calls, each opened for quality with a justification and played, through the
    listening views carol uses."""
    started_at = (timezone.now() - timedelta(hours=3)).isoformat()
    client = Client()
    client.force_login(cast.carol)
    for index in range(PLAYS):
        recording = recording_ingest(
            tenant=cast.acme,
            api_key=None,
            audio=tone_wav(0.2),
            fields={
                "call_id": f"journey-{index:02d}",
                "direction": "inbound",
                "started_at": started_at,
                "customer_number": f"06 12 34 {index // 10:02d} {index % 10:02d}",
                "purpose": "quality",
            },
        ).recording
        granted = client.post(
            reverse("recordings:listen", args=[recording.pk]),
            {"purpose": "quality", "justification": f"Quality sample {index}, team B"},
        )
        assert granted.status_code == 302, granted.content[:300]
        played = client.get(reverse("recordings:stream", args=[recording.pk]))
        assert played.status_code == 200
    plays = AuditEvent.objects.filter(actor_id=cast.carol.pk, action="recording.played")
    assert plays.count() == PLAYS


def test_thirty_plays_raise_one_alert_alice_triages_into_a_breach_with_its_clock(cast, page):
    _carol_plays_thirty_calls(cast)
    call_command("evaluate_alert_rules", verbosity=0)
    [alert] = Alert.objects.filter(tenant=cast.acme, rule="volume")
    assert alert.subject_actor_id == cast.carol.pk and alert.status == AlertStatus.NEW

    _sign_in(page, "alice")
    index = page.locator(".open-alerts-and-incidents")
    assert "open alerts" in index.inner_text().lower()
    index.get_by_role("link", name=alert.summary).click()
    page.wait_for_url(f"**/admin/audit/alert/{alert.pk}/change/")

    for status, label, note in [
        ("investigating", "Investigating", "Thirty calls in a minute: asking her team leader"),
        ("real_danger", "Real danger", "She copied calls to a USB key: breach"),
    ]:
        page.get_by_role("link", name="Triage this alert").click()
        page.select_option("#id_to_status", status)
        page.fill("#id_note", note)
        page.get_by_role("button", name="Record this step").click()
        page.wait_for_url(f"**/admin/audit/alert/{alert.pk}/change/")
        assert f"Alert now {label}" in page.locator(".messagelist").inner_text()

    page.get_by_role("link", name="Open an incident from this alert").click()
    page.select_option("#id_nature", "data_exfiltration")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/audit/incident/")
    incident = Incident.objects.get(tenant=cast.acme)
    assert list(incident.alerts.all()) == [alert]

    page.goto(f"/admin/audit/incident/{incident.pk}/change/")
    clock = page.locator(".field-hours_left_shown").inner_text()
    assert "71 h" in clock or "72 h" in clock, clock
    assert incident.deadline == incident.aware_at + timedelta(hours=72)

    steps = AlertStatusChange.objects.filter(alert=alert).order_by("changed_at")
    assert [(step.to_status, step.changed_by_id) for step in steps] == [
        ("investigating", cast.alice.pk),
        ("real_danger", cast.alice.pk),
    ]
    assert AuditEvent.objects.filter(action="incident.opened", actor_id=cast.alice.pk).exists()
