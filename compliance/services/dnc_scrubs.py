"""A file of numbers scrubbed against the do-not-call lists for a campaign (POST
/api/v1/dnc/scrub): the callable rows back, the removed rows with their reasons kept for a
while, one audit event.

The body is read incrementally (BLOCK_BYTES at a time) and decided in chunks of CHUNK_ROWS rows,
each one query (compliance/dnc_screening.py): memory stays flat whatever the file's size. The
whole file is read and decided before anything is answered, so that a bad row anywhere refuses
the whole file (400, nothing kept, a `dnc.scrub_refused` event) and the summary can go in the
response's headers: the callable rows wait meanwhile in a sealed file (kit/sealed_files.py) under
DNC_SCRUB_ROOT with a key held in memory only, unlinked as soon as the response opens it; the
removed rows in another, whose key the DncScrub row holds until DNC_SCRUB_KEEP_HOURS have passed
(then file and key are destroyed, `dnc_scrubs_expire`).

The file: UTF-8 (a UTF-8 byte order mark, as spreadsheets write, is skipped; UTF-16 is refused),
CSV with a header naming the number column (number, numero, telefono, phone and the names the
list import knows, compared without case or accents), or one number per line without a header.
Every row must have the header's number of fields (a ragged or truncated row refuses the file);
a line longer than LONGEST_LINE characters refuses it. A number that is no valid number is not
callable (`invalid_number`), as a row whose number cell is empty.

Each cell of the rows returned is escaped against spreadsheet formulas (kit/csv_export.csv_cell)
except a number cell holding only a phone number's characters (digits, "+", spaces, ".", "-",
"(", ")"), written as received: such a cell computes at most a sum, runs nothing, and a dialer
must read the number it sent.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import event_record
from kit.csv_export import csv_cell
from kit.refusals import Refused, grouped
from kit.sealed_files import SealedWriter, new_key, sealed_records

from ..dnc_files import UTF16_BOMS, delimiter_of, number_column
from ..dnc_models import Campaign, DncScrub
from ..dnc_numbers import number_reader
from ..dnc_screening import INVALID_NUMBER, CampaignCheck
from ..models import Tenant
from ..phone import InvalidNumber

BLOCK_BYTES = 1 << 16
CHUNK_ROWS = 10_000
LONGEST_LINE = 1 << 16
_PHONE_CELL = re.compile(r"[+0-9 ().\-]+\Z")
# A cell a spreadsheet might run (kit/csv_export.py's rule: a formula character after leading
# blanks, or a tab or carriage return first), searched for in a row's cells joined by NUL: a row
# with no match has no cell to escape and is written as it is, the others go cell by cell.
_MAY_RUN = re.compile(r"(?:\A|\x00)(?:\s*[=+\-@\uff1d\uff0b\uff0d\uff20]|[\t\r])")
BOM = "\ufeff"


def _too_long(line: int) -> object:
    return format_lazy(
        _("line {line} is longer than {longest} characters"),
        line=line,
        longest=grouped(LONGEST_LINE),
    )


class ScrubRefused(Refused):
    """The file cannot be scrubbed: nothing is kept. `line` says where, when it is a line."""

    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message, field="body")
        self.line = line


def scrub_root() -> Path:
    root = Path(settings.DNC_SCRUB_ROOT)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def _lines(stream) -> Iterator[str]:
    """The body's lines as text (each with its end of line, the last one maybe without),
    decoded incrementally; refused when not UTF-8 or a line is too long."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    carry = ""
    line = 0
    first = True
    while True:
        block = stream.read(BLOCK_BYTES)
        if first:
            if block.startswith(UTF16_BOMS):
                raise ScrubRefused(_("the file is UTF-16: send it as UTF-8"))
            first = False
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            seen = carry + error.object[: error.start].decode("utf-8", "replace")
            where = line + seen.count("\n") + 1
            raise ScrubRefused(
                format_lazy(
                    _(
                        "the file is not UTF-8 (line {line}): send it as UTF-8 (a Latin-1 or "
                        "Windows export, for instance, is not)"
                    ),
                    line=where,
                ),
                line=where,
            ) from error
        if line == 0 and not carry and text.startswith(BOM):
            text = text[1:]
        data = carry + text
        parts = data.split("\n")
        carry = parts.pop()
        for part in parts:
            line += 1
            if len(part) > LONGEST_LINE:
                raise ScrubRefused(_too_long(line), line=line)
            yield part + "\n"
        if len(carry) > LONGEST_LINE:
            raise ScrubRefused(_too_long(line + 1), line=line + 1)
        if not block:
            break
    if carry:
        yield carry


@dataclass
class _Layout:
    delimiter: str
    column: int
    width: int
    header: list[str] | None


def _layout(first_line: str) -> _Layout:
    text = first_line.rstrip("\r\n")
    delimiter = delimiter_of(text)
    cells = next(csv.reader([text], delimiter=delimiter), [])
    if (column := number_column(cells)) is not None:
        return _Layout(delimiter, column, len(cells), cells)
    if len(cells) == 1 and not any(c.isalpha() for c in cells[0]):
        return _Layout(delimiter, 0, 1, None)  # one number per line, no header
    shown = ", ".join(cell.strip()[:40] for cell in cells[:8])
    raise ScrubRefused(
        format_lazy(
            _("line 1 names no number column ({shown}): name it number, numero, telefono or phone"),
            shown=shown,
        ),
        line=1,
    )


