"""Compliance's panels of the admin's dashboard (kit/dashboard.py), registered by
compliance/apps.py: the legal holds in force and the open data-subject requests by the days
left before their deadline. Both tables are small (a tenant's holds, its open requests); each
count is its list's, through the list's own filters."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kit.charts import Bar, Segment, bar_chart
from kit.dashboard import Board, Fact, Figure, Panel, PanelContent, capped_count
from kit.times import in_tenant_zone

from .models import LegalHold, SubjectRequest
from .subject_request_models import DUE_SOON_DAYS, due_within

# The holds named on the panel, newest first; the list has the rest.
HOLDS_NAMED = 5


def _list_url(name: str, **filters) -> str:
    return f"{reverse(name)}?{urlencode(filters)}"


def legal_holds_in_force(board: Board) -> PanelContent:
    holds = LegalHold.objects.filter(tenant=board.tenant).active()
    figure = Figure(
        _("Legal holds in force"),
        capped_count(holds),
        _list_url(
            "admin:compliance_legalhold_changelist",
            status="active",
            tenant=board.tenant.pk,
        ),
    )
    named = [
        Fact(
            hold.reference,
            _("placed %(when)s") % {"when": in_tenant_zone(hold.placed_at, board.tenant)},
            reverse("admin:compliance_legalhold_change", args=[hold.pk]),
        )
        for hold in holds.order_by("-placed_at", "-pk")[:HOLDS_NAMED]
    ]
    return PanelContent(figures=[figure], facts=named)


def requests_by_days_left(board: Board) -> PanelContent:
    """Open requests: overdue, due within a week, later, each in the tenant's days."""
    requests = SubjectRequest.objects.filter(tenant=board.tenant)
    today = {board.tenant.pk: board.today}
    shown = (
        ("overdue", _("Overdue"), "danger"),
        ("soon", _("Due within %(days)d days") % {"days": DUE_SOON_DAYS}, "warning"),
        ("later", _("Due later"), ""),
    )
    figures = [
        Figure(
            label,
            capped_count(due_within(requests, window, today)),
            _list_url(
                "admin:compliance_subjectrequest_changelist",
                status="open",
                deadline=window,
                tenant=board.tenant.pk,
            ),
            tone=tone,
        )
        for window, label, tone in shown
    ]
    bars = [
        Bar(figure.label, (Segment(figure.count, figure.tone or "main"),), shown=figure.shown)
        for figure in figures
    ]
    return PanelContent(
        figures=figures,
        chart=bar_chart(bars, title=_("Open data-subject requests by days left")),
    )


PANELS = (
    Panel(
        key="compliance.legal_holds",
        title=gettext_lazy("Legal holds"),
        build=legal_holds_in_force,
        permissions=("compliance.view_legalhold",),
        order=50,
    ),
    Panel(
        key="compliance.subject_requests",
        title=gettext_lazy("Data-subject requests by days left"),
        build=requests_by_days_left,
        permissions=("compliance.view_subjectrequest",),
        order=60,
    ),
)
