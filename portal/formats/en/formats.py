"""How the admin shows dates and times in English: one format everywhere (kit/times.py), the
time to the second and its zone named, instead of Django's "Dec. 4, 2026, 9:51 p.m.". Input
formats stay Django's."""

from kit.times import DATE_FORMAT, DATETIME_FORMAT, TIME_FORMAT

SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT

__all__ = [
    "DATE_FORMAT",
    "DATETIME_FORMAT",
    "SHORT_DATE_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "TIME_FORMAT",
]
