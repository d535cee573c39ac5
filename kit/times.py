"""Times as a tenant's people read them: in the tenant's own time zone, the zone named."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def in_tenant_zone(value: datetime | None, tenant) -> str:
    """`value` in `tenant`'s time zone (any object with a `time_zone`; the server's when it has
    none), with the zone's abbreviation; "—" for no time."""
    if value is None:
        return "—"
    zone = ZoneInfo(getattr(tenant, "time_zone", "") or settings.TIME_ZONE)
    return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M %Z")


def tenant_day(value: datetime | None, tenant) -> date | None:
    """The day `value` falls on in `tenant`'s time zone (the data controller's days: a call at
    00:30 in Paris is that day's, not the day before's in UTC); None for no time."""
    if value is None:
        return None
    return timezone.localtime(value, ZoneInfo(tenant.time_zone)).date()
