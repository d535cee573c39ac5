"""Issue 11, finding 3: the trail's integrity against someone with database access.

The attacker here has table-owner rights (triggers off, then on, as a DBA would) but not
AUDIT_HMAC_KEY, which is never in the database: the strongest attacker the keyed chain must
withstand. Each test names what they try and what catches it.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.chain import GENESIS_HASH, content_hash, key_id_of, link_hash
from audit.chain_scan import VERIFY_SQL
from audit.models import AuditEvent, Checkpoint
from audit.services import event_record
from audit.tasks import verify_audit_chain
from audit.verification import audit_chain_verify

from .tampering import tamper

pytestmark = pytest.mark.django_db


def _record(n: int, **kwargs) -> None:
    for i in range(n):
        event_record(action="recording.played", target_type="test.thing", target_id=i, **kwargs)


def _command(*arguments: str, capsys) -> tuple[int, str, str]:
    try:
        call_command("verify_audit_chain", *arguments)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _hash_of(sequence: int) -> str:
    return AuditEvent.objects.values_list("hash", flat=True).get(sequence=sequence)


def _cut_back_to(sequence: int) -> None:
    """Remove every event after `sequence` and rewind the head consistently."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT hash, previous_hash FROM audit_auditevent WHERE sequence = %s", [sequence]
        )
        head_hash, before = cursor.fetchone()
    tamper(
        ("DELETE FROM audit_auditevent WHERE sequence > %s", [sequence]),
        (
            "UPDATE audit_chainhead SET sequence = %s, hash = %s, previous_hash = %s",
            [sequence, head_hash, before],
        ),
    )


def _rewrite_as_unkeyed(first: int, changes: dict | None = None) -> None:
    """Recompute events first.. as scheme 1 (no key needed), after changing `changes` in the
    first one: the only consistent rewrite possible without the key."""
    with connection.cursor() as cursor:
        cursor.execute(VERIFY_SQL, [first - 1, 10**12])
        rows = cursor.fetchall()
    previous_hash = rows[0][1]
    statements = []
    for row in rows:
        values = [*row[4:-1], json.loads(row[-1])]
        if row[0] == first and changes:
            for index, value in changes.items():
                values[index] = value
        chain_hash = link_hash(row[0], previous_hash, content_hash(values))
        statements.append(
            (
                "UPDATE audit_auditevent SET key_id = '', justification = %s, previous_hash = %s,"
                " hash = %s WHERE sequence = %s",
                [values[10], previous_hash, chain_hash, row[0]],
            )
        )
        previous_hash = chain_hash
    statements.append(("UPDATE audit_chainhead SET hash = %s", [previous_hash]))
    tamper(*statements)


# --- 1. the default verification is the whole trail, and says what it re-hashed ----------------


def test_default_verification_finds_an_old_event_changed_behind_the_latest_checkpoint(capsys):
    _record(10)
    assert _command("--incremental", capsys=capsys)[0] == 0  # checkpoint 1 at event 10
    tamper("UPDATE audit_auditevent SET justification = 'edited' WHERE sequence = 3")

    code, out, err = _command(capsys=capsys)
    assert code == 1
    assert "re-hashed events 1..2 (full verification)" in out
    assert err.strip() == "BROKEN at sequence 3: event 3 was changed after it was recorded"
    # The incremental run alone cannot see it (it re-hashes only the events appended since: the
    # chain_broken event and its integrity alert's): that is why it is not the default.
    code, out, _ = _command("--incremental", capsys=capsys)
    assert code == 0
    assert "re-hashed events 11..12 (incremental, after checkpoint 1)" in out


def test_every_output_names_the_range_re_hashed(capsys):
    _record(5)
    code, out, _ = _command(capsys=capsys)
    assert (code, "re-hashed events 1..5 (full verification)" in out) == (0, True)
    _record(3)
    code, out, _ = _command("--incremental", capsys=capsys)
    assert (code, "re-hashed events 6..8 (incremental, after checkpoint 1)" in out) == (0, True)
    summary = verify_audit_chain.apply(kwargs={"full": True}).get()
    assert (summary["full"], summary["first_sequence"], summary["last_sequence"]) == (True, 1, 8)
    summary = verify_audit_chain.apply().get()
    assert (summary["full"], summary["first_sequence"], summary["last_sequence"]) == (False, 9, 8)


def test_the_alert_event_names_the_range_re_hashed():
    _record(4)
    verify_audit_chain.apply().get()
    tamper("UPDATE audit_auditevent SET purpose = 'x' WHERE sequence = 2")
    summary = verify_audit_chain.apply(kwargs={"full": True}).get()
    assert (summary["intact"], summary["broken_at"]) == (False, 2)
    alert = AuditEvent.objects.get(action="audit.chain_broken")
    assert alert.extra["first_sequence"] == 1
    assert alert.extra["last_sequence"] == 1
    assert alert.extra["full"] is True


