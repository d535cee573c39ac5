"""The register as files: a CSV of one row per purpose (through kit/csv_export.py, so that no
cell runs as a formula), and an XLSX workbook (openpyxl) with the activities, the processors
and the security measures on sheets of their own. Both carry the controller, the date of
generation and the content's hash."""

from __future__ import annotations

import io
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from kit.csv_export import csv_cell, csv_lines
from kit.times import in_tenant_zone

from .build import (
    ACTIVITY_COLUMNS,
    PROCESSOR_COLUMNS,
    Register,
    headings,
    processor_rows,
    register_rows,
)
from .strings import translate

TRAILER = ("Controller", "Generated on", "Content hash (SHA-256)")


def _trailer(register: Register) -> list[str]:
    return [
        register.tenant.name,
        in_tenant_zone(register.generated_at, register.tenant),
        register.digest,
    ]


def register_csv(register: Register, language: str) -> Iterator[str]:
    """One row per purpose; the controller, the date and the hash on each, so that the file
    stays one table for a spreadsheet and for csv.reader."""
    header = headings((*ACTIVITY_COLUMNS, *TRAILER), language)
    trailer = _trailer(register)
    rows = ([*row, *trailer] for row in register_rows(register, language))
    return csv_lines(header, rows)


def xlsx_cell(value: object) -> object:
    """`value` as one cell of the workbook: escaped as the CSV's (a typed "=..." stays text in
    any spreadsheet), and without the control characters the XLSX's XML cannot hold (a vertical
    tab or an escape pasted from another document), each shown as a space: openpyxl refuses
    them, which failed the whole download."""
    cell = csv_cell(value)
    return ILLEGAL_CHARACTERS_RE.sub(" ", cell) if isinstance(cell, str) else cell


def _sheet(workbook, title: str, header: list[str], rows: list[list]) -> None:
    sheet = workbook.create_sheet(title[:31])
    sheet.append([xlsx_cell(cell) for cell in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([xlsx_cell(value) for value in row])
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = 32
        for cell in column:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"


def register_xlsx(register: Register, language: str) -> bytes:
    workbook = Workbook()
    about = workbook.active
    about.title = translate(language, "Register of processing activities")[:31]
    about.append([translate(language, "Register of processing activities")])
    about["A1"].font = Font(bold=True, size=14)
    for label, value in zip(headings(TRAILER, language), _trailer(register), strict=True):
        about.append([label, xlsx_cell(value)])
    about.column_dimensions["A"].width = 32
    about.column_dimensions["B"].width = 70
    _sheet(
        workbook,
        translate(language, "Processing activities"),
        headings(ACTIVITY_COLUMNS, language),
        register_rows(register, language),
    )
    _sheet(
        workbook,
        translate(language, "Processors and sub-processors"),
        headings(PROCESSOR_COLUMNS, language),
        processor_rows(register, language),
    )
    _sheet(
        workbook,
        translate(language, "Security measures"),
        [translate(language, "Security measures")],
        [[measure.text(language)] for measure in register.measures],
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
