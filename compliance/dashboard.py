"""Compliance's panels of the admin's dashboard (kit/dashboard.py), registered by
compliance/apps.py: the legal holds in force, the open data-subject requests by the days left
before their deadline, and the freshness of the do-not-call lists and of the running campaigns'
screenings. The tables are small (a tenant's holds, its open requests, its campaigns); each
count is its list's, through the list's own filters."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kit.charts import Bar, Segment, bar_chart
from kit.dashboard import Board, Fact, Figure, Panel, PanelContent, capped_count
from kit.times import in_tenant_zone

from .dnc_freshness import SourceState, campaigns_freshness, list_freshness
from .dnc_models import Campaign
from .dnc_sources import Delivery, rule_for
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


# The running campaigns named on the do-not-call panel, the stale ones first; the list has the rest.
CAMPAIGNS_NAMED = 5


def _freshness_text(state: SourceState, tenant) -> str:
    if not state.fresh:
        return state.message
    if state.stale_since is None:
        return _("%(reference)s: fresh") % {"reference": state.reference}
    return _("%(reference)s: fresh until %(when)s") % {
        "reference": state.reference,
        "when": in_tenant_zone(state.stale_since, tenant),
    }


def dnc_freshness(board: Board) -> PanelContent:
    """The lists the tenant screens against (the national lists of its country and its own
    list): each version in force, fresh or stale since when; the running campaigns, those whose
    list or screening is stale counted and named first, with each screening's age."""
    tenant = board.tenant
    facts = [
        Fact(
            str(state.label),
            _freshness_text(state, tenant),
            _list_url(
                "admin:compliance_dnclist_changelist",
                source__exact=state.source,
                status__exact="in_force",
            ),
        )
        for state in list_freshness(tenant=tenant, now=board.now)
    ]
    running = list(
        Campaign.objects.filter(tenant=tenant, starts_on__lte=board.today, ends_on__gte=board.today)
        .select_related("tenant")
        .order_by("ends_on", "name")
    )
    states = campaigns_freshness(running, now=board.now)
    stale = [c for c in running if not all(state.fresh for state in states[c.pk])]
    figures = [
        Figure(
            _("Running campaigns"),
            len(running),
            _list_url("admin:compliance_campaign_changelist", state="running", tenant=tenant.pk),
        ),
        Figure(
            _("Running campaigns with a stale list or screening"),
            len(stale),
            _list_url(
                "admin:compliance_campaign_changelist",
                state="running",
                freshness="stale",
                tenant=tenant.pk,
            ),
            tone="danger",
        ),
    ]
    named = sorted(running, key=lambda campaign: campaign not in stale)[:CAMPAIGNS_NAMED]
    for campaign in named:
        screenings = [
            state
            for state in states[campaign.pk]
            if rule_for(state.source).delivery == Delivery.SUBMITTED_FILE or not state.fresh
        ]
        for state in screenings:
            facts.append(
                Fact(
                    f"{campaign.name} — {state.label}",
                    _freshness_text(state, tenant),
                    reverse("admin:compliance_campaign_change", args=[campaign.pk]),
                )
            )
    return PanelContent(figures=figures, facts=facts)


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
    Panel(
        key="compliance.dnc_freshness",
        title=gettext_lazy("Do-not-call list freshness"),
        build=dnc_freshness,
        permissions=("compliance.view_dnclist", "compliance.view_campaign"),
        order=70,
    ),
)
