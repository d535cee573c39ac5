"""docs/architecture.md, invariant 5: the audit log is append-only in PostgreSQL and
hash-chained."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from audit.models import AuditEvent, ChainHead
from audit.services import Event, event_record, events_record_bulk
from audit.verification import audit_chain_verify

from .tampering import tamper

pytestmark = pytest.mark.django_db


def _record(n: int, **kwargs) -> None:
    for i in range(n):
        event_record(action="recording.played", target_type="test.thing", target_id=i, **kwargs)


def test_events_chain_from_genesis_and_verify():
    _record(5, purpose="quality", justification="Monthly QA sample", extra={"x": [1, 2.5, "é"]})
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [event.sequence for event in events] == [1, 2, 3, 4, 5]
    assert events[0].previous_hash == "0" * 64
    for before, after in zip(events, events[1:], strict=False):
        assert after.previous_hash == before.hash
    result = audit_chain_verify(full=True)
    assert result.intact
    assert result.checked == 5
    assert ChainHead.objects.get().sequence == 5


def test_bulk_append_continues_the_same_chain():
    _record(2)
    events_record_bulk([Event(action="recording.purged", target_id=str(i)) for i in range(100)])
    _record(1)
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == list(
        range(1, 104)
    )
    assert audit_chain_verify(full=True).intact


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'x'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "DELETE FROM audit_chainhead",
    ],
)
@pytest.mark.django_db(transaction=True)
def test_database_refuses_to_change_the_trail_from_any_client(statement):
    """A raw psycopg connection, not Django's: the refusal is PostgreSQL's own."""
    import psycopg

    _record(1)
    parameters = connection.get_connection_params()
    with psycopg.connect(**parameters, autocommit=True) as raw:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            raw.execute(statement)
    assert AuditEvent.objects.count() == 1
    assert ChainHead.objects.count() == 1


def test_changed_event_is_found_at_its_sequence_number():
    _record(10)
    tamper("UPDATE audit_auditevent SET justification = 'edited' WHERE sequence = 7")
    result = audit_chain_verify(full=True)
    assert result.broken_at == 7
    assert "changed" in result.reason


def test_removed_event_is_found():
    _record(10)
    tamper("DELETE FROM audit_auditevent WHERE sequence = 4")
    assert audit_chain_verify(full=True).broken_at == 4


def test_removed_last_event_is_found_against_the_chain_head():
    _record(10)
    tamper("DELETE FROM audit_auditevent WHERE sequence = 10")
    assert audit_chain_verify(full=True).broken_at == 10


def test_reordered_events_are_found():
    _record(6)
    tamper(
        "UPDATE audit_auditevent SET target_id = CASE sequence WHEN 3 THEN '4' ELSE '3' END "
        "WHERE sequence IN (3, 4)"
    )
    assert audit_chain_verify(full=True).broken_at == 3


def test_failed_event_rolls_back_the_action_it_records(cast):
    from compliance.models import Tenant

    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - any database error
        Tenant.objects.filter(pk=cast.acme.pk).update(name="Renamed")
        event_record(action="tenant.renamed", target=cast.acme, justification="bad\x00byte")
    cast.acme.refresh_from_db()
    assert cast.acme.name == "Acme Insurance"


def test_verification_resumes_from_a_signed_checkpoint():
    _record(5)
    first = audit_chain_verify(full=False)
    assert first.intact and first.checked == 5
    _record(3)
    second = audit_chain_verify(full=False)
    assert second.checkpoint_used == first.checkpoint_stored
    assert (second.first_sequence, second.last_sequence, second.checked) == (6, 8, 3)
    assert second.intact


def test_command_exits_1_naming_the_broken_sequence(capsys):
    _record(4)
    tamper("UPDATE audit_auditevent SET actor_username = 'mallory' WHERE sequence = 2")
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_chain", "--full")
    assert exit_info.value.code == 1
    assert "BROKEN at sequence 2" in capsys.readouterr().err
    assert AuditEvent.objects.filter(action="audit.chain_broken").exists()


def test_export_verifies_offline_and_detects_edits(tmp_path, settings):
    import json
    import subprocess
    import sys
    from pathlib import Path

    _record(20, extra={"old": {"b": 1, "a": None}, "new": "ü"})
    export = tmp_path / "trail.jsonl"
    call_command("verify_audit_chain", "--export", str(export))
    verifier = Path(__file__).resolve().parents[2] / "audit" / "chain.py"
    ok = subprocess.run(
        [sys.executable, "-I", str(verifier), str(export), "--hmac-key", settings.AUDIT_HMAC_KEY],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "20 events verified up to sequence 20; signature verified" in ok.stdout
    lines = export.read_text().splitlines()
    record = json.loads(lines[5])
    record["justification"] = "forged"
    lines[5] = json.dumps(record)
    export.write_text("\n".join(lines) + "\n")
    without_key = subprocess.run(
        [sys.executable, "-I", str(verifier), str(export)], capture_output=True, text=True
    )
    assert (without_key.returncode, "give --hmac-key" in without_key.stderr) == (2, True)
    broken = subprocess.run(
        [sys.executable, "-I", str(verifier), str(export), "--hmac-key", settings.AUDIT_HMAC_KEY],
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 1
    assert f"sequence {record['sequence']}" in broken.stderr


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_writers_leave_one_unforked_chain():
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            for i in range(500):
                with transaction.atomic():
                    event_record(action="recording.played", target_id=f"{number}-{i}")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == 8000
    result = audit_chain_verify(full=True)
    assert result.intact
    assert result.last_sequence == 8000


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint():
    from audit.chain import content_hash, link_hash

    _record(6)
    assert audit_chain_verify(full=False).intact  # stores a signed checkpoint at 6
    # An attacker with owner rights drops the last events and rewinds the head consistently.
    tamper("DELETE FROM audit_auditevent WHERE sequence > 3")
    with connection.cursor() as cursor:
        cursor.execute("SELECT hash, previous_hash FROM audit_auditevent WHERE sequence = 3")
        head_hash, before = cursor.fetchone()
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = 3, hash = %s, previous_hash = %s",
            [head_hash, before],
        )
    result = audit_chain_verify(full=True)
    assert result.broken_at == 4
    assert "signed checkpoint 1 vouches for event 6" in result.reason
    assert "moved backwards" in result.reason
    assert content_hash and link_hash  # the chain alone would have looked consistent


@pytest.mark.django_db(transaction=True)
def test_events_appended_during_verification_are_not_reported_as_breaks(monkeypatch):
    from audit import chain_scan

    _record(5)
    original = chain_scan.link_hash
    appended = []

    def hash_and_append_concurrently(*arguments):
        if not appended:  # a recorder appends (and commits) while the scan runs
            appended.append(True)
            writer = threading.Thread(target=lambda: (_record(2), connections.close_all()))
            writer.start()
            writer.join()
        return original(*arguments)

    monkeypatch.setattr(chain_scan, "link_hash", hash_and_append_concurrently)
    result = audit_chain_verify(full=True)
    assert appended and AuditEvent.objects.count() == 7
    assert result.intact, result.reason
    assert result.last_sequence == 5
    monkeypatch.undo()
    assert audit_chain_verify().intact


# --- parallel verification: ranges verified in forked processes, seams checked in order --------


@pytest.fixture
def parallel_ranges(monkeypatch):
    """Ranges of 100 events, so that a chain of a few hundred splits into several."""
    from audit import chain_scan

    monkeypatch.setattr(chain_scan, "PARALLEL_RANGE_MIN_EVENTS", 100)

    def verify(**kwargs):
        return audit_chain_verify(full=True, workers=2, parallel_min_events=1, **kwargs)

    return verify


def _bulk(n: int) -> None:
    events_record_bulk(
        [Event(action="recording.purged", target_id=str(i), extra={"n": i}) for i in range(n)]
    )


@pytest.mark.django_db(transaction=True)
def test_parallel_verification_checks_the_same_chain(parallel_ranges):
    _bulk(950)
    result = parallel_ranges()
    assert result.intact, result.reason
    assert (result.checked, result.last_sequence) == (950, 950)
    assert result.last_hash == ChainHead.objects.get().hash


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sequence", [1, 250, 401, 700, 950])
def test_parallel_verification_names_a_changed_event(parallel_ranges, sequence):
    _bulk(950)
    tamper(("UPDATE audit_auditevent SET target_label = 'edited' WHERE sequence = %s", [sequence]))
    result = parallel_ranges()
    assert (result.broken_at, "changed" in result.reason) == (sequence, True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sequence", [1, 301, 302, 950])
def test_parallel_verification_names_a_removed_event(parallel_ranges, sequence):
    _bulk(950)
    tamper(("DELETE FROM audit_auditevent WHERE sequence = %s", [sequence]))
    assert parallel_ranges().broken_at == sequence


@pytest.mark.django_db(transaction=True)
def test_parallel_verification_finds_a_whole_range_removed(parallel_ranges):
    _bulk(950)
    tamper("DELETE FROM audit_auditevent WHERE sequence BETWEEN 200 AND 500")
    result = parallel_ranges()
    assert result.broken_at == 200
    assert result.checked == 199


@pytest.mark.django_db(transaction=True)
def test_parallel_verification_finds_a_rewritten_hash_at_the_seam(parallel_ranges):
    """An attacker who edits event 475 and recomputes its own hash still breaks event 476's
    link, although the two are verified by different processes (ranges end at 475)."""
    from audit.chain import content_bytes, link_hash
    from audit.chain_scan import VERIFY_SQL
    from audit.keys import current_audit_key

    _bulk(950)
    with connection.cursor() as cursor:
        cursor.execute(VERIFY_SQL, [474, 475])
        row = cursor.fetchone()
    values = [*row[4:-1], {"n": 474, "forged": True}]
    # The strongest attacker here: one who holds the key (an insider).
    forged = link_hash(475, row[1], current_audit_key().digest(content_bytes(values)))
    tamper(
        (
            "UPDATE audit_auditevent SET extra = %s::jsonb, hash = %s WHERE sequence = 475",
            ['{"n": 474, "forged": true}', forged],
        )
    )
    result = parallel_ranges()
    assert result.broken_at == 476
    assert "does not link" in result.reason
    assert audit_chain_verify(full=True, workers=1).broken_at == 476  # the single pass agrees


def test_values_the_fast_serialiser_writes_differently_still_verify():
    """Verification hashes with orjson first; where its JSON differs from the canonical form
    (exponents, integers beyond 64 bits), the standard library decides, so such events verify
    and a change to them is still found. Numbers that jsonb gives back otherwise than Python
    wrote them (1e+16 as digits, -0.0 as 0.0) are hashed as jsonb gives them back."""
    extras = [
        {"small": 1e-07, "tiny": 2.5e-12, "plain": 12345.678, "large": 1e16, "huge": 1.5e300},
        {"big": 2**70, "negative": -(2**65)},
        {"text": 'é\u2028\x01"\\', "nested": {"b": [1.5, None, True], "a": {}}},
        {"🙂": 1, "z": 0.1, "A": -0.0, "e+": "1e+16 as text", "l": [-0.0, -2.5e20]},
    ]
    for extra in extras:
        event_record(action="recording.played", target_type="test.thing", extra=extra)
    events_record_bulk([Event(action="recording.purged", extra=extra) for extra in extras])
    result = audit_chain_verify(full=True)
    assert result.intact, result.reason
    assert result.checked == 8
    tamper("UPDATE audit_auditevent SET extra = '{\"big\": 2}'::jsonb WHERE sequence = 6")
    assert audit_chain_verify(full=True).broken_at == 6


def test_an_export_rewritten_as_unkeyed_is_refused_offline(tmp_path, settings):
    """Offline too, only the seal may vouch for unkeyed events: a keyed export rewritten as
    scheme 1 from event 3 on (consistently, as one without the key could) does not verify."""
    import json

    from audit.chain import (
        CONTENT_FIELDS,
        ExportInvalid,
        content_hash,
        link_hash,
        verify_export_lines,
    )

    _record(5)
    export = tmp_path / "trail.jsonl"
    call_command("verify_audit_chain", "--export", str(export))
    lines = export.read_text().splitlines()
    assert verify_export_lines(lines, [settings.AUDIT_HMAC_KEY]) == (5, 5)
    previous_hash = json.loads(lines[2])["hash"]  # event 2's
    for index in range(3, 6):
        record = json.loads(lines[index])
        record["key_id"] = ""
        record["previous_hash"] = previous_hash
        digest = content_hash([record[name] for name in CONTENT_FIELDS])
        record["hash"] = previous_hash = link_hash(record["sequence"], previous_hash, digest)
        lines[index] = json.dumps(record)
    with pytest.raises(ExportInvalid) as invalid:
        verify_export_lines(lines, [settings.AUDIT_HMAC_KEY])
    assert invalid.value.sequence == 3
    assert "unkeyed" in str(invalid.value)


def test_an_export_written_before_keys_still_verifies_offline(settings):
    import json

    from audit.chain import (
        CONTENT_FIELDS,
        GENESIS_HASH,
        content_hash,
        legacy_checkpoint_signature,
        link_hash,
        verify_export_lines,
    )

    key = settings.AUDIT_HMAC_KEY
    header = {"custodia_audit_export": 1, "first_sequence": 1, "previous_hash": GENESIS_HASH}
    lines = [json.dumps(header)]
    previous_hash = GENESIS_HASH
    for sequence in (1, 2):
        values = [
            "2026-11-28T16:39:29.123456Z", 1, None, "", "auth.login", "allowed", "", "", "",
            "", "", "10.0.0.1", "", "", "", {"n": sequence},
        ]  # fmt: skip
        record = dict(zip(CONTENT_FIELDS, values, strict=True))
        chain_hash = link_hash(sequence, previous_hash, content_hash(values))
        record.update(sequence=sequence, previous_hash=previous_hash, hash=chain_hash)
        lines.append(json.dumps(record))
        previous_hash = chain_hash
    created_at = "2026-11-28T17:00:00.000000Z"
    signature = legacy_checkpoint_signature(key, 2, previous_hash, created_at)
    lines.append(
        json.dumps(
            {
                "checkpoint": {
                    "sequence": 2,
                    "hash": previous_hash,
                    "created_at": created_at,
                    "signature": signature,
                }
            }
        )
    )
    assert verify_export_lines(lines, [key]) == (2, 2)
