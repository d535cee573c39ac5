"""The refusal of an operation because of what it was asked, whichever app refuses it.

Services raise `Refused` for input they will not act on (a malformed or unknown value, a role
that may not do it here, a state that forbids it); the API answers it as JSON naming the field,
the admin as a form error (`as_form_error`) or a message. It lives in kit, which every app may
import, so that the trail's own services (audit: triage, incidents) refuse the same way as
compliance's and recordings'.
"""

from __future__ import annotations

from django import forms
from django.utils.formats import number_format
from django.utils.functional import Promise, lazy
from django.utils.translation import override


def in_english(message: str | Promise) -> str:
    """A message as the append-only trail keeps it: a translatable (lazy) message in English,
    whatever language the person refused reads; any other text as it is."""
    if isinstance(message, Promise):
        with override("en"):
            return str(message)
    return message


class Refused(Exception):
    """`message` says why, in a sentence the caller can act on (a lazy translation, shown in the
    language of whoever reads it); `field` names the input at fault (the API's
    `{"error": ..., "field": ...}`, the form field); `status` is the HTTP status an API answers
    with (400 unless the refusal is a permission, 403, a conflict, 409, or a size or type, 413 or
    415)."""

    def __init__(
        self, message: str | Promise, *, field: str, status: int = 400, for_trail: str = ""
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        # The message as the append-only trail may keep it, when `message` quotes personal data
        # the caller needs to see (the number it sent) but the trail must not hold; in English,
        # so that the trail reads in one language whoever was refused.
        self.for_trail = for_trail or in_english(message)


def as_form_error(refusal: Refused, form: forms.Form) -> forms.ValidationError:
    """A service's refusal, shown on the field it names (or above the form)."""
    if refusal.field in form.fields:
        return forms.ValidationError({refusal.field: refusal.message})
    return forms.ValidationError(refusal.message)


def _grouped(number: int) -> str:
    return number_format(number, force_grouping=True)


# A count in a refusal, with the reader's thousands separator when it is read (65,536; 65.536;
# 65 536), in English on the trail.
grouped = lazy(_grouped, str)
