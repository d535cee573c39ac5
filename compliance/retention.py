"""How long a recording may be kept: the one place that decides `retain_until`.

Rule (docs/architecture.md, "The longest-wins rule"): the policies in force today for the
recording's purpose are the tenant's own when it has any (a tenant may tighten the platform's
presets), otherwise the platform's; where several apply, the longest wins. With none, the
purpose's default period applies. The period runs from the call's start date in the tenant's time
zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.db.models import Q
from django.utils import timezone

from .models import ExpiryAction, Purpose, RetentionPolicy, Tenant


@dataclass(frozen=True)
class RetentionDecision:
    retain_until: date
    months: int
    policy_id: int | None
    action_at_expiry: str


def choose_policy(
    policies: Iterable[RetentionPolicy], *, tenant_id: int, today: date
) -> RetentionPolicy | None:
    """The policy that decides, among the policies of one purpose (pure: no database access)."""
    in_force = [
        policy
        for policy in policies
        if policy.active
        and policy.effective_from <= today
        and policy.tenant_id in (None, tenant_id)
    ]
    own = [policy for policy in in_force if policy.tenant_id == tenant_id]
    candidates = own or [policy for policy in in_force if policy.tenant_id is None]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.retention_months, p.effective_from, p.pk or 0))


def local_start_date(started_at: datetime, time_zone: str) -> date:
    return started_at.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def decide(
    policies: Iterable[RetentionPolicy],
    *,
    purpose: Purpose,
    tenant: Tenant,
    started_at: datetime,
    today: date | None = None,
    starts_on: date | None = None,
) -> RetentionDecision:
    """`starts_on` replaces the call's local start date where retention runs from another event
    (Code des assurances R.112-7: two years from the contract's signature)."""
    today = today or timezone.localdate()
    policy = choose_policy(policies, tenant_id=tenant.pk, today=today)
    months = policy.retention_months if policy else purpose.default_retention_months
    start = starts_on or local_start_date(started_at, tenant.time_zone)
    return RetentionDecision(
        retain_until=start + relativedelta(months=months),
        months=months,
        policy_id=policy.pk if policy else None,
        action_at_expiry=policy.action_at_expiry if policy else ExpiryAction.DELETE,
    )


def retain_until_for(
    *,
    tenant: Tenant,
    purpose: Purpose,
    started_at: datetime,
    today: date | None = None,
    starts_on: date | None = None,
) -> RetentionDecision:
    """The retention decision for one recording, reading the purpose's policies."""
    policies = RetentionPolicy.objects.filter(purpose=purpose, active=True).filter(
        Q(tenant=tenant) | Q(tenant__isnull=True)
    )
    return decide(
        policies,
        purpose=purpose,
        tenant=tenant,
        started_at=started_at,
        today=today,
        starts_on=starts_on,
    )
