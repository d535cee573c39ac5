"""Do-not-call numbers as stored: E.164 without its "+", in a bigint (compliance/dnc_models.py).

Numbers are normalised with compliance/phone.py::normalise_number, the function of the recordings
register, so that a number screened here is the number recorded there."""

from __future__ import annotations


def as_stored(e164: str) -> int:
    """+33612345678 -> 33612345678."""
    return int(e164[1:])


def as_e164(stored: int) -> str:
    """33612345678 -> +33612345678."""
    return f"+{stored}"
