"""Ingestion under faults and races: a failed upload leaves no row and no file; an upload and a
withdrawal of the caller's consent never leave a recording kept on a consent that is gone."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from kit.refusals import Refused
from recordings.models import Recording
from recordings.services import ingest as ingest_module
from recordings.services.ingest import recording_ingest
from recordings.storage import read_plain_audio

from ..audio import tone_wav
from ..factories import consent_for

NUMBER = "+33655555555"


def _fields(**overrides):
    fields = {
        "call_id": "call-fault-1",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": NUMBER,
        "purpose": "quality",
    }
    fields.update(overrides)
    return fields


def _files(folder):
    return sorted(path for path in folder.rglob("*") if path.is_file())


@pytest.mark.django_db
def test_storage_failure_leaves_no_row_and_no_event(cast, recordings_dir, settings):
    # A file where the storage wants a folder: every save fails with a real OSError.
    blocker = recordings_dir / "blocked"
    blocker.write_bytes(b"not a folder")
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            **settings.STORAGES["recordings"],
            "OPTIONS": {**settings.STORAGES["recordings"]["OPTIONS"], "location": str(blocker)},
        },
    }
    with pytest.raises(OSError):
        recording_ingest(tenant=cast.acme, api_key=None, audio=tone_wav(1), fields=_fields())
    assert not Recording.objects.exists()
    assert not AuditEvent.objects.filter(action="recording.ingested").exists()
    assert _files(recordings_dir) == [blocker]


@pytest.mark.django_db
def test_database_failure_after_the_file_is_written_leaves_no_file(
    cast, recordings_dir, monkeypatch
):
    """The file is written while the row is inserted; when the transaction fails (here its audit
    event), the file goes too, once its write has finished."""

    def failing_event_record(**kwargs):
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(ingest_module, "event_record", failing_event_record)
    with pytest.raises(RuntimeError):
        recording_ingest(tenant=cast.acme, api_key=None, audio=tone_wav(1), fields=_fields())
    assert not Recording.objects.exists()
    assert _files(recordings_dir) == []


@pytest.mark.django_db
def test_a_registered_recording_has_its_audio_on_disk_when_the_call_returns(cast, recordings_dir):
    audio = tone_wav(1)
    recording = recording_ingest(
        tenant=cast.acme, api_key=None, audio=audio, fields=_fields()
    ).recording
    assert read_plain_audio(Recording.objects.get(pk=recording.pk)) == audio
    assert len(_files(recordings_dir)) == 1


def _grant(cast):
    consent_for(
        tenant=cast.acme, number=NUMBER, purpose_code="insurance_telesales", ago=timedelta(hours=2)
    )


@pytest.mark.django_db(transaction=True)
def test_an_upload_during_a_withdrawal_is_refused_or_ends_with_it(cast, recordings_dir):
    """A withdrawal is being recorded (its transaction open) when the recorder pushes a call that
    rests on that consent. Whatever the timing, the call must not end up kept on the consent that
    was withdrawn: the upload waits for the withdrawal and is refused."""
    _grant(cast)
    withdrawal_open = threading.Event()
    finish_withdrawal = threading.Event()
    failures: list[BaseException] = []

    def withdraw():
        try:
            with transaction.atomic():
                consent_for(
                    tenant=cast.acme,
                    number=NUMBER,
                    purpose_code="insurance_telesales",
                    decision="withdrawn",
                    ago=timedelta(minutes=1),
                )
                withdrawal_open.set()
                finish_withdrawal.wait(timeout=30)
        except BaseException as error:
            failures.append(error)
        finally:
            withdrawal_open.set()
            connection.close()

    outcome: dict[str, object] = {}

    def upload():
        try:
            outcome["result"] = recording_ingest(
                tenant=cast.acme,
                api_key=None,
                audio=tone_wav(1),
                fields=_fields(call_id="call-race-1", purpose="insurance_telesales"),
            )
        except BaseException as error:
            outcome["error"] = error
        finally:
            connection.close()

    withdrawing = threading.Thread(target=withdraw)
    withdrawing.start()
    assert withdrawal_open.wait(timeout=30)
    uploading = threading.Thread(target=upload)
    uploading.start()
    uploading.join(timeout=1.0)
    waited = uploading.is_alive()  # blocked behind the open withdrawal
    finish_withdrawal.set()
    withdrawing.join(timeout=30)
    uploading.join(timeout=30)
    assert not failures, failures
    assert waited, "the upload did not wait for the withdrawal being recorded"
    error = outcome.get("error")
    assert isinstance(error, Refused), outcome
    assert error.field == "consent" and error.status == 409
    assert not Recording.objects.filter(status="active", customer_number=NUMBER).exists()
    assert _files(recordings_dir) == []


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
@pytest.mark.parametrize("prepared", [True, False])
def test_the_upload_statements_are_prepared_unless_turned_off(cast, recordings_dir, prepared):
    """DATABASE_PREPARED_STATEMENTS (prepare_threshold 0, or None behind a pooler that cannot
    keep them): the upload works either way, and only prepares its statements when allowed."""
    connection.ensure_connection()
    raw = connection.connection
    kept = raw.prepare_threshold
    raw.prepare_threshold = 0 if prepared else None
    try:
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")  # psycopg forgets its own then
        recording_ingest(tenant=cast.acme, api_key=None, audio=tone_wav(1), fields=_fields())
        statements = _prepared_statements()
    finally:
        raw.prepare_threshold = kept
    assert Recording.objects.count() == 1
    if prepared:
        assert any("recordings_recording" in text for text in statements)
        assert any("audit_chainhead" in text for text in statements)
    else:
        assert statements == []


@pytest.mark.django_db
def test_the_query_log_shows_the_upload_statements(cast, recordings_dir):
    """While queries are logged (DEBUG, the debug toolbar, assertNumQueries), the hot statements
    run through Django's usual cursor, so the log holds their SQL rather than None."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        recording_ingest(tenant=cast.acme, api_key=None, audio=tone_wav(1), fields=_fields())
    statements = [query["sql"] for query in captured.captured_queries]
    assert None not in statements
    assert any("audit_chainhead" in text for text in statements)
    assert any("INSERT INTO" in text and "recordings_recording" in text for text in statements)
