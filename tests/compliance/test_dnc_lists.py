"""Full do-not-call lists imported as versions (compliance/services/dnc_lists.py): a new version is
built beside the one in force and swapped in whole; bad files are refused with their line
numbers and leave the version in force, and no table behind; a killed import is cleaned up by
the next; two imports of one list never run at once; the command's exit codes.

Imports commit as they go (their progress, their batches) and detach tables CONCURRENTLY: these
tests run outside a test transaction.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from compliance import dnc_files
from compliance.dnc_models import DncEntry, DncList, DncListStatus
from compliance.services import dnc_lists
from compliance.services.dnc_lists import (
    DncImportFailed,
    dnc_list_import,
    entries_table,
)
from kit.refusals import Refused

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)

# UK numbers as a TPS file holds them (07400 xxxxxx is a range of UK mobiles).
OLD = [f"07400{n:06d}" for n in range(0, 50)]
NEW = [f"07400{n:06d}" for n in range(25, 100)]


def stored(national: str) -> int:
    return int("44" + national[1:])


def write(tmp_path: Path, lines: list[str] | bytes, name: str = "tps.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    return path


def imported(path: Path, *, days_ago: int = 1, source: str = "tps", tenant=None, **options):
    return dnc_list_import(
        actor=None,
        source=source,
        tenant=tenant,
        path=path,
        version=options.pop("version", f"v{time.monotonic_ns()}"),
        delivered_at=timezone.now() - timedelta(days=days_ago),
        **options,
    )


def tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ "
            "'^compliance_dncentry_[0-9]+$'"
        )
        return {name for (name,) in cursor.fetchall()}


def listed(dnc_list: DncList, national: str) -> bool:
    return DncEntry.objects.filter(list_id=dnc_list.pk, number=stored(national)).exists()


@pytest.fixture
def in_force(cast, tmp_path) -> DncList:
    """A TPS version in force, holding OLD."""
    return imported(write(tmp_path, OLD, "old.txt"), days_ago=10, version="2026-11")


# --- a normal import ------------------------------------------------------------------------------


def test_a_list_is_imported_whole_normalised_and_in_force_with_its_event(cast, tmp_path):
    lines = [
        "07400000001",
        "+447400000002",
        "00447400000003",
        "  07400 000004 ",  # spaces: read through phonenumbers
        "",  # an empty line, skipped
        "0740-000-0005",
    ]
    path = write(tmp_path, lines)
    dnc_list = imported(path, version="2026-12-01")
    assert dnc_list.status == DncListStatus.IN_FORCE
    assert (dnc_list.entry_count, dnc_list.lines_read, dnc_list.rejected_count) == (5, 6, 0)
    assert DncList.objects.in_force().get(source="tps") == dnc_list
    numbers = set(DncEntry.objects.filter(list_id=dnc_list.pk).values_list("number", flat=True))
    assert numbers == {447400000000 + n for n in range(1, 6)}
    event = AuditEvent.objects.get(action="dnc_list.imported")
    assert event.target_id == str(dnc_list.pk)
    assert event.extra["numbers"] == 5 and event.extra["version"] == "2026-12-01"
    assert event.extra["file_sha256"] == dnc_list.file_sha256 and len(dnc_list.file_sha256) == 64
    assert tables() == {entries_table(dnc_list.pk)}


def test_a_new_version_supersedes_the_old_one_whose_numbers_are_dropped(in_force, tmp_path):
    new = imported(write(tmp_path, NEW, "new.txt"), version="2026-12")
    in_force.refresh_from_db()
    assert in_force.status == DncListStatus.SUPERSEDED and in_force.superseded_at
    assert DncList.objects.in_force().get(source="tps") == new
    assert listed(new, NEW[-1]) and not listed(new, OLD[0])
    assert not DncEntry.objects.filter(list_id=in_force.pk).exists()
    assert tables() == {entries_table(new.pk)}  # the old version's table is gone
    superseded = AuditEvent.objects.filter(action="dnc_list.imported").latest("sequence")
    assert superseded.extra["superseded"] == [{"id": in_force.pk, "version": "2026-11"}]


def test_the_version_in_force_answers_while_the_next_one_loads(
    in_force, tmp_path, monkeypatch, django_db_blocker
):
    """A check made from another connection while the new version is half loaded sees the
    version in force, whole; the new one's numbers are not read before the swap, but its
    progress is."""
    monkeypatch.setattr(dnc_lists, "PROGRESS_LINES", 100)
    monkeypatch.setattr(dnc_files, "PIECE_BYTES", 1024)
    path = write(tmp_path, NEW * 20, "new.txt")  # 1,500 lines: several batches
    paused, resume = threading.Event(), threading.Event()
    outcome = {}

    def hold_after_the_first_batch(dnc_list):
        if not paused.is_set():
            paused.set()
            assert resume.wait(30)

    def run():
        try:
            outcome["list"] = imported(path, on_progress=hold_after_the_first_batch)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            outcome["error"] = error
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert paused.wait(30)
        loading = DncList.objects.get(status=DncListStatus.BUILDING)
        assert 0 < loading.lines_read < 1500 and 0 < loading.progress < 100  # seen from here
        assert DncList.objects.in_force().get(source="tps") == in_force
        assert listed(in_force, OLD[0]) and not listed(in_force, NEW[-1])
        assert not DncEntry.objects.filter(list_id=loading.pk).exists()
        assert tables() == {entries_table(in_force.pk)}  # built beside, unseen until swapped in
    finally:
        resume.set()
        worker.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert DncList.objects.in_force().get(source="tps") == outcome["list"]
    assert listed(outcome["list"], NEW[-1])


def test_a_fault_after_the_load_leaves_the_version_in_force_and_no_table(in_force, tmp_path):
    def fail_once_loaded(dnc_list):
        if dnc_list.progress == 100:
            raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="the disk is full"):
        imported(write(tmp_path, NEW, "new.txt"), on_progress=fail_once_loaded)
    failed = DncList.objects.get(status=DncListStatus.FAILED)
    assert "the disk is full" in failed.failure
    assert DncList.objects.in_force().get(source="tps") == in_force
    assert listed(in_force, OLD[0])
    assert tables() == {entries_table(in_force.pk)}
    event = AuditEvent.objects.get(action="dnc_list.import_failed")
    assert event.target_id == str(failed.pk) and "the disk is full" in event.extra["reason"]


def test_an_exception_mid_load_fails_the_version_and_drops_its_table(
    in_force, tmp_path, monkeypatch
):
    monkeypatch.setattr(dnc_lists, "PROGRESS_LINES", 100)
    monkeypatch.setattr(dnc_files, "PIECE_BYTES", 1024)

    def interrupted(dnc_list):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        imported(write(tmp_path, NEW * 20, "new.txt"), on_progress=interrupted)
    failed = DncList.objects.get(status=DncListStatus.FAILED)
    assert 0 < failed.lines_read < 1500
    assert tables() == {entries_table(in_force.pk)}
    assert DncList.objects.in_force().get(source="tps") == in_force


# --- bad input ------------------------------------------------------------------------------------

BAD_FILES = {
    "letters": (b"07400000001\n07400 HELLO1\n07400000003\n", "line 2: letters"),
    "another country": (b"07400000001\n+33612345678\n", "line 2: a number of FR (+33)"),
    "not a number": (b"07400000001\n0740\n", "line 2: not a valid number"),
    "latin-1": ("numéro\n07400000001\n".encode("latin-1"), "not UTF-8 (line 1"),
    "latin-1 further down": (
        b"07400000001\n07400000002\n07400\xe9000003\n",
        "not UTF-8 (line 3",
    ),
    "truncated": (b"07400000001\n07400000002\n074000", "line 3: not a valid number"),
    "csv without a number column": (
        b"name,email\nAnn,ann@example.com\n",
        "line 1 is a CSV header naming no number column (name, email)",
    ),
    "csv without a header": (b"07400000001,2026-01-01\n", "a CSV row without a header"),
    "utf-16": ("07400000001\n".encode("utf-16"), "UTF-16"),
    "nothing": (b"\n\n   \n", "the file holds no number"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES), ids=str)
def test_a_bad_file_is_refused_with_where_and_the_version_in_force_stays(in_force, tmp_path, case):
    content, reason = BAD_FILES[case]
    with pytest.raises(DncImportFailed) as refused:
        imported(write(tmp_path, content, "bad.txt"))
    assert reason in refused.value.message
    failed = refused.value.dnc_list
    assert failed.status == DncListStatus.FAILED and reason in failed.failure
    assert DncList.objects.in_force().get(source="tps") == in_force
    assert listed(in_force, OLD[0])
    assert tables() == {entries_table(in_force.pk)}  # nothing half-imported left
    event = AuditEvent.objects.get(action="dnc_list.import_failed")
    assert reason in event.extra["reason"]


def test_a_truncated_last_line_is_said_to_look_truncated(in_force, tmp_path):
    with pytest.raises(DncImportFailed) as refused:
        imported(write(tmp_path, b"07400000001\n074000", "cut.txt"))
    rejection = refused.value.dnc_list.rejected_lines[0]
    assert rejection["line"] == 2 and "it looks truncated" in rejection["reason"]


def test_a_bom_and_windows_line_ends_are_read(cast, tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf07400000001\r\n07400000002\r\n\r\n")
    assert imported(path).entry_count == 2


def test_a_csv_is_read_by_its_number_column(cast, tmp_path):
    content = (
        b"\xef\xbb\xbfName;T\xc3\xa9l\xc3\xa9phone;Since\n"
        b'Ann;07400000001;2020\n"Smith; Bob";"+44 7400 000002";2021\n\nCy;00447400000003;2022\n'
    )
    dnc_list = imported(write(tmp_path, content, "list.csv"))
    assert dnc_list.entry_count == 3
    assert listed(dnc_list, "07400000002")


def test_up_to_the_rejected_lines_allowed_the_file_is_imported_and_they_are_reported(
    cast, tmp_path
):
    content = b"07400000001\nabc\n07400000002\n+33612345678\n07400000003\n"
    with pytest.raises(DncImportFailed, match="2 rejected lines, 1 allowed"):
        imported(write(tmp_path, content), max_rejected=1)
    dnc_list = imported(write(tmp_path, content), max_rejected=2)
    assert dnc_list.status == DncListStatus.IN_FORCE and dnc_list.entry_count == 3
    assert dnc_list.rejected_count == 2
    assert [item["line"] for item in dnc_list.rejected_lines] == [2, 4]
    event = AuditEvent.objects.filter(action="dnc_list.imported").latest("sequence")
    assert (event.extra["rejected"], event.extra["rejected_allowed"]) == (2, 2)


def test_a_file_of_rejected_lines_stops_being_read_once_enough_are_reported(
    cast, tmp_path, monkeypatch
):
    monkeypatch.setattr(dnc_files, "PIECE_BYTES", 1024)
    content = b"".join(b"+3361234%04d\n" % n for n in range(5000))
    with pytest.raises(DncImportFailed, match=r"at least 1\d\d rejected lines \(reading stopped"):
        imported(write(tmp_path, content))
    failed = DncList.objects.get()
    assert len(failed.rejected_lines) == 100 and failed.lines_read < 5000


def test_an_older_delivery_than_the_version_in_force_is_refused(in_force, tmp_path):
    with pytest.raises(Refused, match="after this one") as refused:
        imported(write(tmp_path, NEW, "new.txt"), days_ago=20)
    assert refused.value.field == "delivered_at"
    assert DncList.objects.count() == 1


def test_an_internal_list_takes_any_valid_number_read_in_the_tenants_country(cast, tmp_path):
    acme = imported(
        write(tmp_path, ["06 12 34 56 78", "+447400000001"], "acme.txt"),
        source="internal",
        tenant=cast.acme,
    )
    numbers = set(DncEntry.objects.filter(list_id=acme.pk).values_list("number", flat=True))
    assert numbers == {33612345678, 447400000001}
    path = write(tmp_path, ["612345678", "+447400000001", "06 12 34 56 78"], "globex.txt")
    with pytest.raises(DncImportFailed, match="line 3: not a valid number"):
        imported(path, source="internal", tenant=cast.globex)  # no Spanish number starts with 0
    globex = imported(path, source="internal", tenant=cast.globex, max_rejected=1)
    numbers = set(DncEntry.objects.filter(list_id=globex.pk).values_list("number", flat=True))
    assert numbers == {34612345678, 447400000001}
    assert DncList.objects.in_force().get(tenant=cast.acme) == acme  # each tenant its own list


def test_bloctel_and_robinson_are_not_imported_as_lists(cast, tmp_path):
    for source in ("bloctel", "robinson"):
        with pytest.raises(Refused, match="screened per campaign"):
            imported(write(tmp_path, ["0612345678"]), source=source)
    assert not DncList.objects.exists()


# --- dead imports, concurrent imports ------------------------------------------------------------


def _command(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    database = connection.settings_dict
    host = quote(database["HOST"] or "", safe="")
    port = f":{database['PORT']}" if database["PORT"] else ""
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{host}{port}/{database['NAME']}",
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "DEBUG": "true",
    }
    return [sys.executable, "manage.py", "import_dnc_list", *arguments], environment


@pytest.mark.slow
def test_a_killed_import_leaves_no_table_and_the_next_import_marks_it_failed(in_force, tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"".join(b"07400%06d\n" % (n % 1_000_000) for n in range(1_500_000)))
    command, environment = _command(
        ["--source", "tps", "--file", str(path), "--delivered-at", timezone.localdate().isoformat()]
    )
    process = subprocess.Popen(  # noqa: S603 - our own command
        command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    killed = None
    while process.poll() is None and time.monotonic() < deadline:
        # Killed mid-COPY: once its progress says it has read some of the file.
        killed = DncList.objects.filter(status=DncListStatus.BUILDING, lines_read__gt=0).first()
        if killed is not None:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(30)
    assert killed is not None, "the import ended before it could be killed"
    killed.refresh_from_db()
    assert killed.status == DncListStatus.BUILDING  # nobody could record anything
    assert DncList.objects.in_force().get(source="tps") == in_force
    assert listed(in_force, OLD[0])

    deadline = time.monotonic() + 30
    while True:  # PostgreSQL ends the killed process's session, and its lock, on its own
        try:
            new = imported(write(tmp_path, NEW, "new.txt"))
            break
        except Refused as refusal:
            assert refusal.status == 409 and time.monotonic() < deadline
            time.sleep(0.1)
    killed.refresh_from_db()
    assert killed.status == DncListStatus.FAILED and "interrupted" in killed.failure
    assert tables() == {entries_table(new.pk)}  # its half-loaded table was rolled back
    assert AuditEvent.objects.filter(
        action="dnc_list.import_failed", target_id=str(killed.pk)
    ).exists()


def test_a_table_left_by_a_crash_is_dropped_by_the_next_import(in_force, tmp_path):
    """A superseded version's table still attached (a crash between the swap and its drop) and
    a table of no version at all are dropped by the list's next import."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE compliance_dncentry_999999 (list_id bigint, number bigint)")
    in_force.status = DncListStatus.SUPERSEDED
    in_force.save(update_fields=["status"])  # as if its successor's import died after the swap
    new = imported(write(tmp_path, NEW, "new.txt"))
    assert tables() == {entries_table(new.pk)}


