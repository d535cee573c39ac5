"""The dashboard of the admin's index: the panels the apps registered (kit/dashboard.py) that
the viewer's role in a tenant may see, built for that tenant, on its day, in its time zone.

A member's index shows one board per tenant they belong to (one, for nearly everyone); each
tenant's board also has a page of its own (`/admin/dashboard/<tenant id>/`). A platform
operator's index keeps Django's list of apps and adds the platform's panels (the purge run's
totals, alerts and incidents of every tenant, the chain's verification) and the list of tenants,
each a link to that tenant's board: every count of a board is an index range of one tenant,
cheap at 10 million recordings; summed over every tenant it would cost as many ranges, and
"today" would mean a different day in each tenant's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from audit.timeline import zone_shared
from compliance.models import Tenant
from compliance.roles import role_grants
from compliance.tenancy import viewer_memberships
from kit.dashboard import Board, Panel, PanelContent, panels


@dataclass(frozen=True)
class ShownPanel:
    panel: Panel
    content: PanelContent


@dataclass(frozen=True)
class ShownBoard:
    tenant: Tenant | None
    zone_name: str
    today: object
    panels: list[ShownPanel]


def may_see(request, tenant_id: int | None, panel: Panel) -> bool:
    """Whether the viewer's role in the tenant carries every permission the panel names
    (compliance.roles.tenant_permits' rule, with the memberships read once per request); the
    platform's panels are the platform operator's."""
    user = request.user
    if not all(user.has_perm(permission) for permission in panel.permissions):
        return False
    if user.is_superuser:
        return True
    if tenant_id is None:
        return False
    role = dict(viewer_memberships(request)).get(tenant_id)
    return role is not None and all(role_grants(role, p) for p in panel.permissions)


def _board(request, tenant: Tenant | None, zone_name: str, chosen: list[Panel]) -> ShownBoard:
    now = timezone.now()
    today = timezone.localdate(now, timezone=ZoneInfo(zone_name))
    board = Board(request=request, tenant=tenant, now=now, today=today, zone_name=zone_name)
    shown = []
    for panel in chosen:
        if may_see(request, tenant.pk if tenant else None, panel):
            content = panel.build(board)
            if content is not None:
                shown.append(ShownPanel(panel, content))
    return ShownBoard(tenant=tenant, zone_name=zone_name, today=today, panels=shown)


def tenant_board(request, tenant: Tenant) -> ShownBoard:
    return _board(request, tenant, tenant.time_zone, panels())


def platform_board(request) -> ShownBoard:
    """The platform operator's: days in the zone every tenant shares, else the server's (the
    trail's list reads "today" the same way: audit/admin.py::OccurredFilter)."""
    return _board(request, None, zone_shared(Tenant.objects.all()), panels(platform=True))


def member_tenants(request) -> list[Tenant]:
    tenant_ids = [tenant_id for tenant_id, _role in viewer_memberships(request)]
    return list(Tenant.objects.filter(pk__in=tenant_ids).order_by("name"))
