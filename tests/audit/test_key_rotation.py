"""Rotating AUDIT_HMAC_KEY: everything keyed names its key, previous keys still verify and find."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from audit.chain import key_id_of
from audit.models import AuditEvent, Checkpoint
from audit.services import customer_number_search_record, event_record
from audit.verification import audit_chain_verify
from recordings.models import DeletionCertificate
from recordings.services.purge.run import purge_expired_recordings
from recordings.services.purge.verification import deletion_certificates_verify

from ..recordings.helpers import ingest
from .tampering import tamper

pytestmark = pytest.mark.django_db

NEW_KEY = "the-new-audit-hmac-key-after-rotation"
LONG_AGO = timezone.now() - timedelta(days=400)


def _record(n: int) -> None:
    for i in range(n):
        event_record(action="recording.played", target_type="test.thing", target_id=i)


def test_after_a_rotation_the_trail_certificates_and_number_searches_still_verify(
    cast, settings, recordings_dir, login, capsys
):
    old_key = settings.AUDIT_HMAC_KEY
    old_id, new_id = key_id_of(old_key), key_id_of(NEW_KEY)
    ingest(cast.acme, started_at=LONG_AGO)
    purge_expired_recordings(batch_size=10, triggered_by="test")
    customer_number_search_record(
        action="recording.searched", user=cast.bob, number="+33612345678", tenant_ids=[cast.acme.pk]
    )
    before = AuditEvent.objects.count()

    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_PREVIOUS_KEYS = NEW_KEY, [old_key]
    call_command("rotate_audit_key")
    out = capsys.readouterr().out
    assert f"audit events: {before} with key {old_id}\n" in out
    assert f"deletion certificates: 1 with key {old_id}\n" in out
    assert f"signed with key {new_id}" in out
    checkpoint = Checkpoint.objects.latest()
    assert (checkpoint.kind, checkpoint.key_id) == ("rotation", new_id)
    rotated = AuditEvent.objects.get(action="audit.key_rotated")
    assert rotated.key_id == new_id
    assert rotated.extra["counts"]["audit events"] == {old_id: before}

    # New hashes and signatures use the new key; the old ones still verify.
    ingest(cast.acme, started_at=LONG_AGO)
    purge_expired_recordings(batch_size=10, triggered_by="test")
    assert set(DeletionCertificate.objects.values_list("key_id", flat=True)) == {old_id, new_id}
    assert deletion_certificates_verify() == []
    call_command("verify_deletion_certificates")
    result = audit_chain_verify()
    assert result.intact, result.reason
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {old_id, new_id}
    # "Who searched this number?" finds the search recorded under the old key.
    page = login(cast.dave).get(reverse("admin:audit_auditevent_changelist"), {"q": "+33612345678"})
    found = [event.extra.get("user") for event in page.context["cl"].result_list]
    assert found == ["bob"]


def test_a_rotation_without_a_key_in_use_is_refused_in_one_line(settings):
    _record(2)
    old_id = key_id_of(settings.AUDIT_HMAC_KEY)
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_PREVIOUS_KEYS = NEW_KEY, []
    with pytest.raises(CommandError) as error:
        call_command("rotate_audit_key")
    assert str(error.value) == (
        f"key id {old_id} made 2 audit events but is neither AUDIT_HMAC_KEY's nor in "
        "AUDIT_HMAC_PREVIOUS_KEYS: list that key before rotating"
    )
    assert not Checkpoint.objects.exists()
    assert not AuditEvent.objects.filter(action="audit.key_rotated").exists()


def test_a_rotation_over_a_broken_chain_is_refused(settings):

    _record(3)
    tamper("UPDATE audit_auditevent SET purpose = 'x' WHERE sequence = 2")
    settings.AUDIT_HMAC_PREVIOUS_KEYS = [settings.AUDIT_HMAC_KEY]
    settings.AUDIT_HMAC_KEY = NEW_KEY
    with pytest.raises(CommandError, match="the chain is broken at 2"):
        call_command("rotate_audit_key")
    assert not Checkpoint.objects.exists()


def test_certificates_of_a_key_no_longer_listed_are_reported(cast, settings, recordings_dir):
    ingest(cast.acme, started_at=LONG_AGO)
    purge_expired_recordings(batch_size=10, triggered_by="test")
    old_id = key_id_of(settings.AUDIT_HMAC_KEY)
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_PREVIOUS_KEYS = NEW_KEY, []
    certificate = DeletionCertificate.objects.get()
    assert deletion_certificates_verify() == [
        f"certificate {certificate.pk}: signed with key id {old_id}, which is neither "
        "AUDIT_HMAC_KEY's nor in AUDIT_HMAC_PREVIOUS_KEYS"
    ]


def test_a_call_erased_before_a_rotation_still_cannot_be_pushed_again(cast, settings):
    from kit.refusals import Refused
    from recordings.services.purge.erasure import recording_erase

    recording = ingest(cast.acme, call_id="CALL-ERASED")
    recording_erase(actor=cast.alice, recording=recording)
    settings.AUDIT_HMAC_PREVIOUS_KEYS = [settings.AUDIT_HMAC_KEY]
    settings.AUDIT_HMAC_KEY = NEW_KEY
    with pytest.raises(Refused) as refused:
        ingest(cast.acme, call_id="CALL-ERASED")
    assert (refused.value.field, refused.value.status) == ("call_id", 409)


def test_an_export_across_a_rotation_verifies_offline_with_every_key(settings, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    old_key = settings.AUDIT_HMAC_KEY
    _record(3)
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_PREVIOUS_KEYS = NEW_KEY, [old_key]
    call_command("rotate_audit_key")
    _record(2)
    export = tmp_path / "trail.jsonl"
    call_command("verify_audit_chain", "--export", str(export))
    verifier = Path(__file__).resolve().parents[2] / "audit" / "chain.py"

    def offline(*keys: str) -> subprocess.CompletedProcess:
        arguments = [argument for key in keys for argument in ("--hmac-key", key)]
        return subprocess.run(
            [sys.executable, "-I", str(verifier), str(export), *arguments],
            capture_output=True,
            text=True,
        )

    both = offline(NEW_KEY, old_key)
    assert both.returncode == 0, both.stderr
    assert "6 events verified up to sequence 6" in both.stdout  # with audit.key_rotated
    only_new = offline(NEW_KEY)
    assert only_new.returncode == 2
    assert f"keyed with key id {key_id_of(old_key)}" in only_new.stderr
