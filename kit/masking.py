"""How a personal number is shown where it must be recognisable but not readable."""

from __future__ import annotations


def mask_number(number: str) -> str:
    """A number as lists and the audit trail show it: +336•••••78."""
    return f"{number[:4]}•••••{number[-2:]}" if len(number) > 6 else "•" * len(number)
