"""Log filters of the site (LOGGING in portal/settings.py)."""

from __future__ import annotations

import logging


class RefusalsOnOneLine(logging.Filter):
    """A refusal the portal means to give (a 4xx: a permission, a bad request) is logged on one
    line: Django attaches the exception that produced it, whose traceback would bury the
    console under dozens of lines for an everyday answer. Server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
