"""The nightly purge: docs/architecture.md, invariants 1-3 (holds win, nothing early, one
certificate per deletion)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import RetentionPolicy
from compliance.services.consents import consent_record
from compliance.services.legal_holds import legal_hold_place, legal_hold_release
from recordings.models import DeletionCertificate, PendingFileRemoval, PurgeRun, Recording
from recordings.services.purge.certificates import certificate_is_valid
from recordings.services.purge.erasure import RecordingHeld, recording_erase
from recordings.services.purge.run import purge_expired_recordings
from recordings.services.purge.verification import deletion_certificates_verify, orphan_files_sweep
from recordings.storage import read_plain_audio
from recordings.tasks import purge_expired_recordings as purge_task

from .helpers import ingest

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=400)  # CNIL: 6 months -> expired


def _files(folder):
    return {str(path.relative_to(folder)) for path in folder.rglob("*.cstd")}


def test_expired_recordings_are_purged_with_a_signed_certificate_each(cast, recordings_dir):
    old = [ingest(cast.acme, started_at=LONG_AGO) for _ in range(3)]
    fresh = ingest(cast.acme)
    run = purge_expired_recordings(batch_size=2, triggered_by="test")
    assert (run.status, run.purged, run.files_removed, run.failed) == ("finished", 3, 3, 0)
    assert list(Recording.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert _files(recordings_dir) == {fresh.storage_name}
    certificates = DeletionCertificate.objects.order_by("recording_id")
    assert [c.recording_id for c in certificates] == [r.pk for r in old]
    for certificate, recording in zip(certificates, old, strict=True):
        assert certificate.reason == "expired"
        assert certificate.audio_sha256 == recording.audio_sha256
        assert certificate.purge_run_id == run.pk
        assert certificate_is_valid(certificate)
        assert recording.call_id not in certificate.call_id_hash
    purged = AuditEvent.objects.filter(action="recording.purged")
    assert sorted(int(e.target_id) for e in purged) == [r.pk for r in old]
    assert not Recording.history.model.objects.filter(id__in=[r.pk for r in old]).exists()
    assert deletion_certificates_verify() == []


def test_nothing_is_deleted_before_its_last_day(cast):
    recording = ingest(cast.acme, started_at=timezone.now() - timedelta(days=100))
    Recording.objects.filter(pk=recording.pk).update(retain_until=timezone.localdate())
    run = purge_expired_recordings()
    assert run.purged == 0
    assert Recording.objects.filter(pk=recording.pk).exists()


def test_held_recording_survives_purge_and_is_counted(cast, recordings_dir):
    held = ingest(cast.acme, started_at=LONG_AGO, number="+33611111111")
    by_scope = ingest(cast.acme, started_at=LONG_AGO, number="+33622222222")
    free = ingest(cast.acme, started_at=LONG_AGO, number="+33633333333")
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 7",
        reason="Litigation",
        recordings=[held],
    )
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Inquiry 9",
        reason="Regulator",
        customer_number="06 22 22 22 22",
    )
    preview = purge_expired_recordings(dry_run=True)
    assert preview.status == "dry_run"
    assert preview.preview[0]["to_delete"] == 1 and preview.preview[0]["held_back"] == 2
    assert Recording.objects.count() == 3  # a dry run deletes nothing
    run = purge_expired_recordings()
    assert (run.purged, run.skipped_held) == (1, 2)
    assert set(Recording.objects.values_list("pk", flat=True)) == {held.pk, by_scope.pk}
    assert not Recording.objects.filter(pk=free.pk).exists()
    assert _files(recordings_dir) == {held.storage_name, by_scope.storage_name}


def test_a_hold_covers_recordings_that_arrive_later(cast):
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 8",
        reason="Litigation",
        campaign="renewals",
    )
    later = ingest(cast.acme, started_at=LONG_AGO, campaign="renewals")
    assert purge_expired_recordings().purged == 0
    assert Recording.objects.filter(pk=later.pk).exists()


def test_released_hold_no_longer_protects(cast):
    recording = ingest(cast.acme, started_at=LONG_AGO)
    hold = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 1", reason="x", recordings=[recording]
    )
    legal_hold_release(actor=cast.alice, hold=hold, release_reason="Case closed")
    assert purge_expired_recordings().purged == 1


def test_held_recording_survives_an_erasure_request_with_the_reason_reported(cast):
    recording = ingest(cast.acme)
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 2",
        reason="Litigation",
        recordings=[recording],
    )
    with pytest.raises(RecordingHeld, match="Case 2"):
        recording_erase(actor=cast.alice, recording=recording)
    assert Recording.objects.filter(pk=recording.pk, status="active").exists()
    blocked = AuditEvent.objects.get(action="legal_hold.blocked_erasure")
    assert blocked.outcome == "denied" and blocked.extra["holds"] == ["Case 2"]


def test_erasure_deletes_at_once_with_its_reason(
    cast, recordings_dir, django_capture_on_commit_callbacks
):
    recording = ingest(cast.acme)
    with django_capture_on_commit_callbacks(execute=True):
        recording_erase(actor=cast.alice, recording=recording)
    assert not Recording.objects.filter(pk=recording.pk).exists()
    assert DeletionCertificate.objects.get(recording_id=recording.pk).reason == "erasure_request"
    assert _files(recordings_dir) == set()
    assert not PendingFileRemoval.objects.exists()


def test_an_erasure_names_who_erased_on_the_trail_outside_a_request(cast):
    """A service call from a task or a command has no request: the actor given is the one the
    erasure's event and the refusal's event name."""
    recording = ingest(cast.acme)
    recording_erase(actor=cast.alice, recording=recording)
    erased = AuditEvent.objects.get(action="recording.erased")
    assert (erased.actor_id, erased.actor_username) == (cast.alice.pk, "alice")
    held = ingest(cast.acme, number="+33600000001")
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="LIT-9",
        reason="Claim",
        customer_number="+33600000001",
    )
    with pytest.raises(RecordingHeld):
        recording_erase(actor=cast.alice, recording=held)
    blocked = AuditEvent.objects.get(action="legal_hold.blocked_erasure")
    assert blocked.actor_id == cast.alice.pk


def test_erasure_removes_the_file_only_once_the_outer_transaction_commits(
    cast, recordings_dir, django_capture_on_commit_callbacks
):
    recording = ingest(cast.acme)
    with django_capture_on_commit_callbacks(execute=True):  # stands for the outermost commit
        with transaction.atomic():
            recording_erase(actor=cast.alice, recording=recording)
            assert _files(recordings_dir) == {recording.storage_name}  # not committed yet
        assert _files(recordings_dir) == {recording.storage_name}  # a savepoint is no commit
    assert _files(recordings_dir) == set()
    assert not PendingFileRemoval.objects.exists()


def test_erasure_rolled_back_by_the_caller_keeps_the_recording_and_its_audio(
    cast, recordings_dir, django_capture_on_commit_callbacks
):
    """Erasure called by another service or an admin action whose transaction then fails: the
    whole of it rolls back, and the audio must still be there and readable."""
    recording = ingest(cast.acme)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError, match="the caller failed"):
            with transaction.atomic():
                recording_erase(actor=cast.alice, recording=recording)
                raise RuntimeError("the caller failed after the erasure")
    assert callbacks == []  # nothing left to run after a commit
    kept = Recording.objects.get(pk=recording.pk)
    assert kept.status == "active" and kept.storage_name == recording.storage_name
    assert _files(recordings_dir) == {recording.storage_name}
    audio = read_plain_audio(kept)
    assert hashlib.sha256(audio).hexdigest() == kept.audio_sha256
    assert not PendingFileRemoval.objects.exists()
    assert not DeletionCertificate.objects.filter(recording_id=recording.pk).exists()
    assert not AuditEvent.objects.filter(action="recording.erased").exists()


def test_consent_withdrawal_leads_to_deletion_at_the_next_purge(cast, recordings_dir):
    decided = timezone.now() - timedelta(days=2)
    consent_record(
        recorded_by="ivr",
        tenant=cast.acme,
        customer_number="+33644444444",
        purpose_code="telemarketing",
        decision="granted",
        decided_at=decided,
        channel="ivr",
    )
    recording = ingest(cast.acme, purpose="telemarketing", number="+33644444444")
    assert purge_expired_recordings().purged == 0
    consent_record(
        recorded_by="web",
        tenant=cast.acme,
        customer_number="0644444444",
        purpose_code="telemarketing",
        decision="withdrawn",
        decided_at=timezone.now(),
        channel="web_form",
    )
    run = purge_expired_recordings()
    assert run.purged == 1
    certificate = DeletionCertificate.objects.get(recording_id=recording.pk)
    assert certificate.reason == "consent_withdrawn"
    assert AuditEvent.objects.filter(action="recording.consent_withdrawn").exists()


def test_anonymising_policy_keeps_metadata_without_personal_data_or_audio(cast, recordings_dir):
    policy = RetentionPolicy.objects.get(purpose__code="quality", tenant=None)
    policy.action_at_expiry = "anonymise"
    policy.save()
    recording = ingest(cast.acme, started_at=LONG_AGO, agent_code="A7")
    purge_expired_recordings()
    kept = Recording.objects.get(pk=recording.pk)
    assert kept.status == "purged"
    assert (kept.customer_number, kept.agent_code, kept.storage_name) == ("", "", "")
    assert kept.wrapped_key is None
    assert _files(recordings_dir) == set()
    assert (
        not Recording.history.model.objects.filter(id=recording.pk)
        .exclude(customer_number="")
        .exists()
    )


def test_a_storage_error_fails_that_recording_only_and_is_repaired_later(
    cast, recordings_dir, monkeypatch
):
    recordings = [ingest(cast.acme, started_at=LONG_AGO) for _ in range(3)]
    broken = recordings[1].storage_name
    from django.core.files.storage import FileSystemStorage

    original = FileSystemStorage.delete

    def failing_delete(self, name):
        if name == broken:
            raise PermissionError(13, "Permission denied", name)
        return original(self, name)

    monkeypatch.setattr(FileSystemStorage, "delete", failing_delete)
    run = purge_expired_recordings()
    assert (run.purged, run.failed, run.files_removed) == (3, 1, 2)
    assert run.errors[0]["file"] == broken
    assert list(PendingFileRemoval.objects.values_list("storage_name", flat=True)) == [broken]
    monkeypatch.setattr(FileSystemStorage, "delete", original)
    repair = purge_expired_recordings()
    assert repair.files_removed == 1 and repair.failed == 0
    assert _files(recordings_dir) == set()
    assert not PendingFileRemoval.objects.exists()


def test_orphan_files_are_reported_removed_and_audited(cast, recordings_dir):
    recording = ingest(cast.acme)
    orphan = recordings_dir / "1" / "2020" / "01" / "lost.cstd"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"CSTDA1 leftover of a crashed ingestion")
    assert orphan_files_sweep(grace=timedelta(hours=1)) == []  # too recent: maybe in flight
    assert orphan_files_sweep(grace=timedelta(0)) == ["1/2020/01/lost.cstd"]
    assert not orphan.exists()
    assert (recordings_dir / recording.storage_name).exists()
    assert AuditEvent.objects.filter(action="recording.orphan_file_removed").count() == 1


def test_command_dry_run_shows_the_preview_and_deletes_nothing(cast, capsys):
    ingest(cast.acme, started_at=LONG_AGO)
    call_command("purge_expired_recordings", "--dry-run")
    out = capsys.readouterr().out
    assert (
        "Acme Insurance: Quality monitoring (Retention period ended): 1 to delete, "
        "0 kept by legal holds"
    ) in out
    assert Recording.objects.count() == 1
    call_command("purge_expired_recordings", "--batch-size", "10")
    assert "1 purged" in capsys.readouterr().out
    assert PurgeRun.objects.filter(status="finished").count() == 1


def test_command_refuses_a_bad_batch_size(cast):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch-size"):
        call_command("purge_expired_recordings", "--batch-size", "0")


def test_certificate_verifier_finds_a_forged_certificate(cast, capsys):
    ingest(cast.acme, started_at=LONG_AGO)
    purge_expired_recordings()
    DeletionCertificate.objects.update(reason="erasure_request")
    with pytest.raises(SystemExit):
        call_command("verify_deletion_certificates")
    assert "signature does not verify" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_nightly_purge_runs_through_a_real_worker(cast, celery_worker, recordings_dir):
    ingest(cast.acme, started_at=datetime(2024, 1, 1, tzinfo=UTC))
    summary = purge_task.delay(batch_size=50).get(timeout=60)
    assert summary["status"] == "finished"
    assert summary["purged"] == 1
    assert DeletionCertificate.objects.count() == 1
    assert _files(recordings_dir) == set()


def test_an_erased_call_cannot_be_pushed_again(cast):
    from kit.refusals import Refused

    recording = ingest(cast.acme, call_id="CALL-ERASED")
    recording_erase(actor=cast.alice, recording=recording)
    with pytest.raises(Refused) as refused:
        ingest(cast.acme, call_id="CALL-ERASED")
    assert (refused.value.field, refused.value.status) == ("call_id", 409)
    assert "erased" in refused.value.message
    assert not Recording.objects.filter(call_id="CALL-ERASED").exists()


def test_purging_a_recording_removes_its_listening_grants(cast):
    from recordings.models import AccessGrant
    from recordings.services.access import access_grant_request

    recording = ingest(cast.acme, started_at=LONG_AGO)
    access_grant_request(
        user=cast.carol, recording=recording, purpose="quality", justification="QA sample of May"
    )
    assert AccessGrant.objects.filter(recording_id=recording.pk).exists()
    assert purge_expired_recordings().purged == 1
    assert not AccessGrant.objects.filter(recording_id=recording.pk).exists()


def test_certificate_text_is_the_canonical_message_byte_for_byte():
    """The text the deletion core signs and verification recomputes (one definition) stays the
    canonical JSON form it always was, byte for byte: certificates signed before still verify."""
    import json
    from datetime import date

    from recordings.services.purge.certificates import certificate_message

    deleted_at = timezone.now()
    for purpose, reason, policy, version, run, name in [
        ("quality", "expired", 3, 12, 7, "1/2024/01/" + "a" * 32 + ".cstd"),
        ('qualité "spéciale" \\ \t', "erasure_request", None, None, None, ""),
        ("☎ ligne", "no_contract", 0, 1, 2**40, "ü/ñ"),
    ]:
        common = {
            "recording_id": 2**35,
            "tenant_id": 4,
            "call_id_hash": "c" * 64,
            "audio_sha256": "d" * 64,
            "storage_name": name,
            "purpose_code": purpose,
            "policy_id": policy,
            "policy_version": version,
            "reason": reason,
            "purge_run_id": run,
        }
        certificate = DeletionCertificate(
            **common, retain_until=date(2025, 2, 28), deleted_at=deleted_at
        )
        canonical = {
            **common,
            "retain_until": "2025-02-28",
            "deleted_at": deleted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        text = "custodia-deletion-certificate|" + json.dumps(canonical, sort_keys=True)
        assert text == certificate_message(certificate)


@pytest.mark.parametrize("key", ["", "y", "k" * 64, "k" * 65, "clé-" * 40])
def test_signatures_are_hmac_sha256(key):
    import hashlib
    import hmac

    from audit.chain import keyed_digester

    sign = keyed_digester(key)
    for message in ["", "custodia-call-id|1|call-7", "é" * 300, "", "custodia-call-id|1|call-7"]:
        expected = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
        assert sign(message.encode()) == expected  # the keyed object is never changed by one


def test_erasure_certificate_verifies(cast, django_capture_on_commit_callbacks):
    recording = ingest(cast.acme)
    with django_capture_on_commit_callbacks(execute=True):
        recording_erase(actor=cast.alice, recording=recording)
    assert certificate_is_valid(DeletionCertificate.objects.get(recording_id=recording.pk))
    assert deletion_certificates_verify() == []


def test_a_file_the_removal_process_cannot_remove_is_reported_and_repaired_later(
    cast, recordings_dir
):
    """The unlinks of plain file-system storage run in a helper process: its failures are the
    run's failures, and the file stays pending until a later run removes it."""
    recordings = [ingest(cast.acme, started_at=LONG_AGO) for _ in range(3)]
    stuck = recordings_dir / recordings[1].storage_name
    stuck.unlink()
    (stuck / "inside").mkdir(parents=True)  # a directory in its place: unlink fails
    run = purge_expired_recordings()
    assert (run.purged, run.failed, run.files_removed) == (3, 1, 2)
    assert run.errors[0]["file"] == recordings[1].storage_name
    pending = PendingFileRemoval.objects.values_list("storage_name", flat=True)
    assert list(pending) == [recordings[1].storage_name]
    (stuck / "inside").rmdir()
    stuck.rmdir()
    repair = purge_expired_recordings()
    assert repair.files_removed == 1 and repair.failed == 0
    assert not PendingFileRemoval.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_workers_purge_every_recording_once(cast, recordings_dir):
    from collections import Counter

    from audit.verification import audit_chain_verify

    doomed = [ingest(cast.acme, started_at=LONG_AGO, seconds=0.02) for _ in range(40)]
    doomed += [ingest(cast.globex, started_at=LONG_AGO, seconds=0.02) for _ in range(25)]
    kept = ingest(cast.acme, seconds=0.02)
    run = purge_expired_recordings(batch_size=4, workers=3)
    assert (run.status, run.purged, run.files_removed, run.failed) == ("finished", 65, 65, 0)
    run.refresh_from_db()
    assert (run.purged, run.files_removed) == (65, 65)  # the per-batch counts add up too
    assert list(Recording.objects.values_list("pk", flat=True)) == [kept.pk]
    certificates = DeletionCertificate.objects.all()
    assert sorted(c.recording_id for c in certificates) == sorted(r.pk for r in doomed)
    assert all(certificate_is_valid(c) for c in certificates)
    events = AuditEvent.objects.filter(action="recording.purged").values_list("target_id")
    assert Counter(target for (target,) in events) == Counter(str(r.pk) for r in doomed)
    assert _files(recordings_dir) == {kept.storage_name}
    assert not PendingFileRemoval.objects.exists()
    assert audit_chain_verify(full=True).intact
