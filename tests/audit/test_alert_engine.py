"""The evaluation of the alert rules (audit/alerts/engine.py): merging into open alerts, per-tenant
settings, a failing rule, bad settings, the command and the beat task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from audit.alerts.rules import VolumeRule
from audit.models import AlertRuleCursor, AlertRuleSetting, AlertStatus, AuditEvent
from audit.tasks import evaluate_alert_rules
from recordings.services.access import access_grant_request

from ..recordings.helpers import ingest
from .alerting import WEDNESDAY, alerts, at, evaluate, event, feed, setting

pytestmark = pytest.mark.django_db

PLAYED = "recording.played"


def _plays(user, tenant, first_recording: int, count: int, start):
    return [
        event(
            PLAYED,
            when=start + timedelta(seconds=i),
            user=user,
            tenant=tenant,
            recording=first_recording + i,
        )
        for i in range(count)
    ]


def test_events_on_an_open_alert_widen_it_and_a_closed_one_is_not_reopened(cast):
    setting("volume", threshold=2, window_minutes=10)
    start = at(WEDNESDAY, 10)
    first = feed(*_plays(cast.bob, cast.acme, 1, 3, start))
    evaluate()
    later = feed(*_plays(cast.bob, cast.acme, 4, 2, start + timedelta(minutes=2)))
    evaluate()
    [alert] = alerts("volume")
    assert alert.event_sequences == first + later
    assert alert.event_count == 5
    assert alert.window_end == start + timedelta(minutes=2, seconds=1)
    assert AuditEvent.objects.filter(action="alert.raised", target_id=str(alert.pk)).count() == 1
    merged = AuditEvent.objects.get(action="alert.merged", target_id=str(alert.pk))
    assert merged.extra["events"] == 2
    alert.status = AlertStatus.CLOSED
    alert.save()
    feed(*_plays(cast.bob, cast.acme, 10, 3, start + timedelta(minutes=30)))
    evaluate()
    assert [a.status for a in alerts("volume")] == ["closed", "new"]


def test_nothing_new_raises_nothing_and_reads_nothing(cast):
    feed(*_plays(cast.bob, cast.acme, 1, 3, at(WEDNESDAY, 22)))
    assert evaluate().raised == 1
    again = evaluate()
    # The first run's own alert.raised event is all there is to read.
    assert (again.raised, again.merged, again.events_read) == (0, 0, 1)
    assert evaluate().events_read == 0


def test_a_tenants_setting_overrides_the_platform_default(cast):
    setting("volume", threshold=2, window_minutes=10)
    setting("volume", threshold=10, window_minutes=10, tenant=cast.acme)
    start = at(WEDNESDAY, 10)
    feed(*_plays(cast.bob, cast.acme, 1, 5, start), *_plays(cast.erin, cast.globex, 1, 5, start))
    evaluate()
    assert [alert.subject_label for alert in alerts("volume")] == ["erin"]


def test_a_disabled_rule_raises_nothing(cast):
    setting("off_hours", threshold=1, enabled=False)
    feed(event(PLAYED, when=at(WEDNESDAY, 23), user=cast.bob, tenant=cast.acme, recording=1))
    evaluate()
    assert alerts() == []


def test_a_failing_rule_is_skipped_without_stopping_the_others_and_retried(
    cast, monkeypatch, caplog
):
    setting("volume", threshold=2, window_minutes=10)
    feed(*_plays(cast.bob, cast.acme, 1, 3, at(WEDNESDAY, 23)))

    def broken(self, event):
        raise RuntimeError("rule bug")

    monkeypatch.setattr(VolumeRule, "feed", broken)
    from audit.alerts.engine import alert_rules_evaluate

    result = alert_rules_evaluate(chunk_size=2)
    assert result.failed == {"volume": "RuntimeError: rule bug"}
    assert "alert rule volume failed" in caplog.text
    # The others went on (bob played at 23:00: off hours); volume's cursor stayed behind.
    assert [alert.rule for alert in alerts()] == ["off_hours"]
    assert (
        AlertRuleCursor.objects.get(rule="volume").last_sequence
        < AlertRuleCursor.objects.get(rule="off_hours").last_sequence
    )
    monkeypatch.undo()
    evaluate()
    [alert] = alerts("volume")
    assert alert.event_count == 3


def test_the_listening_service_puts_the_recordings_purpose_on_the_grant_event(cast):
    recording = ingest(cast.acme, purpose="quality")
    access_grant_request(
        user=cast.carol, recording=recording, purpose="quality", justification="Monthly sampling"
    )
    granted = AuditEvent.objects.get(action="recording.access_granted")
    assert granted.extra["recording_purpose"] == "quality"
    assert granted.extra["recording_purpose_platform"] is True
    evaluate(only=["purpose_misuse"])
    assert alerts() == []


def test_a_zero_threshold_or_a_window_under_a_minute_is_refused_by_the_model(cast):
    for threshold, window, field in [(0, 10, "threshold"), (3, 0, "window_minutes")]:
        with pytest.raises(ValidationError) as refusal:
            AlertRuleSetting(rule="volume", threshold=threshold, window_minutes=window).full_clean()
        assert field in refusal.value.message_dict


def _form(tenant, /, **values):
    data = {
        "tenant": tenant.pk,
        "rule": "volume",
        "enabled": "on",
        "threshold": "5",
        "window_minutes": "10",
        "days_off": ["5", "6"],
    }
    data.update(values)
    return data


def test_an_officer_sets_her_tenants_threshold_audited_and_bad_values_are_form_errors(cast, login):
    client = login(cast.alice)
    url = "/admin/audit/alertrulesetting/add/"
    for bad in ({"threshold": "0"}, {"window_minutes": "-5"}):
        response = client.post(url, _form(cast.acme, **bad))
        assert response.status_code == 200
        assert response.context["adminform"].form.errors
    assert not AlertRuleSetting.objects.exists()
    response = client.post(url, _form(cast.acme, days_off=["6"]))
    assert response.status_code == 302, response.content[:2000]
    saved = AlertRuleSetting.objects.get()
    assert (saved.tenant, saved.threshold, saved.days_off) == (cast.acme, 5, [6])
    changed = AuditEvent.objects.get(action="alert_rule.changed")
    assert changed.actor_id == cast.alice.pk
    assert changed.extra["new"]["threshold"] == 5


def test_only_a_platform_operator_sets_the_platform_default(cast, login):
    response = login(cast.alice).post(
        "/admin/audit/alertrulesetting/add/", _form(cast.acme, tenant="")
    )
    assert response.status_code == 200
    assert "tenant" in response.context["adminform"].form.errors
    response = login(cast.root).post(
        "/admin/audit/alertrulesetting/add/", _form(cast.acme, tenant="")
    )
    assert response.status_code == 302
    assert AlertRuleSetting.objects.get().tenant is None


def test_the_command_evaluates_and_refuses_a_bad_chunk_size(cast, capsys):
    feed(*_plays(cast.bob, cast.acme, 1, 1, at(WEDNESDAY, 23)))
    call_command("evaluate_alert_rules", "--rule", "off_hours")
    assert "1 alerts raised" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--chunk-size"):
        call_command("evaluate_alert_rules", "--chunk-size", "0")


def test_the_task_runs_every_minute_by_default_as_itself(cast):
    entry = settings.CELERY_BEAT_SCHEDULE["evaluate-alert-rules"]
    assert entry == {"task": "audit.tasks.evaluate_alert_rules", "schedule": 60}
    feed(*_plays(cast.bob, cast.acme, 1, 1, at(WEDNESDAY, 23)))
    summary = evaluate_alert_rules.apply().get()
    assert summary["raised"] == 1
    raised = AuditEvent.objects.get(action="alert.raised")
    assert raised.actor_username == "task:audit.tasks.evaluate_alert_rules"
