from __future__ import annotations

import base64
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import Alert, AuditEvent
from recordings import crypto
from recordings.storage import read_plain_audio
from recordings.tasks import verify_integrity

from .helpers import ingest

pytestmark = pytest.mark.django_db


def test_weekly_integrity_check_reports_altered_and_missing_audio(cast, recordings_dir):
    intact, altered, missing = (ingest(cast.acme) for _ in range(3))
    path = recordings_dir / altered.storage_name
    blob = bytearray(path.read_bytes())
    blob[-20] ^= 0xFF
    path.write_bytes(bytes(blob))
    (recordings_dir / missing.storage_name).unlink()
    summary = verify_integrity.apply().get()
    assert summary["checked"] == 3
    assert {failure["recording"] for failure in summary["failures"]} == {altered.pk, missing.pk}
    failed = AuditEvent.objects.filter(action="recording.integrity_failed")
    assert set(failed.values_list("target_id", flat=True)) == {str(altered.pk), str(missing.pk)}
    assert read_plain_audio(intact)
    # One high-severity integrity alert for the tenant, listing both failures' events.
    [alert] = Alert.objects.filter(rule="integrity")
    assert (alert.tenant_id, alert.severity, alert.event_count) == (cast.acme.pk, "high", 2)
    assert sorted(alert.event_sequences) == sorted(failed.values_list("sequence", flat=True))


def test_integrity_command_exits_1_on_a_mismatch(cast, recordings_dir, capsys):
    recording = ingest(cast.acme)
    call_command("verify_recording_integrity")
    (recordings_dir / recording.storage_name).unlink()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_recording_integrity")
    assert exit_info.value.code == 1
    assert f"recording {recording.pk}: the audio file is missing" in capsys.readouterr().err


def test_stored_audio_is_unreadable_without_the_master_key(cast, recordings_dir, settings):
    recording = ingest(cast.acme)
    blob = (recordings_dir / recording.storage_name).read_bytes()
    assert blob.startswith(crypto.AUDIO_MAGIC)
    settings.RECORDINGS_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(crypto.DecryptionFailed):
        read_plain_audio(recording)


def test_a_data_key_does_not_open_another_recordings_audio(cast, recordings_dir):
    first, second = ingest(cast.acme), ingest(cast.acme)
    master = crypto.current_master_key()
    key = crypto.unwrap_key(
        bytes(first.wrapped_key),
        master=master,
        tenant_id=first.tenant_id,
        storage_name=first.storage_name,
    )
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_audio(
            key,
            (recordings_dir / second.storage_name).read_bytes(),
            tenant_id=second.tenant_id,
            storage_name=second.storage_name,
        )


def test_destroying_the_wrapped_key_makes_every_copy_unreadable(cast, recordings_dir):
    recording = ingest(cast.acme)
    backup = (recordings_dir / recording.storage_name).read_bytes()
    recording.wrapped_key = None
    with pytest.raises(crypto.DecryptionFailed):
        read_plain_audio(recording)
    assert backup == (recordings_dir / recording.storage_name).read_bytes()


def test_rotation_rewraps_keys_without_touching_audio(cast, recordings_dir, settings, capsys):
    recordings = [ingest(cast.acme), ingest(cast.globex, number="+34612345678")]
    before = {r.pk: (recordings_dir / r.storage_name).read_bytes() for r in recordings}
    plain = {r.pk: read_plain_audio(r) for r in recordings}
    old_key = settings.RECORDINGS_MASTER_KEY
    settings.RECORDINGS_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    settings.RECORDINGS_PREVIOUS_MASTER_KEYS = [old_key]
    call_command("rotate_master_key")
    assert "2 data keys rewrapped" in capsys.readouterr().out
    settings.RECORDINGS_PREVIOUS_MASTER_KEYS = []  # the old key can now be thrown away
    for recording in recordings:
        recording.refresh_from_db()
        assert recording.master_key_id == crypto.current_master_key().key_id
        assert (recordings_dir / recording.storage_name).read_bytes() == before[recording.pk]
        assert read_plain_audio(recording) == plain[recording.pk]
    assert AuditEvent.objects.filter(action="recording.master_key_rotated").exists()


def test_rotation_without_the_previous_key_fails_in_one_line(cast, settings):
    ingest(cast.acme)
    settings.RECORDINGS_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(CommandError, match="RECORDINGS_PREVIOUS_MASTER_KEYS"):
        call_command("rotate_master_key")


def test_stored_audio_is_on_disk_and_private_before_its_row_commits(
    cast, recordings_dir, monkeypatch
):
    """The recordings storage fsyncs each file and its folder (a crash right after the upload's
    commit leaves no recording whose audio is gone), and keeps it readable by its owner only."""
    synced = []
    real_fsync = os.fsync

    def recording_fsync(descriptor):
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        return real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    recording = ingest(cast.acme)
    path = recordings_dir / recording.storage_name
    assert synced == [str(path), str(path.parent)]
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_storage_never_overwrites_or_renames_audio(recordings_dir):
    from recordings.storage import store_encrypted

    store_encrypted("1/2026/11/a.cstd", b"first")
    with pytest.raises(RuntimeError, match="renamed"):
        store_encrypted("1/2026/11/a.cstd", b"second")
    assert (recordings_dir / "1/2026/11/a.cstd").read_bytes() == b"first"
    assert sorted(p.name for p in (recordings_dir / "1/2026/11").iterdir()) == ["a.cstd"]
