"""Times as a tenant's people read them: in the tenant's own time zone, the zone named.

One format everywhere (`DATETIME_FORMAT`, "2026-12-04 07:00:57 CET"): Django renders every
date-time of the admin with it (portal/formats/), and the helpers below write it where code builds
the text. On a page, times are in the viewer's zone, which `compliance.middleware` activates for
the request (their tenant's); in a document or an e-mail about one tenant, in that tenant's zone.
Exports write ISO 8601 with the offset (`iso_with_offset`).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import dateformat, timezone

# Django's date-format syntax: the date, the time to the second on a 24-hour clock, and the
# zone's abbreviation (CET, CEST, EST; "-03" for a zone that has none).
DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"


def zone_of(tenant) -> ZoneInfo:
    """`tenant`'s zone (any object with a `time_zone`; the server's when it has none)."""
    return ZoneInfo(getattr(tenant, "time_zone", "") or settings.TIME_ZONE)


def _formatted(value: datetime | None, zone: tzinfo) -> str:
    if value is None:
        return "—"
    # dateformat.format, not date_format: the same text whatever language is active.
    return dateformat.format(timezone.localtime(value, zone), DATETIME_FORMAT)


def in_tenant_zone(value: datetime | None, tenant) -> str:
    """`value` in `tenant`'s time zone, with the zone's abbreviation; "—" for no time."""
    return _formatted(value, zone_of(tenant))


def in_current_zone(value: datetime | None) -> str:
    """`value` in the zone of the request being answered (the viewer's, as every date-time
    Django renders on the page), with the zone's abbreviation; "—" for no time."""
    return _formatted(value, timezone.get_current_timezone())


def iso_with_offset(value: datetime | None, zone: tzinfo | None = None) -> str:
    """`value` as ISO 8601 with its offset, in `zone` (by default the current one): what the
    exports write. "" for no time."""
    if value is None:
        return ""
    return timezone.localtime(value, zone or timezone.get_current_timezone()).isoformat()


def tenant_day(value: datetime | None, tenant) -> date | None:
    """The day `value` falls on in `tenant`'s time zone (the data controller's days: a call at
    00:30 in Paris is that day's, not the day before's in UTC); None for no time."""
    if value is None:
        return None
    return timezone.localtime(value, ZoneInfo(tenant.time_zone)).date()
