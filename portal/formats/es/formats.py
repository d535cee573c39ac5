"""The admin's date and time formats in Spanish: the same one format as in English
(portal/formats/en/formats.py, from kit/times.py), with Spain's separators for numbers."""

from portal.formats.en.formats import (  # noqa: F401
    DATE_FORMAT,
    DATETIME_FORMAT,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    TIME_FORMAT,
)

DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