def test_a_full_verification_runs_every_week_on_the_beat_schedule(settings):
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "audit.tasks.verify_audit_chain"
        and entry.get("kwargs", {}).get("full") is True
    ]
    assert len(entries) == 1
    schedule = entries[0]["schedule"]
    assert len(schedule.day_of_week) == 1  # once a week
    assert len(schedule.hour) == len(schedule.minute) == 1


# --- 2. the chain is keyed ---------------------------------------------------------------------


def test_events_are_keyed_and_their_hash_cannot_be_recomputed_without_the_key(settings):
    _record(3, justification="Monthly QA sample")
    events = list(AuditEvent.objects.order_by("sequence"))
    assert {event.key_id for event in events} == {key_id_of(settings.AUDIT_HMAC_KEY)}
    with connection.cursor() as cursor:
        cursor.execute(VERIFY_SQL, [0, 1])
        row = cursor.fetchone()
    unkeyed = link_hash(1, GENESIS_HASH, content_hash([*row[4:-1], json.loads(row[-1])]))
    assert unkeyed != events[0].hash
    key = settings.AUDIT_HMAC_KEY
    settings.AUDIT_HMAC_KEY = "another-key-that-did-not-make-the-chain"
    result = audit_chain_verify()
    assert result.broken_at == 1
    assert "neither AUDIT_HMAC_KEY's nor in AUDIT_HMAC_PREVIOUS_KEYS" in result.reason
    settings.AUDIT_HMAC_KEY = key
    assert audit_chain_verify().intact


def test_the_key_never_reaches_postgresql(settings):
    statements = []

    def spy(execute, sql, params, many, context):
        statements.append(f"{sql} {params!r}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        _record(3)
        assert audit_chain_verify().intact
    assert statements
    assert not any(settings.AUDIT_HMAC_KEY in statement for statement in statements)


def test_an_event_rewritten_as_unkeyed_is_refused(capsys):
    """The downgrade: without the key, the only consistent rewrite is scheme 1."""
    _record(6)
    _rewrite_as_unkeyed(4, changes={10: "forged justification"})
    code, _, err = _command(capsys=capsys)
    assert code == 1
    assert "BROKEN at sequence 4: event 4 is unkeyed (scheme 1)" in err


def test_a_chain_rewritten_as_unkeyed_with_every_checkpoint_removed_is_refused():
    _record(5)
    assert audit_chain_verify().intact
    _rewrite_as_unkeyed(1, changes={10: "forged"})
    tamper("DELETE FROM audit_checkpoint")
    result = audit_chain_verify()
    assert result.broken_at == 1
    assert "unkeyed" in result.reason


# --- 3. checkpoints: append-only, numbered, chained; the head never moves back ----------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_checkpoint SET sequence = 0",
        "DELETE FROM audit_checkpoint",
        "TRUNCATE audit_checkpoint",
    ],
)
@pytest.mark.django_db(transaction=True)
def test_database_refuses_to_change_checkpoints_from_any_client(statement):
    import psycopg

    _record(1)
    assert audit_chain_verify().intact
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as raw:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            raw.execute(statement)
    assert Checkpoint.objects.count() == 1


def test_checkpoints_are_numbered_and_each_links_to_the_one_before():
    for _ in range(3):
        _record(2)
        assert audit_chain_verify(full=False).intact
    checkpoints = list(Checkpoint.objects.order_by("number"))
    assert [(c.number, c.sequence) for c in checkpoints] == [(1, 2), (2, 4), (3, 6)]
    assert checkpoints[0].previous_signature == ""
    assert [c.previous_signature for c in checkpoints[1:]] == [
        c.signature for c in checkpoints[:-1]
    ]


def test_a_removed_checkpoint_is_found_by_the_full_verification(capsys):
    for _ in range(3):
        _record(2)
        assert audit_chain_verify().intact
    tamper("DELETE FROM audit_checkpoint WHERE number = 2")
    code, _, err = _command("--full", capsys=capsys)
    assert code == 1
    assert "BROKEN at sequence 3: checkpoint 2 missing: signed checkpoints were removed" in err


def test_a_tail_cut_with_its_checkpoints_after_a_kept_one_is_found(capsys):
    """Events after checkpoint 2 removed, and checkpoint 2 too; checkpoint 3 stays (it cannot be
    re-signed without the key)."""
    for _ in range(3):
        _record(2)
        assert audit_chain_verify().intact
    _cut_back_to(3)
    tamper("DELETE FROM audit_checkpoint WHERE number = 2")
    code, _, err = _command("--full", capsys=capsys)
    assert (code, "checkpoint 2 missing" in err) == (1, True)


