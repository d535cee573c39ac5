"""The nightly chain verification, through a real Celery worker."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent, Checkpoint
from audit.services import event_record
from audit.tasks import verify_audit_chain

from .tampering import tamper


@pytest.mark.django_db(transaction=True)
def test_nightly_verification_runs_through_a_real_worker(celery_worker):
    for i in range(3):
        event_record(action="recording.played", target_type="test.thing", target_id=i)
    summary = verify_audit_chain.delay().get(timeout=60)
    assert summary == {
        "intact": True,
        "full": False,
        "checked": 3,
        "first_sequence": 1,
        "last_sequence": 3,
        "broken_at": None,
        "reason": "",
    }
    assert Checkpoint.objects.get().sequence == 3


@pytest.mark.django_db
def test_nightly_verification_raises_an_alert_event_when_broken():

    for i in range(3):
        event_record(action="recording.played", target_type="test.thing", target_id=i)
    tamper("UPDATE audit_auditevent SET purpose = 'x' WHERE sequence = 2")
    summary = verify_audit_chain.apply().get()
    assert summary["intact"] is False
    assert summary["broken_at"] == 2
    alert = AuditEvent.objects.get(action="audit.chain_broken")
    assert alert.outcome == "denied"
    assert alert.actor_username == "task:audit.tasks.verify_audit_chain"
    assert not Checkpoint.objects.exists()
