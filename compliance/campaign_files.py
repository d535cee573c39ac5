"""A file of numbers a person hands in for a campaign (the campaign's own numbers, or a screening
service's answer), read into stored numbers (E.164 without "+", compliance/dnc_numbers.py) with
its rejected lines and their line numbers.

These files are a campaign's, small beside a national list (FILE_MAX_BYTES): they are read whole,
and more tolerantly than a list's (compliance/dnc_files.py, which refuses anything but UTF-8): a
spreadsheet exported by a French or Spanish office is often Latin-1 (Windows-1252) or UTF-16, so
a file that is not UTF-8 is read as UTF-16 (with its byte-order mark) or Windows-1252, and
transcoded before the list's reader reads it line by line (the same layouts: one number per line,
or a CSV whose header names its number column; the same rejections: letters, an invalid number, a
truncated last line). A UTF-8 byte-order mark is skipped.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from .dnc_files import BOM, UTF16_BOMS, FileRefused, ListFileReader, Rejection
from .dnc_numbers import ListNumberReader
from .phone import InvalidNumber

# A campaign's file of a million numbers is some 13 MB; anything much larger is no campaign's.
FILE_MAX_BYTES = 50 * 1024 * 1024


@dataclass
class NumbersRead:
    numbers: list[int] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    lines: int = 0
    encoding: str = "utf-8"


def as_utf8(data: bytes) -> tuple[bytes, str]:
    """`data` in UTF-8, and the encoding it was read in."""
    if data.startswith(UTF16_BOMS):
        return data.decode("utf-16").encode("utf-8"), "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows-1252 leaves five bytes undefined; Latin-1 reads every byte.
        try:
            return data.decode("cp1252").encode("utf-8"), "windows-1252"
        except UnicodeDecodeError:
            return data.decode("latin-1").encode("utf-8"), "latin-1"
    return data, "utf-8"


def read_numbers(data: bytes, *, numbers: ListNumberReader) -> NumbersRead:
    """Every number of `data` (in the file's order, duplicates kept) and every rejected line;
    FileRefused for a file that is no file of numbers (a CSV without a number column)."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    text, encoding = as_utf8(data)
    if not text.strip():
        raise FileRefused(_("the file holds no number"))
    with tempfile.NamedTemporaryFile(suffix=".txt") as copy:
        copy.write(text)
        copy.flush()
        reader = ListFileReader(Path(copy.name), numbers=numbers)
        read = NumbersRead(encoding=encoding)
        for piece in reader.pieces():
            read.numbers.extend(int(line) for line in piece.numbers.split(b"\n") if line)
            read.rejections.extend(piece.rejections)
            read.lines = piece.lines_read
    return read


@dataclass
class LinesRead:
    """A file of one number per line, each number with its line."""

    numbers: list[tuple[int, int]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    encoding: str = "utf-8"


def read_number_lines(data: bytes, *, numbers: ListNumberReader) -> LinesRead:
    """A file of one number per line (a screening service's answer), line by line: each number
    with its line number, each rejected line with why. Empty lines are skipped."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    text, encoding = as_utf8(data)
    read = LinesRead(encoding=encoding)
    lines = text.split(b"\n")
    truncated = not text.endswith(b"\n")
    for index, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            read.numbers.append((index, int(numbers.digits(_digits_only(line)))))
        except InvalidNumber as error:
            reason = str(error)
            if truncated and index == len(lines):
                reason += "; the file ends in the middle of this line: it looks truncated"
            read.rejections.append(Rejection(index, reason))
    return read


def _digits_only(line: bytes) -> bytes:
    """A number written with spaces, dots or dashes between its digits (06 12 34 56 78), as
    digits; anything else (letters) left for the reader to reject."""
    return bytes(c for c in line if c not in b" .-\t")
