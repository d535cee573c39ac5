"""Phone numbers in E.164, parsed with the phonenumbers library (Google's libphonenumber rules)."""

from __future__ import annotations

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
