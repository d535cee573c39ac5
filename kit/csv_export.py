"""CSV that is safe to open in a spreadsheet: every CSV Custodia writes goes through here.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and some also one
that starts with a tab or a carriage return), so text typed by anyone (a justification, a hold
reason, the User-Agent of a failed sign-in) could become a live `=HYPERLINK(...)` in a compliance
officer's spreadsheet. Such a cell is written with a leading apostrophe, as OWASP recommends
("CSV injection"): the spreadsheet shows the text, the apostrophe tells a reader it was escaped.
A spreadsheet also runs such a cell after leading blanks (" =1+1", a newline then "=") and in its
full-width form ("＝1+1", as an East Asian input method types it), so those are escaped too.

Every text cell is quoted, whatever it holds: a spreadsheet in a locale whose list separator is
";" (French, German) does not split on our commas but on semicolons, and would cut an unquoted
"x;=cmd|..." into a second cell starting a live formula.

Numbers are data, not formulas: an int, a float or a Decimal is written as it is, so that a
negative number stays a number a spreadsheet can sum. Text that looks like a number stays text:
a phone number "+33612345678" is written "'+33612345678", which a spreadsheet neither runs nor
turns into the number 33612345678. JSON data (dict, list) is written as JSON. A date-time is
written in ISO 8601 with its offset, in the zone of the request that asked for the CSV (the
viewer's, as on their pages), not in the database's UTC.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from django.utils import timezone

from .times import iso_with_offset

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CHARACTERS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _runs_as_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) or text.lstrip().startswith(_FORMULA_CHARACTERS)


def csv_cell(value: object, zone: tzinfo | None = None) -> object:
    """`value` as one CSV cell: a number as it is, anything else as text no spreadsheet runs; an
    aware date-time in `zone` (by default the current one), with its offset."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, datetime) and timezone.is_aware(value):
        text = iso_with_offset(value, zone)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if _runs_as_formula(text) else text


class _Echo:
    """A file that hands back what is written, so that csv.writer yields lines one by one."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text of a header and rows, line by line (for a StreamingHttpResponse), each cell
    through `csv_cell`: text quoted, numbers not (so that they stay numbers). The zone is the
    one current now: a streamed response is written after the request's zone is gone."""
    return _lines(header, rows, timezone.get_current_timezone())


def _lines(header, rows, zone: tzinfo) -> Iterator[str]:
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_NONNUMERIC)
    yield writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([csv_cell(value, zone) for value in row])
