"""The date a purge's preview works with: the tenant's date at the next scheduled run (the
tenant's date now is Tenant.today())."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from compliance.models import Tenant


def next_run_date(tenant: Tenant, *, now: datetime | None = None) -> date:
    """The tenant's date at the next scheduled purge (PURGE_AT in TIME_ZONE): what the preview
    of "tonight's run" must look at, since a run at 02:30 deletes what expired the day before."""
    now = timezone.localtime(now or timezone.now())  # in TIME_ZONE
    hour, minute = (int(part) for part in settings.PURGE_AT.split(":"))
    run_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if run_at <= now:
        run_at += timedelta(days=1)
    return run_at.astimezone(ZoneInfo(tenant.time_zone)).date()
