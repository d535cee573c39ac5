"""The dates Custodia accepts from a person or a client: the one definition of "a sane date".

Every date or date-time the API or the admin takes in (a consent's `decided_at`, a recording's
`started_at`, a legal hold's date range, a retention policy's `effective_from`) must lie between
EARLIEST (2000-01-01) and one day after now. Before it, a date is a typo or a probe: nothing this
portal holds was recorded in the last millennium, and PostgreSQL and Python disagree on the
years near 1 (a decision "0001-01-01T00:00+14:00" is stored as 1 BC and can no longer be read
back). After it, a date is a clock gone wrong or a guess: a decision, a call or a hold's range
describes what has happened; to hold calls still to come, a hold leaves its end open; a policy
takes effect when it is saved (no task recomputes retention on a future date, so a scheduled
policy would silently apply to new calls only). The day of slack absorbs time zones and clocks.

Services call `date_window_error` and refuse with their own exception naming the field; model
and form fields use `validate_in_date_window`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EARLIEST = date(2000, 1, 1)
AHEAD = timedelta(days=1)


def date_window_error(value: date | datetime, *, now: datetime | None = None) -> str | None:
    """Why `value` is outside the window, as words to follow the field's name; None if inside.
    A date-time is compared by its own calendar date with EARLIEST (no conversion: that of
    year 1 to UTC may not exist) and as an instant with now; a naive one is the caller's to
    refuse."""
    now = now or timezone.now()
    day = value.date() if isinstance(value, datetime) else value
    if day < EARLIEST:
        problem = "is before"
    elif isinstance(value, datetime):
        problem = "is after" if timezone.is_aware(value) and value > now + AHEAD else ""
    else:
        problem = "is after" if value > timezone.localdate(now) + AHEAD else ""
    if not problem:
        return None
    return f"{problem} the dates Custodia accepts ({EARLIEST.isoformat()} to a day from now)"


def validate_in_date_window(value: date | datetime) -> None:
    """For model and form fields: the same rule as a ValidationError."""
    error = date_window_error(value)
    if error is not None:
        raise ValidationError(
            _("This date %(error)s."), code="date_window", params={"error": error}
        )
