"""Insurance telesales (R.112-7): kept 2 years from signature, destroyed if no contract follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse
from django.utils import timezone

from compliance.services.consents import consent_record
from recordings.models import DeletionCertificate, Recording
from recordings.services.purge.run import purge_expired_recordings

from .helpers import ingest

pytestmark = pytest.mark.django_db

NUMBER = "+33655555555"


def _telesales_call(cast):
    consent_record(
        recorded_by="ivr",
        tenant=cast.acme,
        customer_number=NUMBER,
        purpose_code="insurance_telesales",
        decision="granted",
        decided_at=timezone.now() - timedelta(hours=2),
        channel="ivr",
    )
    return ingest(cast.acme, purpose="insurance_telesales", number=NUMBER, campaign="home-2026")


def test_a_caller_who_refused_is_not_recorded_at_all(cast):
    from kit.refusals import Refused

    consent_record(
        recorded_by="ivr",
        tenant=cast.acme,
        customer_number=NUMBER,
        purpose_code="insurance_telesales",
        decision="refused",
        decided_at=timezone.now() - timedelta(hours=1),
        channel="ivr",
    )
    with pytest.raises(Refused) as refused:
        ingest(cast.acme, purpose="insurance_telesales", number=NUMBER)
    assert (refused.value.field, refused.value.status) == ("consent", 409)
    assert not Recording.objects.exists()


def test_no_contract_destroys_the_recording_at_the_next_purge(cast, login):
    recording = _telesales_call(cast)
    client = login(cast.alice)
    response = client.post(
        reverse("admin:recordings_recording_changelist"),
        {"action": "no_contract_followed", "_selected_action": [recording.pk]},
    )
    assert response.status_code == 302
    assert purge_expired_recordings().purged == 1
    assert DeletionCertificate.objects.get(recording_id=recording.pk).reason == "no_contract"


def test_signed_contract_keeps_the_recording_two_years_from_signature(cast, login):
    recording = _telesales_call(cast)
    login(cast.alice).post(
        reverse("admin:recordings_recording_changelist"),
        {"action": "contract_signed_today", "_selected_action": [recording.pk]},
    )
    recording.refresh_from_db()
    assert recording.retain_until == timezone.localdate() + relativedelta(months=24)


def test_only_compliance_officers_record_outcomes_and_only_for_telesales(cast, login):
    telesales = _telesales_call(cast)
    quality = ingest(cast.acme)
    bob = login(cast.bob)
    bob.post(
        reverse("admin:recordings_recording_changelist"),
        {"action": "no_contract_followed", "_selected_action": [telesales.pk]},
    )
    assert Recording.objects.get(pk=telesales.pk).deletion_reason == "expired"
    alice = login(cast.alice)
    response = alice.post(
        reverse("admin:recordings_recording_changelist"),
        {"action": "no_contract_followed", "_selected_action": [telesales.pk, quality.pk]},
    )
    shown = [
        str(message) for message in alice.get(response.headers["Location"]).context["messages"]
    ]
    assert any("not insurance telesales recordings" in message for message in shown)
    assert Recording.objects.get(pk=telesales.pk).deletion_reason == "expired"


def test_a_policy_change_keeps_the_signature_date_and_the_no_contract_verdict(cast, login):
    from compliance.models import RetentionPolicy
    from compliance.services.policies import retention_policy_save
    from recordings.tasks import recompute_retention

    signed = _telesales_call(cast)
    unsigned = ingest(cast.acme, purpose="insurance_telesales", number=NUMBER)
    alice = login(cast.alice)
    changelist = reverse("admin:recordings_recording_changelist")
    alice.post(changelist, {"action": "contract_signed_today", "_selected_action": [signed.pk]})
    alice.post(changelist, {"action": "no_contract_followed", "_selected_action": [unsigned.pk]})
    signed.refresh_from_db()
    unsigned.refresh_from_db()
    before = (signed.retain_until, unsigned.retain_until, unsigned.deletion_reason)
    policy = RetentionPolicy.objects.get(purpose__code="insurance_telesales", tenant=None)
    policy.legal_reference += " (wording updated)"
    retention_policy_save(actor=cast.root, policy=policy, created=False)
    recompute_retention.apply(kwargs={"purpose_id": policy.purpose_id})
    signed.refresh_from_db()
    unsigned.refresh_from_db()
    assert (signed.retain_until, unsigned.retain_until, unsigned.deletion_reason) == before
    assert signed.retain_until == timezone.localdate() + relativedelta(months=24)
