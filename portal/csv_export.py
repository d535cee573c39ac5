"""CSV that is safe to open in a spreadsheet: every CSV Custodia writes goes through here.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and some also one
that starts with a tab or a carriage return), so text typed by anyone (a justification, a hold
reason, the User-Agent of a failed sign-in) could become a live `=HYPERLINK(...)` in a compliance
officer's spreadsheet. Such a cell is written with a leading apostrophe, as OWASP recommends
("CSV injection"): the spreadsheet shows the text, the apostrophe tells a reader it was escaped.

Numbers are data, not formulas: an int, a float or a Decimal is written as it is, so that a
negative number stays a number a spreadsheet can sum. Text that looks like a number stays text:
a phone number "+33612345678" is written "'+33612345678", which a spreadsheet neither runs nor
turns into the number 33612345678. JSON data (dict, list) is written as JSON.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """`value` as one CSV cell: a number as it is, anything else as text no spreadsheet runs."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file that hands back what is written, so that csv.writer yields lines one by one."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text of a header and rows, line by line (for a StreamingHttpResponse), each cell
    through `csv_cell`."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])
