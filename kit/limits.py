"""Ceilings on the free text people and clients type, in characters: one table, used by the models
(form fields and model validation), the services (which refuse past them, naming the field,
before anything is written, on the audit trail included) and the README ("Limits on free text").

Each is far above what the text is for (a justification names a case or a sampling plan in a
sentence or two) and far below what would make a row, an event on the append-only trail, or a
page showing it a burden. Short identifiers (references, call ids, campaign names) are bounded by
their columns' max_length instead.
"""

from __future__ import annotations

from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .refusals import Refused

# Why someone needs to hear a call: kept on the grant and on the trail with every play.
ACCESS_JUSTIFICATION = 2000
# Why recordings are frozen (the litigation or inquiry), and why the freeze ends.
LEGAL_HOLD_REASON = 4000
LEGAL_HOLD_RELEASE_REASON = 4000
# What a purpose of processing covers, and the rule a retention policy applies with its source.
PURPOSE_DESCRIPTION = 4000
POLICY_LEGAL_REFERENCE = 2000
# What a data-subject request's handler writes: why the answer is extended, how the identity was
# checked, what was done, why a part is refused, which compelling grounds outweigh an objection.
SUBJECT_REQUEST_TEXT = 4000
# The processors' register and the risk analysis: the services a processor provides, a threat
# and what answers it, the evidence of a measure, a DPIA's necessity and proportionality and the
# DPO's opinion (GDPR Art. 28, 30, 35).
PROCESSOR_TEXT = 2000
RISK_TEXT = 4000
DPIA_TEXT = 8000
# Why a number was added to a tenant's internal do-not-call opt-outs.
DNC_NOTE = 2000
# Why a do-not-call list's import failed (written by the import, cut to this length).
DNC_FAILURE = 2000
# One value of an admin page's query string (a search term, a filter's value): a number, a call
# id, a name. 5,000 digits overflowed Python's int conversion in the id filters.
QUERY_STRING_VALUE = 500


def bounded_text(limit: int, **options) -> models.TextField:
    """A TextField of at most `limit` characters: its form field refuses more, and so does model
    validation (which a TextField's max_length alone does not check)."""
    return models.TextField(max_length=limit, validators=[MaxLengthValidator(limit)], **options)


def refuse_longer_than(text: str | None, limit: int, *, field: str) -> None:
    """A service's refusal of text past its ceiling, naming the field (before anything is
    written, the trail included). The message is in the reader's language; the trail's, in
    English (Refused.for_trail)."""
    length = len(text or "")
    if length > limit:
        message = format_lazy(
            _("{field} is longer than {limit} characters ({length})"),
            field=field,
            limit=limit,
            length=length,
        )
        raise Refused(message, field=field)
