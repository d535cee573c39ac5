from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Purpose, RetentionPolicy
from compliance.services.policies import retention_policy_save
from recordings.models import Recording
from recordings.tasks import recompute_retention

from .helpers import ingest

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 9, 1, 10, tzinfo=UTC)


def test_new_tenant_policy_recomputes_only_that_tenants_recordings(
    cast, django_capture_on_commit_callbacks
):
    recent = timezone.now() - timedelta(days=8)
    acme_start = timezone.localtime(recent, ZoneInfo("Europe/Paris")).date()
    globex_start = timezone.localtime(recent, ZoneInfo("Europe/Madrid")).date()
    acme_call = ingest(cast.acme, started_at=recent)
    globex_call = ingest(cast.globex, started_at=recent, number="+34612345678")
    assert acme_call.retain_until == acme_start + relativedelta(months=6)
    policy = RetentionPolicy(
        tenant=cast.acme,
        purpose=Purpose.objects.get(code="quality"),
        name="Acme: 2 months",
        retention_months=2,
        legal_reference="Acme's internal rule",
        effective_from=date(2026, 1, 1),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        retention_policy_save(actor=cast.alice, policy=policy, created=True)
    assert len(callbacks) == 1  # the recompute task is enqueued after commit
    summary = recompute_retention.apply(
        kwargs={"purpose_id": policy.purpose_id, "tenant_id": cast.acme.pk}
    ).get()
    assert summary == {"checked": 1, "changed": 1}
    acme_call.refresh_from_db()
    globex_call.refresh_from_db()
    assert acme_call.retain_until == acme_start + relativedelta(months=2)
    assert acme_call.retention_policy_id == policy.pk
    assert globex_call.retain_until == globex_start + relativedelta(months=6)
    event = AuditEvent.objects.get(action="recording.retention_recomputed")
    assert event.tenant_id == cast.acme.pk
    assert event.extra["recordings"] == [
        {
            "id": acme_call.pk,
            "old": (acme_start + relativedelta(months=6)).isoformat(),
            "new": (acme_start + relativedelta(months=2)).isoformat(),
        }
    ]
    change = AuditEvent.objects.get(action="retention_policy.created")
    assert change.extra["new"]["retention_months"] == 2
    # Shortening deletes nothing by itself: the recording is still there, still active.
    assert Recording.objects.get(pk=acme_call.pk).status == "active"


def test_changing_a_policy_is_audited_with_old_and_new_values(cast):
    policy = RetentionPolicy.objects.get(purpose__code="quality", tenant=None)
    policy.retention_months = 5
    retention_policy_save(actor=cast.root, policy=policy, created=False)
    event = AuditEvent.objects.get(action="retention_policy.changed")
    assert event.extra["old"]["retention_months"] == 6
    assert event.extra["new"]["retention_months"] == 5
    assert policy.history.count() >= 1


def test_recompute_is_idempotent(cast):
    ingest(cast.acme, started_at=STARTED)
    purpose = Purpose.objects.get(code="quality")
    first = recompute_retention.apply(kwargs={"purpose_id": purpose.pk}).get()
    assert first == {"checked": 1, "changed": 0}


def test_shortening_never_lets_the_next_run_delete_before_a_preview_shows_it(cast):
    from recordings.services.purge.preview import purge_preview
    from recordings.services.purge.run import purge_expired_recordings
    from recordings.services.purge.schedule import next_run_date

    old_call = ingest(cast.acme, started_at=datetime(2026, 8, 1, 10, tzinfo=UTC))  # CNIL: Feb
    policy = RetentionPolicy(
        tenant=cast.acme,
        purpose=Purpose.objects.get(code="quality"),
        name="Acme: 1 month",
        retention_months=1,
        legal_reference="Acme's internal rule",
        effective_from=date(2026, 1, 1),
    )
    retention_policy_save(actor=cast.alice, policy=policy, created=True)
    recompute_retention.apply(kwargs={"purpose_id": policy.purpose_id, "tenant_id": cast.acme.pk})
    old_call.refresh_from_db()
    # 1 month would have ended on 2026-09-01; the earliest it may now end is the next run's date.
    assert old_call.retain_until == next_run_date(cast.acme)
    assert purge_expired_recordings().purged == 0
    assert Recording.objects.filter(pk=old_call.pk).exists()
    tomorrow_preview = purge_preview()
    assert tomorrow_preview == [] or all(row["to_delete"] == 0 for row in tomorrow_preview)


def test_a_policy_change_does_not_revive_a_withdrawn_callers_recordings(cast):
    from compliance.services.consents import consent_record

    consent_record(
        recorded_by="ivr",
        tenant=cast.acme,
        customer_number="+33644444444",
        purpose_code="telemarketing",
        decision="granted",
        decided_at=timezone.now() - timedelta(days=1),
        channel="ivr",
    )
    recording = ingest(cast.acme, purpose="telemarketing", number="+33644444444")
    consent_record(
        recorded_by="ivr",
        tenant=cast.acme,
        customer_number="+33644444444",
        purpose_code="telemarketing",
        decision="withdrawn",
        decided_at=timezone.now(),
        channel="ivr",
    )
    recording.refresh_from_db()
    withdrawn_until = recording.retain_until
    recompute_retention.apply(kwargs={"purpose_id": recording.purpose_id})
    recording.refresh_from_db()
    assert recording.retain_until == withdrawn_until
    assert recording.deletion_reason == "consent_withdrawn"
