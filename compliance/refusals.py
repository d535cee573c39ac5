"""The refusal of an operation because of what it was asked, whichever app refuses it.

Services raise `Refused` for input they will not act on (a malformed or unknown value, a role
that may not do it here, a state that forbids it); the API answers it as JSON naming the field,
the admin as a form error (`as_form_error`) or a message. Recordings' services raise it too: it
lives here because recordings may import compliance, never the other way round.
`refuse_outside_date_window` is the services' refusal of a date outside compliance/date_window.py.
"""

from __future__ import annotations

from datetime import datetime

from django import forms

from .date_window import date_window_error


class Refused(Exception):
    """`message` says why, in a sentence the caller can act on; `field` names the input at fault
    (the API's `{"error": ..., "field": ...}`, the form field); `status` is the HTTP status an API
    answers with (400 unless the refusal is a permission, 403, a conflict, 409, or a size or type,
    413 or 415)."""

    def __init__(self, message: str, *, field: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def refuse_outside_date_window(value: datetime | None, *, field: str) -> None:
    """Refuse a date-time outside the dates Custodia accepts (compliance/date_window.py), naming
    the field; None is the caller's to allow or refuse."""
    error = None if value is None else date_window_error(value)
    if error is not None:
        raise Refused(f"{field} {error}", field=field)


def as_form_error(refusal: Refused, form: forms.Form) -> forms.ValidationError:
    """A service's refusal, shown on the field it names (or above the form)."""
    if refusal.field in form.fields:
        return forms.ValidationError({refusal.field: refusal.message})
    return forms.ValidationError(refusal.message)