@dataclass
class ScrubResult:
    scrub: DncScrub
    callable_path: Path
    callable_key: bytes
    removed_by: Counter = field(default_factory=Counter)


class _Output:
    """The two sealed files being written, removed on a refusal."""

    def __init__(self, scrub_id: uuid.UUID):
        root = scrub_root()
        self.callable_name = f"{scrub_id}.callable"
        self.removed_name = f"{scrub_id}.removed"
        self.callable_key = new_key()
        self.removed_key = new_key()
        self.callable = SealedWriter(
            root / self.callable_name, self.callable_key, self.callable_name
        )
        self.removed = SealedWriter(root / self.removed_name, self.removed_key, self.removed_name)
        # Rows are written a chunk at a time through a text buffer, then sealed in one write.
        self.callable_text = io.StringIO()
        self.removed_text = io.StringIO()
        self.callable_rows = csv.writer(self.callable_text, quoting=csv.QUOTE_MINIMAL)
        self.removed_rows = csv.writer(self.removed_text, quoting=csv.QUOTE_MINIMAL)

    def flush(self) -> None:
        for text, sealed in (
            (self.callable_text, self.callable),
            (self.removed_text, self.removed),
        ):
            sealed.write(text.getvalue())
            text.seek(0)
            text.truncate()

    def discard(self) -> None:
        self.callable.discard()
        self.removed.discard()


def _escaped(row: list[str], column: int) -> list[object]:
    if _MAY_RUN.search("\x00".join(row)) is None:
        return row
    return [
        cell if index == column and _PHONE_CELL.match(cell) else csv_cell(cell)
        for index, cell in enumerate(row)
    ]


class _Scrub:
    def __init__(self, campaign: Campaign, output: _Output):
        self.check = CampaignCheck(campaign)
        self.numbers = number_reader(campaign.tenant.country_code)
        self.output = output
        self.rows_read = 0
        self.callable = 0
        self.removed = 0
        self.removed_by: Counter = Counter()

    def _stored(self, cell: str) -> int | None:
        value = cell.strip()
        if not value:
            return None
        try:
            return int(self.numbers.digits(value.encode()))
        except (InvalidNumber, UnicodeError):
            return None

    def chunk(self, rows: list[list[str]], column: int) -> None:
        stored = [self._stored(row[column]) for row in rows]
        verdicts = iter(self.check.decide([n for n in stored if n is not None]))
        for row, number in zip(rows, stored, strict=True):
            self.rows_read += 1
            reasons = (INVALID_NUMBER,) if number is None else next(verdicts).reasons
            if reasons:
                self.removed += 1
                self.removed_by.update(reasons)
                self.output.removed_rows.writerow([*_escaped(row, column), " ".join(reasons)])
            else:
                self.callable += 1
                self.output.callable_rows.writerow(_escaped(row, column))
        self.output.flush()


def _rows(stream, scrub: _Scrub) -> None:
    lines = _lines(stream)
    first = next(lines, None)
    while first is not None and not first.strip():
        first = next(lines, None)
    if first is None:
        raise ScrubRefused(_("the body is empty: send a CSV file of numbers"))
    layout = _layout(first)
    if layout.header is not None:
        scrub.output.callable_rows.writerow([csv_cell(c) for c in layout.header])
        scrub.output.removed_rows.writerow([*(csv_cell(c) for c in layout.header), "reasons"])
        source = lines
    else:
        scrub.output.removed_rows.writerow(["number", "reasons"])
        source = itertools.chain([first], lines)
    reader = csv.reader(source, delimiter=layout.delimiter, strict=True)
    chunk: list[list[str]] = []
    offset = 1 if layout.header is not None else 0
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip() and layout.width > 1):
                continue  # an empty line
            if len(row) != layout.width:
                line = reader.line_num + offset
                raise ScrubRefused(
                    format_lazy(
                        _(
                            "line {line} has {fields} fields where the first line has {width}: "
                            "the file is ragged or cut short"
                        ),
                        line=line,
                        fields=len(row),
                        width=layout.width,
                    ),
                    line=line,
                )
            chunk.append(row)
            if len(chunk) == CHUNK_ROWS:
                scrub.chunk(chunk, layout.column)
                chunk = []
    except csv.Error as error:
        line = reader.line_num + offset
        raise ScrubRefused(
            format_lazy(
                _("line {line} is no CSV row ({error}): the file looks cut short or malformed"),
                line=line,
                error=error,
            ),
            line=line,
        ) from error
    if chunk:
        scrub.chunk(chunk, layout.column)


def _refusal_record(*, tenant: Tenant, campaign: Campaign, api_key: str, refusal: Refused):
    with transaction.atomic():
        event_record(
            action="dnc.scrub_refused",
            tenant=tenant,
            target=campaign,
            outcome=Outcome.DENIED,
            extra={
                "field": refusal.field,
                "reason": refusal.for_trail[:500],
                "line": getattr(refusal, "line", None),
                "api_key": api_key,
            },
        )