def test_two_imports_of_one_list_at_once_the_second_is_refused(in_force, tmp_path, monkeypatch):
    monkeypatch.setattr(dnc_lists, "PROGRESS_LINES", 100)
    monkeypatch.setattr(dnc_files, "PIECE_BYTES", 1024)
    paused, resume = threading.Event(), threading.Event()
    outcome = {}

    def hold(dnc_list):
        paused.set()
        assert resume.wait(30)

    def run():
        try:
            outcome["list"] = imported(write(tmp_path, NEW * 20, "first.txt"), on_progress=hold)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert paused.wait(30)
        with pytest.raises(Refused, match="another import of this list is under way") as refused:
            imported(write(tmp_path, NEW, "second.txt"))
        assert refused.value.status == 409
        # Another list is not held up.
        other = imported(write(tmp_path, NEW, "ctps.txt"), source="ctps")
        assert other.status == DncListStatus.IN_FORCE
    finally:
        resume.set()
        worker.join(60)
    assert outcome["list"].status == DncListStatus.IN_FORCE
    assert DncList.objects.filter(source="tps").count() == 2  # the refused one left no row


# --- the command ----------------------------------------------------------------------------------


def test_the_command_imports_and_prints_its_progress_and_outcome(cast, tmp_path, capsys):
    path = write(tmp_path, ["0612345678", "0612", "+33612345679"], "acme.csv")
    call_command(
        "import_dnc_list",
        "--source",
        "internal",
        "--tenant",
        "acme",
        "--file",
        str(path),
        "--version",
        "march",
        "--max-rejected",
        "1",
    )
    out = capsys.readouterr().out
    assert "indexing and swapping in: 100% (3 lines, 2 numbers)" in out  # its progress
    assert "version march in force: 2 numbers from 3 lines, 1 rejected lines" in out
    assert "rejected line 2: not a valid number" in out
    dnc_list = DncList.objects.get(tenant=cast.acme)
    assert dnc_list.imported_by_label == "command:import_dnc_list"
    event = AuditEvent.objects.get(action="dnc_list.imported")
    assert event.actor_username == "command:import_dnc_list"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--source", "bloctel"], "not delivered as a list: its numbers are screened per campaign"),
        (["--source", "tps"], "--delivered-at is required for tps"),
        (["--source", "internal"], "Internal opt-outs: name the tenant whose list it is"),
        (["--source", "internal", "--tenant", "nobody"], "no tenant 'nobody'"),
        (["--source", "tps", "--tenant", "acme", "--delivered-at", "2026-12-01"], "no tenant"),
        (["--source", "tps", "--delivered-at", "yesterday"], "give YYYY-MM-DD"),
        (["--source", "nonsense"], "unknown source 'nonsense'"),
    ],
)
def test_the_command_refuses_with_one_line(cast, tmp_path, arguments, message):
    path = write(tmp_path, ["07400000001"])
    with pytest.raises(CommandError, match=message):
        call_command("import_dnc_list", "--file", str(path), *arguments)
    assert not DncList.objects.exists()


