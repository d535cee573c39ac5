"""Alert triage and personal-data breach incidents, through the admin as a compliance officer
uses it (docs/architecture.md, "Alerts and incidents")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.incidents import alert_triage, incident_update
from audit.models import (
    Alert,
    AlertStatus,
    AlertStatusChange,
    AuditEvent,
    Incident,
    IncidentAction,
    IncidentStatus,
    PlaybookAction,
    Severity,
)
from kit.refusals import Refused

from ..factories import alert_for, incident_for

pytestmark = pytest.mark.django_db


def _triage(client, alert, to_status, note):
    return client.post(
        reverse("admin:audit_alert_triage", args=[alert.pk]), {"to_status": to_status, "note": note}
    )


def test_alice_triages_an_alert_opens_an_incident_and_sees_the_hours_left(cast, login):
    alert = alert_for(tenant=cast.acme, subject=cast.carol, summary="carol played 300 calls")
    client = login(cast.alice)

    index = client.get(reverse("admin:index"))
    assert "carol played 300 calls" in index.content.decode()

    page = client.get(reverse("admin:audit_alert_change", args=[alert.pk])).content.decode()
    assert "Triage this alert" in page and f"?alert={alert.pk}" in page
    trail = client.get(reverse("admin:audit_auditevent_changelist"), {"alert": alert.pk})
    assert sorted(event.sequence for event in trail.context["cl"].result_list) == sorted(
        alert.event_sequences
    )

    refused = _triage(client, alert, AlertStatus.INVESTIGATING, "   ")
    assert refused.status_code == 200 and refused.context["form"].errors["note"]
    for status, note in [
        (AlertStatus.INVESTIGATING, "Looking at her queue"),
        (AlertStatus.REAL_DANGER, "She exported calls"),
    ]:
        assert _triage(client, alert, status, note).status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.REAL_DANGER
    steps = AlertStatusChange.objects.filter(alert=alert).values_list("to_status", "changed_by")
    assert list(steps) == [("investigating", cast.alice.pk), ("real_danger", cast.alice.pk)]
    events = AuditEvent.objects.filter(action="alert.triaged", target_id=str(alert.pk))
    assert sorted(events.values_list("justification", flat=True)) == [
        "Looking at her queue",
        "She exported calls",
    ]
    assert {event.actor_username for event in events} == {"alice"}

    page = client.get(reverse("admin:audit_alert_change", args=[alert.pk])).content.decode()
    assert "Open an incident from this alert" in page
    add = reverse("admin:audit_incident_add")
    form = client.get(add, {"tenant": cast.acme.pk, "alerts": alert.pk, "title": alert.summary})
    assert form.status_code == 200
    response = client.post(
        add,
        {
            "tenant": cast.acme.pk,
            "title": "Recordings exported by an agent",
            "nature": "data_exfiltration",
            "alerts": [alert.pk],
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident = Incident.objects.get()
    assert list(incident.alerts.all()) == [alert]
    assert incident.opened_by == cast.alice
    assert incident.deadline == incident.aware_at + timedelta(hours=72)
    assert (
        incident.actions.count()
        == PlaybookAction.objects.filter(tenant__isnull=True, nature="data_exfiltration").count()
        > 0
    )
    assert AuditEvent.objects.filter(action="incident.opened", target_id=str(incident.pk)).exists()

    page = client.get(reverse("admin:audit_incident_change", args=[incident.pk])).content.decode()
    assert "71 h" in page or "72 h" in page
    assert "Preserve evidence" in page  # the checklist of its nature


def test_readers_read_alerts_and_incidents_but_cannot_triage_or_change(cast, login):
    alert = alert_for(tenant=cast.acme, subject=cast.carol, summary="Volume of plays by carol")
    incident = incident_for(tenant=cast.acme, title="Stolen laptop")
    for reader in (cast.bob, cast.dave):
        client = login(reader)
        assert "Volume of plays by carol" in client.get(reverse("admin:index")).content.decode()
        page = client.get(reverse("admin:audit_alert_change", args=[alert.pk]))
        assert page.status_code == 200 and "Triage this alert" not in page.content.decode()
        assert client.get(reverse("admin:audit_alert_triage", args=[alert.pk])).status_code == 403
        assert _triage(client, alert, AlertStatus.INVESTIGATING, "me too").status_code == 403
        page = client.get(reverse("admin:audit_incident_change", args=[incident.pk]))
        assert page.status_code == 200 and "Close this incident" not in page.content.decode()
        closing = reverse("admin:audit_incident_close", args=[incident.pk])
        assert client.post(closing, {"closing_note": "done"}).status_code == 403
    alert.refresh_from_db()
    assert alert.status == AlertStatus.NEW
    # The quality analyst, who is the alert's subject here, sees neither.
    client = login(cast.carol)
    assert "Volume of plays by carol" not in client.get(reverse("admin:index")).content.decode()
    assert client.get(reverse("admin:audit_alert_change", args=[alert.pk])).status_code == 403


def test_an_invalid_transition_is_a_form_error_and_writes_nothing(cast, login):
    alert = alert_for(tenant=cast.acme)
    client = login(cast.alice)
    response = _triage(client, alert, AlertStatus.CLOSED, "closing at once")
    assert response.status_code == 200
    assert response.context["form"].errors["to_status"]
    assert not AlertStatusChange.objects.exists()
    with pytest.raises(Refused) as refusal:
        alert_triage(actor=cast.alice, alert=alert, to_status=AlertStatus.CLOSED, note="x")
    assert refusal.value.field == "to_status"
    assert not AuditEvent.objects.filter(action__startswith="alert.").exists()


def test_an_officer_elsewhere_cannot_triage_or_filter_the_trail_by_the_alert(cast, login):
    alert = alert_for(tenant=cast.acme)
    client = login(cast.erin)
    assert _triage(client, alert, AlertStatus.INVESTIGATING, "probe").status_code == 404
    response = client.get(reverse("admin:audit_auditevent_changelist"), {"alert": alert.pk})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    with pytest.raises(Refused):
        alert_triage(actor=cast.erin, alert=alert, to_status=AlertStatus.INVESTIGATING, note="x")


def test_the_index_lists_open_alerts_most_severe_then_newest_first(cast, login):
    low = alert_for(tenant=cast.acme, severity=Severity.LOW, summary="low one")
    high = alert_for(tenant=cast.acme, severity=Severity.HIGH, summary="high one")
    medium = alert_for(tenant=cast.acme, severity=Severity.MEDIUM, summary="medium one")
    judged = alert_for(tenant=cast.acme, status=AlertStatus.FALSE_ALARM, summary="judged one")
    alert_for(tenant=cast.globex, summary="globex one")
    listed = login(cast.alice).get(reverse("admin:index")).context["open_alerts"]
    assert listed == [high, medium, low]
    assert judged not in listed


def test_an_overdue_incident_is_flagged_in_red_and_its_hours_counted(cast, login):
    overdue = incident_for(
        tenant=cast.acme, title="Ransomware", aware_at=timezone.now() - timedelta(hours=80)
    )
    fresh = incident_for(tenant=cast.acme, title="Lost phone", nature="lost_device")
    page = login(cast.alice).get(reverse("admin:audit_incident_changelist")).content.decode()
    assert 'class="incident-overdue">overdue by 8 h' in page
    assert 'class="incident-on-time">71 h' in page
    index = login(cast.alice).get(reverse("admin:index"))
    assert [incident for incident, _ in index.context["open_incidents"]] == [overdue, fresh]
    assert "style=" not in page.split('id="result_list"')[1].split("</table>")[0]


def test_an_incident_closes_only_once_every_mandatory_action_is_ticked(cast, login):
    incident = incident_for(tenant=cast.acme, title="Phished account")
    client = login(cast.alice)
    closing = reverse("admin:audit_incident_close", args=[incident.pk])
    refused = client.post(closing, {"closing_note": "All sorted"})
    assert refused.status_code == 200
    assert "Mandatory actions are not done yet" in str(refused.context["form"].errors)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN

    change = reverse("admin:audit_incident_change", args=[incident.pk])
    form = client.get(change).context["adminform"].form
    data = {
        name: form[name].value() if form[name].value() is not None else ""
        for name in form.fields
        if name not in ("alerts", "actions_done", "aware_at", "authority_notified_at")
    }
    aware = timezone.localtime(incident.aware_at, timezone.get_fixed_timezone(60))
    mandatory = list(incident.actions.filter(mandatory=True).values_list("pk", flat=True))
    data |= {
        "aware_at_0": aware.strftime("%Y-%m-%d"),
        "aware_at_1": aware.strftime("%H:%M:%S"),
        "authority_notified_at_0": "",
        "authority_notified_at_1": "",
        "subjects_approximate": "120",
        "measures": "Password reset, sessions ended",
        "actions_done": [str(pk) for pk in mandatory],
    }
    data = {key: value for key, value in data.items() if value is not False}
    response = client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    done = IncidentAction.objects.filter(incident=incident, done_at__isnull=False)
    assert set(done.values_list("pk", flat=True)) == set(mandatory)
    assert {action.done_by for action in done} == {cast.alice}
    assert AuditEvent.objects.filter(action="incident.action_done").count() == len(mandatory)
    changed = AuditEvent.objects.get(action="incident.changed", target_id=str(incident.pk))
    assert changed.extra["changed"]["subjects_approximate"] == [None, 120]
    assert changed.extra["changed"]["measures"] == ["(changed)", "(changed)"]

    assert client.post(closing, {"closing_note": "All sorted"}).status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.closed_by) == (IncidentStatus.CLOSED, cast.alice)
    assert AuditEvent.objects.filter(action="incident.closed", justification="All sorted").exists()
    with pytest.raises(Refused):
        incident_update(actor=cast.alice, incident=incident, changes={"measures": "more"})


def test_a_tenants_own_playbook_replaces_the_platforms_for_that_nature(cast, login):
    client = login(cast.alice)
    response = client.post(
        reverse("admin:audit_playbookaction_add"),
        {
            "tenant": cast.acme.pk,
            "nature": "ransomware",
            "position": "0",
            "text": "Call our insurer's hotline",
            "mandatory": "on",
        },
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="playbook.action_added", tenant=cast.acme).exists()
    acme = incident_for(tenant=cast.acme, title="Encrypted", nature="ransomware")
    globex = incident_for(tenant=cast.globex, title="Encrypted", nature="ransomware")
    assert list(acme.actions.values_list("text", flat=True)) == ["Call our insurer's hotline"]
    assert globex.actions.count() > 1
    platform = PlaybookAction.objects.filter(tenant__isnull=True).first()
    page = reverse("admin:audit_playbookaction_change", args=[platform.pk])
    assert client.post(page, {"text": "changed"}).status_code == 403


def test_notifying_the_authority_before_the_breach_was_known_is_refused(cast):
    incident = incident_for(tenant=cast.acme, title="Lost phone", nature="lost_device")
    with pytest.raises(Refused) as refusal:
        incident_update(
            actor=cast.alice,
            incident=incident,
            changes={"authority_notified_at": incident.aware_at - timedelta(hours=1)},
        )
    assert refusal.value.field == "authority_notified_at"
    assert not AuditEvent.objects.filter(action="incident.changed").exists()
    assert Alert.objects.count() == 0
