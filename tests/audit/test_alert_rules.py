"""Each alert rule (audit/alerts/rules.py) fed events through the trail: exactly the alerts it
should raise, and none on the neighbouring case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.alerts.rules import IntegrityRule
from audit.models import AuditEvent

from .alerting import SATURDAY, WEDNESDAY, alerts, at, evaluate, event, feed, setting
from .tampering import tamper

pytestmark = pytest.mark.django_db

PLAYED = "recording.played"


def test_volume_alerts_on_more_distinct_recordings_than_the_threshold_in_the_window(cast):
    setting("volume", threshold=3, window_minutes=10)
    start = at(WEDNESDAY, 10)
    sequences = feed(
        *[
            event(
                PLAYED,
                when=start + timedelta(minutes=i),
                user=cast.bob,
                tenant=cast.acme,
                recording=100 + i,
            )
            for i in range(4)
        ]
    )
    evaluate()
    [alert] = alerts("volume")
    assert (alert.tenant, alert.subject_key, alert.subject_label) == (
        cast.acme,
        f"user:{cast.bob.pk}",
        "bob",
    )
    assert alert.event_sequences == sequences
    assert alert.event_count == 4
    assert (alert.window_start, alert.window_end) == (start, start + timedelta(minutes=3))
    assert "4 distinct recordings" in alert.summary


def test_volume_stays_quiet_at_the_threshold_on_repeats_and_across_windows(cast):
    setting("volume", threshold=3, window_minutes=10)
    start = at(WEDNESDAY, 10)
    feed(
        # Three distinct recordings, one of them played twice: not more than three.
        *[
            event(
                PLAYED,
                when=start + timedelta(minutes=i),
                user=cast.bob,
                tenant=cast.acme,
                recording=recording,
            )
            for i, recording in enumerate([1, 2, 2, 3])
        ],
        # Carol's four, each 11 minutes apart: never four in ten minutes.
        *[
            event(
                PLAYED,
                when=start + timedelta(minutes=11 * i),
                user=cast.carol,
                tenant=cast.acme,
                recording=10 + i,
            )
            for i in range(4)
        ],
    )
    evaluate()
    assert alerts() == []


def test_off_hours_alerts_in_the_tenants_zone_and_days_off(cast):
    feed(
        event(PLAYED, when=at(WEDNESDAY, 21), user=cast.bob, tenant=cast.acme, recording=1),
        event(PLAYED, when=at(SATURDAY, 10), user=cast.carol, tenant=cast.acme, recording=2),
        # Within Acme's hours (09:00 to 18:00, Paris) on a Wednesday: quiet.
        event(PLAYED, when=at(WEDNESDAY, 10), user=cast.alice, tenant=cast.acme, recording=3),
        event(PLAYED, when=at(WEDNESDAY, 17, 59), user=cast.dave, tenant=cast.acme, recording=3),
    )
    evaluate()
    assert {alert.subject_label for alert in alerts("off_hours")} == {"bob", "carol"}


def test_a_tenants_own_days_off_override_the_platform_default(cast):
    setting("off_hours", threshold=1, tenant=cast.acme, days_off=[0])  # Mondays only
    monday = at(WEDNESDAY, 10) + timedelta(days=5)
    feed(
        event(PLAYED, when=at(SATURDAY, 10), user=cast.bob, tenant=cast.acme, recording=1),
        event(PLAYED, when=monday, user=cast.carol, tenant=cast.acme, recording=2),
    )
    evaluate()
    assert [alert.subject_label for alert in alerts("off_hours")] == ["carol"]


def test_denied_burst_by_address_and_by_person(cast):
    setting("denied_burst", threshold=5, window_minutes=5)
    start = at(WEDNESDAY, 10)
    feed(
        *[
            event(
                "auth.login_failed",
                when=start + timedelta(seconds=30 * i),
                ip="198.51.100.9",
                outcome="denied",
            )
            for i in range(5)
        ],
        # Four refusals of bob's (any denied event counts): one short of the threshold.
        *[
            event(
                "recording.play_denied",
                when=start + timedelta(seconds=i),
                user=cast.bob,
                tenant=cast.acme,
                ip="192.0.2.1",
                outcome="denied",
                recording=i,
            )
            for i in range(4)
        ],
        # Five from another address, but over ten minutes.
        *[
            event(
                "auth.login_failed",
                when=start + timedelta(minutes=2 * i),
                ip="198.51.100.10",
                outcome="denied",
            )
            for i in range(5)
        ],
    )
    evaluate()
    [alert] = alerts("denied_burst")
    assert (alert.subject_key, alert.subject_label, alert.event_count) == (
        "ip:198.51.100.9",
        "198.51.100.9",
        5,
    )
    assert alert.tenant is None


def test_cross_tenant_probe_raises_one_high_alert_per_person_and_merges_repeats(cast):
    start = at(WEDNESDAY, 10)
    sequences = feed(
        event(
            "access.cross_tenant_refused",
            when=start,
            user=cast.erin,
            tenant=cast.acme,
            recording=7,
            outcome="denied",
        ),
        event(
            "access.cross_tenant_refused",
            when=start + timedelta(minutes=1),
            user=cast.erin,
            tenant=cast.acme,
            recording=8,
            outcome="denied",
        ),
    )
    evaluate()
    [alert] = alerts("cross_tenant")
    assert (alert.severity, alert.subject_label, alert.tenant) == ("high", "erin", cast.acme)
    assert alert.event_sequences == sequences
    assert alert.event_count == 2


def test_download_spike_counts_per_tenant_day(cast):
    setting("download_spike", threshold=2)
    day = at(WEDNESDAY, 10)
    feed(
        *[
            event(
                "recording.downloaded",
                when=day + timedelta(minutes=i),
                user=cast.alice,
                tenant=cast.acme,
                recording=i,
            )
            for i in range(3)
        ],
        # Bob's three straddle midnight in Paris (23:30 and 00:10, 00:20): two per day at most.
        event(
            "recording.downloaded",
            when=at(WEDNESDAY, 23, 30),
            user=cast.bob,
            tenant=cast.acme,
            recording=1,
        ),
        event(
            "recording.downloaded",
            when=at(WEDNESDAY, 23, 59) + timedelta(minutes=11),
            user=cast.bob,
            tenant=cast.acme,
            recording=2,
        ),
        event(
            "recording.downloaded",
            when=at(WEDNESDAY, 23, 59) + timedelta(minutes=21),
            user=cast.bob,
            tenant=cast.acme,
            recording=3,
        ),
    )
    evaluate()
    [alert] = alerts("download_spike")
    assert (alert.subject_label, alert.event_count) == ("alice", 3)


def _grant(user, when, recording, *, justification, purpose="quality", recording_purpose="quality"):
    return event(
        "recording.access_granted",
        when=when,
        user=user,
        tenant=user.memberships.get().tenant,
        recording=recording,
        purpose=purpose,
        justification=justification,
        extra={
            "recording_purpose": recording_purpose,
            "recording_purpose_platform": True,
            "recording_purpose_name": recording_purpose.replace("_", " ").capitalize(),
        },
    )


def test_the_same_justification_across_many_recordings_is_a_purpose_misuse(cast):
    setting("purpose_misuse", threshold=2, window_minutes=60)
    start = at(WEDNESDAY, 10)
    feed(
        *[
            _grant(
                cast.carol,
                start + timedelta(minutes=i),
                20 + i,
                justification="Quality sampling  plan Q4" if i % 2 else "quality sampling plan q4",
            )
            for i in range(3)
        ],
        # Bob gives a reason of its own for each call.
        *[
            _grant(
                cast.bob,
                start + timedelta(minutes=i),
                30 + i,
                justification=f"Complaint ref. 2026-{i} about the agent",
            )
            for i in range(3)
        ],
    )
    evaluate()
    [alert] = alerts("purpose_misuse")
    assert (alert.subject_label, alert.event_count) == ("carol", 3)


def test_a_need_that_does_not_fit_the_recordings_purpose_is_a_purpose_misuse(cast):
    start = at(WEDNESDAY, 10)
    feed(
        # Kept as proof under the Code des assurances: quality review is not a compatible use.
        _grant(
            cast.bob,
            start,
            1,
            justification="Checking the script was read",
            recording_purpose="insurance_telesales",
        ),
        # A complaint fits every recording; quality fits a quality recording.
        _grant(
            cast.alice,
            start,
            2,
            justification="Complaint ref. 118 from the caller",
            purpose="complaint",
            recording_purpose="insurance_telesales",
        ),
        _grant(
            cast.carol,
            start,
            3,
            justification="Monthly quality sampling",
            recording_purpose="quality",
        ),
    )
    evaluate()
    [alert] = alerts("purpose_misuse")
    assert alert.subject_label == "bob"
    assert alert.summary == (
        "listened for “Quality review”, which does not fit the recording's purpose "
        "“Insurance telesales”"
    )


def test_dormant_account_signing_in_after_the_threshold(cast):
    first = at(WEDNESDAY, 10) - timedelta(days=200)
    feed(
        event("auth.login", when=first, user=cast.bob, tenant=cast.acme),
        event("auth.login", when=first + timedelta(days=91), user=cast.bob, tenant=cast.acme),
        event("auth.login", when=first, user=cast.carol, tenant=cast.acme),
        event("auth.login", when=first + timedelta(days=89), user=cast.carol, tenant=cast.acme),
    )
    evaluate()
    [alert] = alerts("dormant_account")
    assert alert.subject_label == "bob"
    # A later run knows bob's last sign-in from the trail (no state lost between runs).
    feed(event("auth.login", when=first + timedelta(days=92), user=cast.bob, tenant=cast.acme))
    evaluate()
    assert alerts("dormant_account")[0].event_count == 1


def test_a_dormant_sign_in_found_on_the_trail_before_the_rule_ran(cast):
    first = at(WEDNESDAY, 10) - timedelta(days=200)
    feed(event("auth.login", when=first, user=cast.bob, tenant=cast.acme))
    evaluate(only=["volume"])  # the dormant rule has not read bob's first sign-in
    from audit.models import AlertRuleCursor

    AlertRuleCursor.objects.filter(rule="dormant_account").update(
        last_sequence=AuditEvent.objects.latest("sequence").sequence
    )
    feed(event("auth.login", when=first + timedelta(days=100), user=cast.bob, tenant=cast.acme))
    evaluate()
    assert [alert.subject_label for alert in alerts("dormant_account")] == ["bob"]


def test_integrity_failure_is_a_high_alert_merged_while_open(cast):
    sequence = feed(event("recording.integrity_failed", when=at(WEDNESDAY, 3), outcome="denied"))[0]
    IntegrityRule.raise_now(
        tenant_id=cast.acme.pk, summary="call 1 changed", event_sequence=sequence
    )
    IntegrityRule.raise_now(
        tenant_id=cast.acme.pk, summary="call 2 changed", event_sequence=sequence + 1
    )
    [alert] = alerts("integrity")
    assert (alert.severity, alert.subject_key, alert.event_count) == ("high", "platform", 2)
    assert AuditEvent.objects.filter(action="alert.raised", target_id=str(alert.pk)).count() == 1
    assert AuditEvent.objects.filter(action="alert.merged", target_id=str(alert.pk)).count() == 1


def test_a_broken_chain_raises_a_platform_integrity_alert():

    from audit.services import event_record
    from audit.tasks import verify_audit_chain

    for i in range(3):
        event_record(action="recording.played", target_type="test.thing", target_id=i)
    tamper("UPDATE audit_auditevent SET purpose = 'x' WHERE sequence = 2")
    verify_audit_chain.apply().get()
    [alert] = alerts("integrity")
    broken = AuditEvent.objects.get(action="audit.chain_broken")
    assert (alert.tenant_id, alert.severity, alert.event_sequences) == (
        None,
        "high",
        [broken.sequence],
    )
    assert "broken at event 2" in alert.summary