def test_the_commands_exit_codes(cast, tmp_path):
    good = write(tmp_path, OLD, "good.txt")
    bad = write(tmp_path, b"07400000001\n07400 HELLO\n", "bad.txt")
    day = ["--delivered-at", timezone.localdate().isoformat()]
    results = {}
    for name, arguments in {
        "imported": ["--source", "tps", "--file", str(good), *day],
        "rejected": ["--source", "tps", "--file", str(bad), *day],
        "bloctel": ["--source", "bloctel", "--file", str(good)],
    }.items():
        command, environment = _command(arguments)
        results[name] = subprocess.run(  # noqa: S603 - our own command
            command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=120
        )
    assert results["imported"].returncode == 0, results["imported"].stderr
    assert "in force: 50 numbers" in results["imported"].stdout
    for name in ("rejected", "bloctel"):
        assert results[name].returncode != 0
        assert len(results[name].stderr.strip().splitlines()) == 1, results[name].stderr
    assert "line 2: letters" in results["rejected"].stderr
    assert "screened per campaign" in results["bloctel"].stderr


# --- what the checks will read ------------------------------------------------------------------


def test_the_checks_lookups_are_index_scans(in_force, cast):
    """The check (issue 16) reads the versions in force of its lists, one number's entry in
    each, and the tenant's opt-out: each by an index."""
    from compliance.dnc_models import DncOptOut

    plans = []
    for queryset in (
        DncList.objects.in_force().filter(source="tps", tenant=None),
        DncEntry.objects.filter(list_id=in_force.pk, number=stored(OLD[0])),
        DncOptOut.objects.filter(tenant=cast.acme, number="+33612345678"),
    ):
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")  # tiny tables: ask what could be used
            sql, parameters = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", parameters)
            plans.append(" ".join(row[0] for row in cursor.fetchall()))
            cursor.execute("RESET enable_seqscan")
    assert all("Index" in plan for plan in plans), plans
    assert entries_table(in_force.pk) in plans[1]  # pruned to the version's own partition
