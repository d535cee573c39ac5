"""The services' refusal of a date outside compliance/date_window.py, as a `kit.refusals.Refused`
naming the field."""

from __future__ import annotations

from datetime import datetime

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from kit.refusals import Refused

from .date_window import date_window_error


def refuse_outside_date_window(value: datetime | None, *, field: str) -> None:
    """Refuse a date-time outside the dates Custodia accepts (compliance/date_window.py), naming
    the field; None is the caller's to allow or refuse."""
    error = None if value is None else date_window_error(value)
    if error is not None:
        raise Refused(format_lazy(_("{field} {error}"), field=field, error=error), field=field)
