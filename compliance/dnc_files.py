"""What a do-not-call list's file holds, read piece by piece: one number per line, or a CSV whose
header names its number column; each number normalised (compliance/dnc_numbers.py), each line that
holds no usable number reported with its line number.

The file is read in pieces of PIECE_BYTES, so the memory stays flat whatever its size (a TPS
file holds 20 million numbers). Each piece gives its numbers as COPY text (one E.164 number
without "+" per line, what `COPY ... (number) FROM STDIN` reads), its rejected lines, and how far
the file has been read.

What is refused, for the whole file (`FileRefused`): bytes that are not UTF-8 (a Latin-1 or
UTF-16 export), a CSV whose header names no number column, a line longer than any list's. What is
rejected, line by line (`Rejection`): letters, a number that is no valid number, a number of
another country on a national list, a CSV row without its number; a last line cut short (no end
of line) that is no number says the file looks truncated. Empty lines are skipped. Whether a file
with rejected lines is imported is the caller's decision (compliance/services/dnc_lists.py).
"""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from kit.refusals import grouped

from .dnc_numbers import ListNumberReader
from .phone import InvalidNumber

PIECE_BYTES = 1 << 20
# A line longer than this is no line of a list of numbers (a binary file, one without ends of
# line): refused rather than held in memory.
LONGEST_LINE = 1 << 16
# How many rejected lines a report keeps (the count says how many in all).
REPORTED_REJECTIONS = 100

# Header names of the number column, compared without case, accents, spaces, "_", "-" or ".".
NUMBER_COLUMNS = (
    "number",
    "phone",
    "phonenumber",
    "telephone",
    "telephonenumber",
    "tel",
    "msisdn",
    "mobile",
    "e164",
    "numero",
    "numerodetelephone",
    "telefono",
    "numerodetelefono",
)
DELIMITERS = (",", ";", "\t", "|")
BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class FileRefused(Exception):
    """The whole file is refused: `reason` says why, in a line its sender can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class Piece:
    """What one piece of the file gave. `lines_read` and `bytes_read` count from the file's
    start, up to the end of this piece's last whole line."""

    numbers: bytes
    count: int
    lines_read: int
    bytes_read: int
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class _Layout:
    """How the file's lines hold their number: the whole line, or one column of a CSV."""

    column: int | None = None
    delimiter: str = ","
    header_lines: int = 0


