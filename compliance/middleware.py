"""Every page in the viewer's time zone: their tenant's, activated for the request, so that the
times Django renders (lists, detail pages, history pages) and those the code writes
(kit/times.py::in_current_zone) are the same, in the zone they name."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import timezone


def viewer_zone(user) -> ZoneInfo | None:
    """The time zone of the tenants `user` belongs to, when they share one (one membership, or
    several in one zone); None otherwise (no membership, as a platform operator, or tenants in
    different zones), for the server's zone (TIME_ZONE), which the pages name as well."""
    if user is None or not user.is_authenticated:
        return None
    # A person belongs to a few tenants: their zones are read whole, in one query.
    zones = set(user.memberships.values_list("tenant__time_zone", flat=True))
    return ZoneInfo(zones.pop()) if len(zones) == 1 else None


class TenantTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = viewer_zone(getattr(request, "user", None))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            # The zone is the thread's: the next request served by this thread starts afresh.
            timezone.deactivate()
