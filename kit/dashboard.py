"""The admin index's dashboard: a registry of panels that each feature registers from its
AppConfig.ready, so that a panel exists exactly when its feature does and no app imports the
site that shows them (portal/dashboard.py assembles them).

A panel names the permissions ("app.codename") a viewer's role must carry *in the tenant shown*
(compliance/roles.py's rule, applied by the portal), and builds its content for one tenant, as
of one day in that tenant's zone: its figures (each a count and the link to the admin list
filtered by declared filters only, which shows the same count), facts (label and value), and a
small chart drawn on the server (kit/charts.py). A feature built later registers its own:

    from kit.dashboard import Panel, panel_register

    panel_register(Panel(key="dnc.freshness", title=_("Do-not-call lists"), order=80,
                         permissions=("compliance.view_dnclist",), build=dnc_freshness))

Counting stays cheap at 10 million recordings and 100 million events: every count is an index
range of one tenant, bounded by a window or capped like the admin's lists (`capped_count`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from .paginators import CAPPED_COUNT


@dataclass(frozen=True)
class Figure:
    """One number of a panel and the admin list that shows the same number. `count` is capped
    at CAPPED_COUNT + 1 like the lists' (kit/paginators.py): `capped` when there are more."""

    label: str
    count: int
    url: str = ""
    # A CSS class suffix: "", "warning", "danger" (dashboard.css).
    tone: str = ""

    @property
    def capped(self) -> bool:
        return self.count > CAPPED_COUNT

    @property
    def shown(self) -> str:
        if self.capped:
            return _("more than %(count)s") % {
                "count": number_format(CAPPED_COUNT, force_grouping=True)
            }
        return number_format(self.count, force_grouping=True)


@dataclass(frozen=True)
class Fact:
    """A panel's line that is not a count (a time with its zone, a range of events)."""

    label: str
    value: str
    url: str = ""


@dataclass(frozen=True)
class Table:
    """Figures in rows and columns (recordings per purpose and status): None for an empty cell."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Figure | None, ...]], ...]


@dataclass
class PanelContent:
    figures: list[Figure] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    table: Table | None = None
    # An SVG from kit/charts.py (already escaped), or "".
    chart: str = ""
    # Said when the panel has nothing to count ("No purge has run yet.").
    empty: str = ""


@dataclass(frozen=True)
class Board:
    """What panels are built for: one tenant (None for the platform operator's view of every
    tenant), seen by one request's viewer, on one day of the tenant's zone."""

    request: Any
    tenant: Any | None
    now: datetime
    today: date
    zone_name: str


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    build: Callable[[Board], PanelContent | None]
    # Every one must be carried by the viewer's role in the tenant shown.
    permissions: tuple[str, ...] = ()
    order: int = 100
    # Built for one tenant's board; `platform`: for the platform operator's own index too.
    tenant: bool = True
    platform: bool = False


_panels: dict[str, Panel] = {}


def panel_register(panel: Panel) -> None:
    """For an app's AppConfig.ready; registering the same key again replaces the panel."""
    _panels[panel.key] = panel


def panel_unregister(key: str) -> None:
    _panels.pop(key, None)


def panels(*, platform: bool = False) -> list[Panel]:
    """The registered panels of a tenant's board, or of the platform's, in their order."""
    chosen = [panel for panel in _panels.values() if (panel.platform if platform else panel.tenant)]
    return sorted(chosen, key=lambda panel: (panel.order, panel.key))


def capped_count(queryset: QuerySet) -> int:
    """The count the admin's capped paginator gives the same rows: at most CAPPED_COUNT + 1.
    Without the model's default ordering, which would make PostgreSQL walk an index in that
    order (recordings newest first) and filter, instead of reading the range of the filter's."""
    return queryset.order_by()[: CAPPED_COUNT + 1].count()