def _header_name(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def delimiter_of(line: str) -> str:
    """The delimiter a CSV line uses most of (DELIMITERS); a comma when it holds none."""
    counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def number_column(cells: list[str]) -> int | None:
    """Which of a header's cells names the number column (NUMBER_COLUMNS, compared without case,
    accents or punctuation); None when none does."""
    for column, cell in enumerate(cells):
        if _header_name(cell) in NUMBER_COLUMNS:
            return column
    return None


def _layout(first_line: bytes, number: int) -> _Layout:
    """From the file's first line (`number`, after any empty ones): a header naming the number
    column (CSV), or a line of the list itself (one number per line)."""
    try:
        text = first_line.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise _not_utf8(number, error.start) from error
    delimiter = delimiter_of(text)
    cells = next(csv.reader([text], delimiter=delimiter)) if text else []
    names = [_header_name(cell) for cell in cells]
    if (column := number_column(cells)) is not None:
        return _Layout(column=column, delimiter=delimiter, header_lines=1)
    if delimiter in text:
        if not any(name.isalpha() for name in names):
            raise FileRefused(
                format_lazy(
                    _(
                        "line {line} is a CSV row without a header: a CSV file starts with a "
                        "header naming its number column (number, phone, telephone or msisdn)"
                    ),
                    line=number,
                )
            )
        # The header's names only, never a row's values (they may be numbers).
        shown = ", ".join(cell.strip()[:40] for cell in cells[:8] if _header_name(cell).isalpha())
        raise FileRefused(
            format_lazy(
                _(
                    "line {line} is a CSV header naming no number column ({shown}): name it "
                    "number, phone, telephone or msisdn"
                ),
                line=number,
                shown=shown,
            )
        )
    return _Layout()


def _not_utf8(line: int, offset_in_line: int) -> FileRefused:
    return FileRefused(
        format_lazy(
            _(
                "the file is not UTF-8 (line {line}, byte {byte} of the line): save it as UTF-8 "
                "(a Latin-1 or Windows export, for instance, is not)"
            ),
            line=line,
            byte=offset_in_line + 1,
        )
    )


class ListFileReader:
    """Reads one file for one list: `pieces()` yields a Piece per PIECE_BYTES read; `sha256`
    and `size` are the file's once it has been read whole."""

    def __init__(self, path: Path | str, *, numbers: ListNumberReader):
        self.path = Path(path)
        self.numbers = numbers
        self.size = self.path.stat().st_size
        self.sha256 = ""
        self._layout: _Layout | None = None

    def pieces(self) -> Iterator[Piece]:
        digest = hashlib.sha256()
        lines_read = 0
        bytes_read = 0
        carry = b""
        with self.path.open("rb") as stream:
            first = stream.read(PIECE_BYTES)
            digest.update(first)
            if first.startswith(UTF16_BOMS):
                raise FileRefused(_("the file is UTF-16: save it as UTF-8"))
            if first.startswith(BOM):
                first = first[len(BOM) :]
                bytes_read = len(BOM)
            data = first
            while data:
                data = carry + data
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if len(carry) > LONGEST_LINE:
                    line = lines_read + data.count(b"\n", 0, cut) + 1
                    raise FileRefused(
                        format_lazy(
                            _(
                                "line {line} is longer than {longest} bytes: this is no list "
                                "of numbers"
                            ),
                            line=line,
                            longest=grouped(LONGEST_LINE),
                        )
                    )
                if cut:
                    piece = self._piece(data[:cut], lines_read)
                    lines_read = piece.lines_read
                    bytes_read += cut
                    piece.bytes_read = bytes_read
                    yield piece
                data = stream.read(PIECE_BYTES)
                digest.update(data)
            if carry:
                # The last line has no end of line: a number is kept; anything else says the
                # file was cut short.
                piece = self._piece(carry + b"\n", lines_read, truncated=True)
                bytes_read += len(carry)
                piece.bytes_read = bytes_read
                yield piece
        self.sha256 = digest.hexdigest()

    def _piece(self, data: bytes, lines_before: int, *, truncated: bool = False) -> Piece:
        if self._layout is None:
            self._layout = self._first_layout(data, lines_before)
        layout = self._layout
        lines = data.count(b"\n")
        if layout.column is None:
            numbers, count, others = self.numbers.fast.chunk(data)
            if not others:
                return Piece(numbers, count, lines_before + lines, 0)
            try:
                extra = [self._line(line) for line in others if line.strip()]
            except (InvalidNumber, UnicodeDecodeError):
                pass  # read again line by line, for the line numbers
            else:
                numbers += b"".join(number + b"\n" for number in extra)
                return Piece(numbers, count + len(extra), lines_before + lines, 0)
        return self._piece_by_line(data, lines_before, truncated=truncated)

    @staticmethod
    def _first_layout(data: bytes, lines_before: int) -> _Layout:
        """The layout, from the first line that is not empty (a header, or a number)."""
        for index, line in enumerate(data.split(b"\n")[:-1]):
            if line.strip():
                layout = _layout(line, lines_before + index + 1)
                if layout.header_lines:
                    layout.header_lines = lines_before + index + 1
                return layout
        return _Layout()

    def _piece_by_line(self, data: bytes, lines_before: int, *, truncated: bool) -> Piece:
        numbers: list[bytes] = []
        rejections: list[Rejection] = []
        layout = self._layout
        raw_lines = data.split(b"\n")[:-1]
        last = len(raw_lines) - 1
        for index, raw in enumerate(raw_lines):
            number = lines_before + index + 1
            if number <= layout.header_lines:
                continue
            try:
                if layout.column is None:
                    if not raw.strip():
                        continue
                    numbers.append(self._line(raw.strip()))
                else:
                    value = self._cell(raw, layout)
                    if value is None:
                        continue
                    numbers.append(self._line(value))
            except UnicodeDecodeError as error:
                raise _not_utf8(number, error.start) from error
            except InvalidNumber as error:
                reason = str(error)
                if truncated and index == last:
                    reason += "; the file ends in the middle of this line: it looks truncated"
                rejections.append(Rejection(number, reason))
        joined = b"".join(n + b"\n" for n in numbers)
        return Piece(joined, len(numbers), lines_before + len(raw_lines), 0, rejections)

    def _line(self, line: bytes) -> bytes:
        return self.numbers.digits(line.strip())

    @staticmethod
    def _cell(raw: bytes, layout: _Layout) -> bytes | None:
        """The number column's value of a CSV row; None for an empty row."""
        if not raw.strip():
            return None
        if b'"' in raw:
            text = raw.decode("utf-8")
            cells = next(csv.reader([text], delimiter=layout.delimiter))
            cells = [cell.encode() for cell in cells]
        else:
            cells = raw.split(layout.delimiter.encode())
        if layout.column >= len(cells):
            raw.decode("utf-8")  # a row that is not UTF-8 is refused as such
            raise InvalidNumber(f"no number column in this row ({len(cells)} fields)")
        value = cells[layout.column].strip()
        if not value:
            raw.decode("utf-8")
            raise InvalidNumber("the number column is empty")
        return value
