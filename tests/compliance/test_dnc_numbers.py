"""How a do-not-call list's lines are read: the fast path gives exactly what
compliance/phone.py::normalise_number (phonenumbers) gives, line by line and many lines at once,
and national lists refuse other countries' numbers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compliance.dnc_numbers import FastPath, ListNumberReader, as_e164, as_stored
from compliance.phone import InvalidNumber, normalise_number

REGIONS = ("GB", "FR", "ES")
FAST = {region: FastPath(region) for region in REGIONS}

# Beginnings that reach every branch: each country's own ranges (mobiles, landlines, freephone,
# premium, shared), the UK's neighbours sharing +44 (Guernsey 01481, Isle of Man 07624, Jersey
# 01534), GB's second national prefix (180020), numbers starting with a country code or the
# international prefix, and random digits.
NATIONAL_STARTS = {
    "GB": (
        "07 071 074 075 077 079 01 011 0118 01481 01534 07624 07781 07839 0800 0808 0845 0870 "
        "09 03 020 0180020 05 056 070 076 0 44 0044 00 7 1 180020"
    ).split(),
    "FR": "06 07 01 02 03 04 05 08 09 0800 089 0 33 0033 00 6 1".split(),
    "ES": "6 7 8 9 91 93 51 400 800 90 34 0034 00 0".split(),
}
COUNTRY_CODES = {"GB": "44", "FR": "33", "ES": "34"}


def _examples(region: str) -> list[str]:
    """phonenumbers' example number of each type, of the region and of those sharing its
    country code, as national significant numbers: valid numbers to vary."""
    code = phonenumbers.country_code_for_region(region)
    found = []
    for neighbour in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        for number_type in range(12):
            number = phonenumbers.example_number_for_type(neighbour, number_type)
            if number is not None:
                found.append(phonenumbers.national_significant_number(number))
    return sorted(set(found))


EXAMPLES = {region: _examples(region) for region in REGIONS}
GOOD = {"GB": b"07400123456", "FR": b"0612345678", "ES": b"612345678"}


def _normalised(line: bytes, region: str) -> str | None:
    try:
        return normalise_number(line.decode(), default_region=region)
    except InvalidNumber:
        return None


@st.composite
def lines(draw, region: str | None = None):
    region = region or draw(st.sampled_from(REGIONS))
    shape = draw(st.sampled_from(["national", "plus", "idd", "other_plus", "raw"]))
    if shape == "raw":
        body = draw(st.text(alphabet="0123456789+ ", min_size=1, max_size=16))
        return region, body.encode()
    if shape == "other_plus":
        code = draw(st.sampled_from(["33", "34", "44", "1", "49", "4", "3"]))
        return region, b"+" + code.encode() + draw(st.text("0123456789", max_size=12)).encode()
    if draw(st.booleans()):
        # A valid number of the country code, its last digits varied: mostly valid numbers.
        example = draw(st.sampled_from(EXAMPLES[region]))
        varied = draw(st.integers(min_value=0, max_value=5))
        tail = draw(st.text("0123456789", min_size=varied, max_size=varied))
        prefix = "" if region == "ES" else "0"
        national = (prefix + example[: len(example) - varied] + tail).encode()
    else:
        start = draw(st.sampled_from(NATIONAL_STARTS[region]))
        length = draw(st.integers(min_value=0, max_value=12))
        rest = draw(st.text(alphabet="0123456789", min_size=length, max_size=length))
        national = (start + rest).encode()
    if shape == "national":
        return region, national
    international = COUNTRY_CODES[region].encode() + national.lstrip(b"0")
    if draw(st.booleans()):
        international = COUNTRY_CODES[region].encode() + national  # a 0 left in
    return region, (b"+" if shape == "plus" else b"00") + international


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(lines())
@example(("GB", b"07400123456"))
@example(("GB", b"07911123456"))  # a Guernsey mobile: +44, found in its region
@example(("GB", b"+447911123456"))
@example(("GB", b"00447911123456"))
@example(("GB", b"07624123456"))  # Isle of Man: +44, claimed by its leading digits
@example(("GB", b"01481256789"))  # Guernsey
@example(("GB", b"01534123456"))  # Jersey
@example(("GB", b"01800201234"))
@example(("GB", b"+4401214960000"))  # a national prefix after the country code
@example(("FR", b"0612345678"))
@example(("FR", b"0033612345678"))
@example(("ES", b"612345678"))
@example(("ES", b"34612345678"))  # the country code without "+": phonenumbers' own step
def test_the_fast_path_reads_a_line_as_phonenumbers_does(case):
    region, line = case
    fast = FAST[region].digits(line)
    if fast is not None:
        assert "+" + fast.decode() == _normalised(line, region)
    # The same line among others, read many at once: the common case gives the same number,
    # anything else is left for the line-by-line reading.
    good = GOOD[region]
    numbers, count, others = FAST[region].chunk(good + b"\n" + line + b"\n" + good + b"\r\n")
    read = numbers.split()
    assert count == len(read)
    if count == 2:
        assert others == [line]
    else:
        assert count == 3 and others == [] and fast is not None
        assert sorted(read) == sorted([fast, *FAST[region].digits(good).split() * 2])


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(lines())
def test_a_national_list_reads_what_phonenumbers_reads_and_refuses_other_countries(case):
    region, line = case
    reader = ListNumberReader(country=region, default_region=region)
    expected = _normalised(line, region)
    try:
        read = "+" + reader.digits(line).decode()
    except InvalidNumber:
        read = None
    if expected is not None and expected.startswith("+" + COUNTRY_CODES[region]):
        assert read == expected
    else:
        assert read is None


@pytest.mark.parametrize(
    ("region", "line"),
    [
        ("GB", b"07400123456"),
        ("GB", b"+447400123456"),
        ("GB", b"00447400123456"),
        ("GB", b"02079460018"),
        ("GB", b"01214960000"),
        ("FR", b"0612345678"),
        ("FR", b"+33145678901"),
        ("ES", b"612345678"),
        ("ES", b"+34912345678"),
    ],
)
def test_well_formed_national_numbers_take_the_fast_path_many_at_once(region, line):
    numbers, count, others = FAST[region].chunk(line + b"\n" + line + b"\r\n")
    assert count == 2 and others == []
    assert numbers.split() == [_normalised(line, region)[1:].encode()] * 2


def test_letters_are_refused_even_where_phonenumbers_would_read_them_as_keypad_digits():
    reader = ListNumberReader(country="GB", default_region="GB")
    assert normalise_number("0800 FLOWERS", default_region="GB")  # phonenumbers reads it
    with pytest.raises(InvalidNumber, match="letters"):
        reader.digits(b"0800 FLOWERS")


def test_a_national_list_names_the_other_country():
    reader = ListNumberReader(country="GB", default_region="GB")
    with pytest.raises(InvalidNumber, match=r"FR \(\+33\): this list holds \+44 numbers only"):
        reader.digits(b"+33612345678")


def test_a_national_list_keeps_the_crown_dependencies_sharing_its_code():
    reader = ListNumberReader(country="GB", default_region="GB")
    assert phonenumbers.region_code_for_number(phonenumbers.parse("+447624123456")) == "IM"
    assert reader.digits(b"07624123456") == b"447624123456"


def test_an_internal_list_reads_any_valid_number_national_ones_in_the_tenants_country():
    reader = ListNumberReader(country=None, default_region="FR")
    assert reader.digits(b"06 12 34 56 78") == b"33612345678"
    assert reader.digits(b"+447911123456") == b"447911123456"
    with pytest.raises(InvalidNumber):
        reader.digits(b"0612")


def test_stored_numbers_convert_both_ways():
    assert as_stored("+33612345678") == 33612345678
    assert as_e164(33612345678) == "+33612345678"
