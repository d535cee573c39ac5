"""Do-not-call numbers as stored: E.164 without its "+", in a bigint (compliance/dnc_models.py),
and how a list's file is read into them.

Numbers are normalised with compliance/phone.py::normalise_number, the function of the recordings
register, so that a number screened here is the number recorded there. A list of 20 million
numbers would take minutes through it (phonenumbers parses each number in pure Python), so
`ListNumberReader` first tries a fast path for the shapes almost every line of a national list
has (07911 123456 in the UK's files, +447911123456, 00447911123456): it checks the digits with
the same patterns phonenumbers validates them with, read from phonenumbers' own metadata and
compiled once, and follows phonenumbers' parsing steps for those shapes (country code, national
prefix, the region among those sharing a country code). Whenever a line is anything else, or a
step would need more than these shapes (a national prefix after the country code, a carrier
code), the fast path answers None and the line goes through normalise_number itself.
tests/compliance/test_dnc_numbers.py proves the fast path gives exactly what normalise_number
gives, on generated inputs.
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from .phone import InvalidNumber, normalise_number

# The number types phonenumbers checks, in its order (phonenumberutil._number_type_helper): a
# national number of any of them is valid; of none, invalid.
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_LETTER = re.compile(r"[^\W\d_]")


def as_stored(e164: str) -> int:
    """+33612345678 -> 33612345678."""
    return int(e164[1:])


def as_e164(stored: int) -> str:
    """33612345678 -> +33612345678."""
    return f"+{stored}"


def _pattern(desc) -> bytes | None:
    """A number description's (phonenumbers' PhoneNumberDesc) national number pattern, or None
    for a type the region has not (no pattern, or phonenumbers' mark -1 for its lengths)."""
    if desc is None or not desc.national_number_pattern:
        return None
    if tuple(desc.possible_length or ())[:1] == (-1,):
        return None
    return b"(?:" + desc.national_number_pattern.encode() + b")"


def _valid_in(region: str, end: bytes = rb"\Z") -> bytes:
    """A pattern of the national significant numbers whose type is known in `region` (what
    phonenumbers' is_valid_number_for_region decides: the general description matches, and one
    of the types, each with its possible lengths when it lists any; _is_number_matching_desc).
    Grouped by length, the longest first (most of a country's numbers have its longest
    length), each group the types of that length, the common ones first: the regular
    expression engine tries one length's patterns, not every type's lengths."""
    metadata = PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc
    order = (
        "fixed_line",
        "mobile",
        *(t for t in _NUMBER_TYPES if t not in ("fixed_line", "mobile")),
    )
    groups = []
    for length in sorted(general.possible_length or (), reverse=True):
        patterns = [
            _pattern(desc)
            for desc in (getattr(metadata, name, None) for name in order)
            if _pattern(desc) is not None
            and (not desc.possible_length or length in desc.possible_length)
        ]
        if patterns:
            groups.append(
                b"(?=[0-9]{%d}" % length + end + b")(?:" + b"|".join(patterns) + b")" + end
            )
    return b"(?=" + _pattern(general) + end + b")(?:" + b"|".join(groups) + b")"


@cache
def _valid_pattern(region: str) -> re.Pattern[bytes]:
    return re.compile(_valid_in(region))


class _Validity:
    """Whether a national significant number of one country calling code is valid, as
    phonenumbers.is_valid_number decides: the region it belongs to among those sharing the code
    (phonenumberutil._region_code_for_number_from_list: a region with leading digits claims the
    numbers starting with them, the others the numbers valid there, in the library's order),
    then the number valid in that region."""

    def __init__(self, country_code: int):
        self.regions = []
        for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
            metadata = PhoneMetadata.metadata_for_region(region)
            leading = metadata.leading_digits
            self.regions.append(
                (re.compile(leading.encode()) if leading else None, _valid_pattern(region))
            )
        self.single = len(self.regions) == 1

    def __call__(self, national: bytes) -> bool:
        if self.single:
            return self.regions[0][1].match(national) is not None
        for leading, valid in self.regions:
            if leading is not None:
                if leading.match(national):
                    return valid.match(national) is not None
            elif valid.match(national):
                return True
        return False


class FastPath:
    """The shapes a national list's lines almost all have, read for `region` (the list's
    country) as phonenumbers.parse(..., region) reads them: `digits(line)` is the number in
    E.164 without its "+" (bytes of ASCII digits), or None when the line is of another shape or
    needs a step of phonenumbers this does not follow (the line then goes through
    normalise_number). Only numbers of the region's own country calling code come out of here.

    Shapes: the national form (07911123456 in the UK: the national prefix and the national
    significant number; 612345678 in Spain, which has none), the international form with "+"
    (+447911123456) and with the international prefix (00447911123456).

    The steps are followed one by one for a line (`_national`, `_international`); the common
    case, a number valid in the first region of its country code (the UK's, not Jersey's), is
    also one regular expression, which `chunk` runs over many lines at once (in C: a list of 20
    million numbers is read at the speed of the regular expression engine)."""

    def __init__(self, region: str):
        metadata = PhoneMetadata.metadata_for_region(region)
        self.region = region
        self.country_code = metadata.country_code
        self.prefix = str(self.country_code).encode()
        self.valid = _Validity(self.country_code)
        # Viability (phonenumbers' _match_national_number): the general pattern, lengths aside.
        self.viable = re.compile(_pattern(metadata.general_desc) + rb"\Z").match
        self.general_lengths = frozenset(metadata.general_desc.possible_length or ())
        self.local_lengths = frozenset(metadata.general_desc.possible_length_local_only or ())
        main_region = COUNTRY_CODE_TO_REGION_CODE[self.country_code][0]
        # phonenumbers reads the shortest known country calling code after "+", then the rest
        # with the metadata of that code's main region: only this region's code, and only when
        # the region is its code's main one (GB for +44, not GG).
        self.plus_ok = main_region == region and not any(
            int(self.prefix[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in range(1, len(self.prefix))
        )
        # The international prefix, when it is a plain string of digits (00 in Europe).
        idd = metadata.international_prefix or ""
        self.idd = idd.encode() if idd.isdigit() else None
        # The national prefix for parsing: followed here only when it is a plain prefix (GB "0",
        # FR "0"), without carrier codes or transformations; where it may match other digits
        # (GB's "0|180020"), a number starting with those goes through phonenumbers.
        parsing = metadata.national_prefix_for_parsing or ""
        self.national_prefix = (metadata.national_prefix or "").encode()
        self.prefix_pattern = re.compile(parsing.encode()) if parsing else None
        self.plain_prefix = bool(
            self.national_prefix.isdigit()
            and self.prefix_pattern is not None
            and not metadata.national_prefix_transform_rule
            and self.prefix_pattern.groups == 0
        )
        self.line_match = None
        self.chunk_findall = None
        if main_region == region:
            self.line_match = re.compile(self._common_case(rb"\Z")).match
            # Each line: the common case's number in the first group, or the whole line in the
            # second (one pass over the lines, whatever they hold).
            self.chunk_findall = re.compile(
                b"^(?:" + self._common_case(rb"(?=\r?\n)") + rb"\r?\n|([^\n]*)\n)",
                re.MULTILINE,
            ).findall

    def _common_case(self, end: bytes) -> bytes:
        """One pattern for the lines whose number is valid in this region (the first of its
        country code, which phonenumbers tries first), following the shapes' steps as
        `_national` and `_international` do: the national significant number in its one
        group."""
        metadata = PhoneMetadata.metadata_for_region(self.region)
        parsing = metadata.national_prefix_for_parsing or ""
        general = metadata.general_desc
        local = frozenset(general.possible_length_local_only or ())
        shapes = []
        # A line starting with the country code or the international prefix is another case.
        national = b"(?!" + re.escape(self.prefix) + b")"
        if self.idd is not None:
            national += b"(?!" + re.escape(self.idd) + b")"
        if not parsing:
            shapes.append(national)
        elif (
            self.plain_prefix
            and parsing.split("|")[0] == self.national_prefix.decode()
            and not local & self.general_lengths
        ):
            # The prefix is the pattern's first alternative: the one a line starting with it
            # matches. phonenumbers strips it unless the number was viable with it (the general
            # pattern) and is not without it; what remains must have a possible length that is
            # not local only, which a valid number has (the two sets are apart).
            shapes.append(
                national + b"(?!" + _pattern(general) + end + b")" + re.escape(self.national_prefix)
            )
        if self.plus_ok:
            after_code = re.escape(self.prefix)
            if parsing:
                after_code += b"(?!" + parsing.encode() + b")"
            international = [rb"\+"]
            if self.idd is not None:
                international.append(re.escape(self.idd) + b"(?!0)")
            shapes.append(b"(?:" + b"|".join(international) + b")" + after_code)
        valid = _valid_in(self.region, end)
        if metadata.leading_digits:
            valid = b"(?=" + metadata.leading_digits.encode() + b")" + valid
        return b"(?:" + b"|".join(b"(?:" + shape + b")" for shape in shapes) + b")(" + valid + b")"

    def chunk(self, lines: bytes) -> tuple[bytes, int, list[bytes]]:
        """Many whole lines (`lines` ends with a newline) at once: the numbers of the lines of
        the common case, as COPY text (one per line), their count, and the other lines, for
        `digits` one by one (or through phonenumbers)."""
        if self.chunk_findall is None:
            return b"", 0, lines.split(b"\n")[:-1]
        found = self.chunk_findall(lines)
        numbers = [number for number, _ in found if number]
        others = (
            [other for number, other in found if not number] if len(numbers) < len(found) else []
        )
        if not numbers:
            return b"", 0, others
        prefix = self.prefix
        return prefix + (b"\n" + prefix).join(numbers) + b"\n", len(numbers), others

    def digits(self, line: bytes) -> bytes | None:
        if self.line_match is not None:
            found = self.line_match(line)
            if found is not None:
                return self.prefix + found.group(1)
        if line[:1] == b"+":
            return self._international(line[1:])
        if self.idd is not None and line.startswith(self.idd):
            rest = line[len(self.idd) :]
            # phonenumbers does not read 00 as the international prefix when a 0 follows it.
            if rest[:1] == b"0":
                return None
            return self._international(rest)
        return self._national(line)

    def _international(self, digits: bytes) -> bytes | None:
        if not self.plus_ok or not digits.startswith(self.prefix) or not digits.isdigit():
            return None
        national = digits[len(self.prefix) :]
        # After the country code, phonenumbers tries the national prefix again.
        if self.prefix_pattern is not None and self.prefix_pattern.match(national):
            return None
        return digits if self.valid(national) else None

    def _national(self, digits: bytes) -> bytes | None:
        # A number starting with the country code may be read as carrying it.
        if not digits.isdigit() or digits.startswith(self.prefix):
            return None
        national = digits
        if self.prefix_pattern is not None:
            found = self.prefix_pattern.match(digits)
            if found is not None:
                if not self.plain_prefix or found.group() != self.national_prefix:
                    return None
                stripped = digits[found.end() :]
                # phonenumbers keeps the prefix when the number was viable with it and is not
                # without it, or when what remains has no possible length of the region.
                if self.viable(digits) and not self.viable(stripped):
                    return None
                if len(stripped) not in self.general_lengths or len(stripped) in self.local_lengths:
                    return None
                national = stripped
        return self.prefix + national if self.valid(national) else None


class ListNumberReader:
    """Reads one line's number for a list: E.164 without "+" as bytes of ASCII digits, or
    InvalidNumber with the reason.

    `country` is the country whose numbers the list holds (a national list: TPS's GB), or None
    for a tenant's internal opt-outs, which hold any valid number; national numbers are read in
    `default_region` (the list's country, or the tenant's). A national list refuses a number of
    another country calling code: the UK's TPS holds +44 numbers (the Crown Dependencies',
    sharing +44, included) and nothing else."""

    def __init__(self, *, country: str | None, default_region: str):
        self.country_code = (
            PhoneMetadata.metadata_for_region(country).country_code if country else None
        )
        self.default_region = default_region
        self.fast = FastPath(default_region)
        self.fast_digits = self.fast.digits

    def digits(self, line: bytes) -> bytes:
        found = self.fast_digits(line)
        if found is not None:
            return found
        return self.slow(line)

    def slow(self, line: bytes) -> bytes:
        """Any other line, through normalise_number. Raises UnicodeDecodeError for bytes that
        are not UTF-8 (the caller reports where)."""
        text = line.decode("utf-8").strip()
        if _LETTER.search(text):
            # phonenumbers reads letters as keypad digits (0800 FLOWERS); in a list's file they
            # are a column or a note that got in, never a number.
            raise InvalidNumber("letters where a number should be")
        e164 = normalise_number(text, default_region=self.default_region)
        if self.country_code is not None:
            code = str(self.country_code)
            # Country calling codes are a prefix code: +44 starts no other country's numbers.
            if not e164.startswith(f"+{code}"):
                number = phonenumbers.parse(e164)
                country = phonenumbers.region_code_for_number(number) or "another country"
                raise InvalidNumber(
                    f"a number of {country} (+{number.country_code}): this list holds +{code} "
                    "numbers only"
                )
        return e164[1:].encode()


@cache
def number_reader(region: str) -> ListNumberReader:
    """A reader of any valid number, national ones read in `region` (a tenant's country): what
    normalise_number gives, through the fast path for the common shapes. One per region, built
    once per process (its patterns are compiled once)."""
    return ListNumberReader(country=None, default_region=region)