class _Counted:
    """The body as read, counted: a body shorter than its Content-Length (the client gone
    mid-upload) is a file cut short, never scrubbed as if whole."""

    def __init__(self, stream):
        self.stream = stream
        self.read_bytes = 0

    def read(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.read_bytes += len(data)
        return data


def dnc_scrub_run(
    *,
    actor: str,
    tenant: Tenant,
    campaign: Campaign,
    stream,
    api_key: str,
    declared_bytes: int | None = None,
) -> ScrubResult:
    """Scrub the file read from `stream` for `campaign` (`declared_bytes`: its Content-Length).
    Refused (ScrubRefused) as a whole on a bad file, with a `dnc.scrub_refused` event and
    nothing kept; else a DncScrub and its `dnc.scrubbed` event, and the callable rows' sealed
    file for the response."""
    if campaign.tenant_id != tenant.pk:
        raise Refused(_("no such campaign"), field="campaign", status=404)
    scrub_id = uuid.uuid4()
    output = _Output(scrub_id)
    scrub = _Scrub(campaign, output)
    body = _Counted(stream)
    try:
        _rows(body, scrub)
        if declared_bytes is not None and body.read_bytes < declared_bytes:
            raise ScrubRefused(
                format_lazy(
                    _("the body ended after {read} of its {declared} bytes: it was cut short"),
                    read=grouped(body.read_bytes),
                    declared=grouped(declared_bytes),
                )
            )
        output.flush()
        output.callable.close()
        output.removed.close()
    except ScrubRefused as refusal:
        output.discard()
        _refusal_record(tenant=tenant, campaign=campaign, api_key=api_key, refusal=refusal)
        raise
    except BaseException:
        output.discard()
        raise
    now = timezone.now()
    try:
        with transaction.atomic():
            record = DncScrub.objects.create(
                id=scrub_id,
                tenant=tenant,
                campaign=campaign,
                api_key_prefix=api_key[:16],
                expires_at=now + timedelta(hours=settings.DNC_SCRUB_KEEP_HOURS),
                rows_read=scrub.rows_read,
                callable_count=scrub.callable,
                removed_count=scrub.removed,
                removed_by_reason=dict(sorted(scrub.removed_by.items())),
                file_name=output.removed_name,
                file_key=output.removed_key,
            )
            event_record(
                action="dnc.scrubbed",
                tenant=tenant,
                target=campaign,
                extra={
                    "scrub": str(scrub_id),
                    "rows": scrub.rows_read,
                    "callable": scrub.callable,
                    "removed": scrub.removed,
                    "removed_by": record.removed_by_reason,
                    "api_key": api_key,
                    "actor": actor,
                },
            )
    except BaseException:
        output.discard()
        raise
    return ScrubResult(
        record, output.callable.path, output.callable_key, removed_by=scrub.removed_by
    )


def callable_rows(result: ScrubResult) -> Iterator[bytes]:
    """The callable rows' file, opened and unlinked at once (nothing left behind if the client
    goes away), then read record by record."""
    stream = result.callable_path.open("rb")
    result.callable_path.unlink(missing_ok=True)

    def rows() -> Iterator[bytes]:
        with stream:
            yield from sealed_records(stream, result.callable_key, result.callable_path.name)

    return rows()


def dnc_scrub_removed_rows(*, actor: str, scrub: DncScrub) -> Iterator[bytes]:
    """The removed rows of a scrub still kept, with a `dnc.scrub_downloaded` event; Refused (410)
    once expired."""
    if scrub.expired_at is not None or scrub.expires_at <= timezone.now() or not scrub.file_key:
        raise Refused(_("these removed rows have expired"), field="scrub", status=410)
    path = scrub_root() / scrub.file_name
    stream = path.open("rb")
    with transaction.atomic():
        event_record(
            action="dnc.scrub_downloaded",
            tenant=scrub.tenant_id,
            target=scrub.campaign,
            extra={"scrub": str(scrub.pk), "removed": scrub.removed_count, "actor": actor},
        )
    key = bytes(scrub.file_key)

    def rows() -> Iterator[bytes]:
        with stream:
            yield from sealed_records(stream, key, scrub.file_name)

    return rows()


def dnc_scrubs_expire(*, now=None) -> int:
    """Removed rows past their time: file deleted, key destroyed. Returns how many. Also
    deletes the files a killed worker left (a scrub never finished: no row names them, and
    their keys were in its memory only), once older than an hour."""
    now = now or timezone.now()
    expired = 0
    for scrub in DncScrub.objects.filter(expired_at__isnull=True, expires_at__lte=now):
        (scrub_root() / scrub.file_name).unlink(missing_ok=True)
        DncScrub.objects.filter(pk=scrub.pk).update(expired_at=now, file_key=None)
        expired += 1
    kept = set(DncScrub.objects.filter(expired_at__isnull=True).values_list("file_name", flat=True))
    cutoff = (now - timedelta(hours=1)).timestamp()
    for path in scrub_root().iterdir():
        if path.name not in kept and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
    return expired