def test_a_truncated_tail_is_found_as_a_head_that_moved_backwards(capsys):
    _record(6)
    assert audit_chain_verify().intact  # checkpoint 1 at 6
    _cut_back_to(3)
    code, _, err = _command("--full", capsys=capsys)
    assert code == 1
    assert err.strip() == (
        "BROKEN at sequence 4: the chain head is at 3 but signed checkpoint 1 vouches for event "
        "6: the chain moved backwards"
    )


def test_a_checkpoint_moved_to_another_event_does_not_verify():
    _record(6)
    assert audit_chain_verify().intact
    tamper(("UPDATE audit_checkpoint SET sequence = 3, hash = %s", [_hash_of(3)]))
    result = audit_chain_verify()
    assert "checkpoint 1's signature does not verify" in result.reason


# --- 4. anchors outside the database -----------------------------------------------------------


def test_each_checkpoint_is_anchored_in_the_log_and_an_append_only_file(settings, tmp_path, caplog):
    settings.AUDIT_ANCHOR_PATH = tmp_path / "anchors.jsonl"
    caplog.set_level("INFO", logger="audit.anchors")
    _record(2)
    assert audit_chain_verify().intact
    _record(1)
    assert audit_chain_verify().intact
    lines = [json.loads(line) for line in settings.AUDIT_ANCHOR_PATH.read_text().splitlines()]
    assert [(line["checkpoint"], line["sequence"]) for line in lines] == [(1, 2), (2, 3)]
    assert lines[1]["anchor"] == f"3:{_hash_of(3)}"
    assert f"3:{_hash_of(3)}" in caplog.text


def test_anchor_directory_holds_the_anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_PATH = tmp_path
    _record(1)
    assert audit_chain_verify().intact
    assert json.loads((tmp_path / "audit-anchors.jsonl").read_text())["sequence"] == 1


def test_the_chain_verifies_against_its_anchor(capsys):
    _record(5)
    code, out, _ = _command("--against", f"5:{_hash_of(5)}", capsys=capsys)
    assert code == 0
    assert f"matches the anchor 5:{_hash_of(5)}" in out


def test_a_chain_cut_back_consistently_is_found_against_an_anchor_kept_elsewhere(capsys):
    """The strongest attacker without the key: remove the last events and every checkpoint
    that names them, rewind the head. Everything left in the database is consistent."""
    _record(3)
    assert audit_chain_verify().intact  # checkpoint 1 at 3
    _record(3)
    assert audit_chain_verify().intact  # checkpoint 2 at 6
    anchor = f"6:{_hash_of(6)}"  # as kept in the anchor file and the log
    _cut_back_to(3)
    tamper("DELETE FROM audit_checkpoint WHERE number = 2")
    assert _command("--full", capsys=capsys)[0] == 0  # nothing inside the database shows it
    code, _, err = _command("--against", anchor, capsys=capsys)
    assert code == 1
    assert err.strip() == (
        "BROKEN at sequence 4: the anchor names event 6 but the chain ends at 3: events were "
        "removed"
    )


def test_a_rewritten_event_is_found_against_an_anchor():
    _record(4)
    anchor = (3, _hash_of(3))
    _rewrite_as_unkeyed(2, changes={10: "forged"})
    # Even if the downgrade went unseen, the anchor's hash is gone from the chain.
    result = audit_chain_verify(against=anchor)
    assert not result.intact
    assert audit_chain_verify(against=(3, "f" * 64)).broken_at is not None


@pytest.mark.parametrize("value", ["", "12", "abc:def", "5:" + "g" * 64, "5:" + "a" * 63])
def test_a_malformed_anchor_is_refused_in_one_line(value):
    _record(1)
    with pytest.raises(CommandError) as error:
        call_command("verify_audit_chain", "--against", value)
    assert "is not SEQUENCE:HASH" in str(error.value)
    assert "\n" not in str(error.value)
    assert not Checkpoint.objects.exists()


def test_an_anchor_wrong_for_an_existing_event_is_refused(capsys):
    _record(3)
    code, _, err = _command("--against", f"2:{'a' * 64}", capsys=capsys)
    assert code == 1
    assert "BROKEN at sequence 2: event 2's hash is not the anchor's" in err


def test_a_checkpoint_whose_anchor_cannot_be_written_is_not_kept(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.AUDIT_ANCHOR_PATH = blocker / "anchors.jsonl"
    _record(2)
    with pytest.raises(CommandError, match="anchor could not be written to"):
        call_command("verify_audit_chain")
    assert not Checkpoint.objects.exists()
