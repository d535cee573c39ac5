"""Phone numbers in E.164, parsed with the phonenumbers library (Google's libphonenumber rules)."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers


class InvalidNumber(ValueError):
    pass


def normalise_number(raw: str, *, default_region: str) -> str:
    """`raw` in E.164 (+33612345678). National formats are read in `default_region` (the
    tenant's country). Raises InvalidNumber with a readable reason."""
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("a phone number is required")
    if len(text) > 40:
        raise InvalidNumber("too long to be a phone number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumber(f"not a phone number ({error})") from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(
            f"not a valid number (national numbers are read as {default_region} numbers; "
            "give others with their + country code)"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def numbers_by_tenant(term: str, tenants: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """A search term read as a phone number in each tenant's country, given as (tenant id,
    country code): the E.164 numbers it can be, each with the tenants where it is that number
    (the same national digits are different numbers in France and Spain). Empty when the term is
    no number anywhere."""
    found: dict[str, list[int]] = {}
    for tenant_id, country in tenants:
        try:
            number = normalise_number(term, default_region=country)
        except InvalidNumber:
            continue
        found.setdefault(number, []).append(tenant_id)
    return found
