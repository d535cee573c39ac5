"""The files a campaign exchanges with a service that never hands out its list (Bloctel, Lista
Robinson): the campaign's numbers as the service takes them, and the numbers its answer names.

What Custodia assumes of each service's format (both publish theirs to their subscribers only;
these are the shapes their guides describe, and the assumption lives here, in one place):

- Bloctel (France): a text file, one French number per line in its 10-digit national form with
  its leading 0 (0612345678), no header, no separator.
- Lista Robinson (Spain): a text file, one Spanish number per line in its 9-digit national form
  (612345678; Spain has no national prefix), no header.

Both files are ASCII, one number per line, each line ended by a line feed, sorted (the same
numbers always give the same file, and the same SHA-256). The answer lists the numbers to remove
in the same form; it is read tolerantly: a byte-order mark, a Latin-1 or Windows export, lines
with spaces or dots between the digits, the international form (+33…), empty lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from phonenumbers import PhoneMetadata

from .dnc_sources import Delivery, DncSource, rule_for


@dataclass(frozen=True)
class ScreeningFormat:
    source: str
    # The national prefix written before the national significant number ("0" in France).
    national_prefix: str
    # The digits of a number in the file, prefix included.
    digits: int

    @property
    def country(self) -> str:
        return rule_for(self.source).country

    @property
    def country_code(self) -> str:
        return str(PhoneMetadata.metadata_for_region(self.country).country_code)

    def line(self, stored: int) -> str:
        """A stored number (E.164 without "+", of this format's country) as the file's line."""
        return self.national_prefix + str(stored)[len(self.country_code) :]

    def file(self, numbers: list[int]) -> bytes:
        return "".join(f"{self.line(number)}\n" for number in sorted(numbers)).encode("ascii")

    def file_name(self, campaign_name: str, day) -> str:
        safe = "".join(c if c.isalnum() else "-" for c in campaign_name.lower()).strip("-")
        return f"{self.source}-{safe[:60] or 'campaign'}-{day.isoformat()}.txt"


FORMATS: dict[str, ScreeningFormat] = {
    DncSource.BLOCTEL: ScreeningFormat(DncSource.BLOCTEL, national_prefix="0", digits=10),
    DncSource.ROBINSON: ScreeningFormat(DncSource.ROBINSON, national_prefix="", digits=9),
}


def screening_format(source: str) -> ScreeningFormat | None:
    """The file format of a source screened by submitting the campaign's file; None for a full
    list."""
    if source not in DncSource.values or rule_for(source).delivery != Delivery.SUBMITTED_FILE:
        return None
    return FORMATS.get(source)
