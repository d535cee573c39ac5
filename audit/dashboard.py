"""The audit app's panels of the admin's dashboard (kit/dashboard.py), registered by
audit/apps.py: the open alerts and incidents, and the last verification of the audit chain.
Alerts are counted through the index (tenant, status, -raised_at), incidents are few; the
chain's last checkpoint is one row of a small table, found by its unique number."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kit.charts import Bar, Segment, bar_chart
from kit.dashboard import Board, Fact, Figure, Panel, PanelContent, capped_count
from kit.times import in_tenant_zone

from .models import (
    Alert,
    AlertStatus,
    AuditEvent,
    Checkpoint,
    CheckpointKind,
    Incident,
    IncidentStatus,
    Severity,
)
from .timeline import day_start


def _list_url(name: str, board: Board, **filters) -> str:
    if board.tenant is not None:
        filters["tenant"] = board.tenant.pk
    return f"{reverse(name)}?{urlencode(filters)}"


def _of_board(queryset, board: Board):
    """A tenant's rows, or every row for the platform operator's own board."""
    return queryset if board.tenant is None else queryset.filter(tenant=board.tenant)


def alerts_and_incidents(board: Board) -> PanelContent:
    alerts = _of_board(Alert.objects.all(), board)
    alert_list = "admin:audit_alert_changelist"
    new = alerts.filter(status=AlertStatus.NEW)
    figures = [
        Figure(
            _("New alerts"),
            capped_count(new),
            _list_url(alert_list, board, status__exact=AlertStatus.NEW),
        ),
        Figure(
            _("New alerts of high severity"),
            capped_count(new.filter(severity=Severity.HIGH)),
            _list_url(
                alert_list, board, status__exact=AlertStatus.NEW, severity__exact=Severity.HIGH
            ),
            tone="danger",
        ),
        Figure(
            _("Alerts being investigated"),
            capped_count(alerts.filter(status=AlertStatus.INVESTIGATING)),
            _list_url(alert_list, board, status__exact=AlertStatus.INVESTIGATING),
            tone="warning",
        ),
        Figure(
            _("Open personal-data breach incidents"),
            capped_count(_of_board(Incident.objects.filter(status=IncidentStatus.OPEN), board)),
            _list_url("admin:audit_incident_changelist", board, status__exact=IncidentStatus.OPEN),
            tone="danger",
        ),
    ]
    bars = [
        Bar(figure.label, (Segment(figure.count, figure.tone or "main"),), shown=figure.shown)
        for figure in figures
    ]
    return PanelContent(
        figures=figures, chart=bar_chart(bars, title=_("Open alerts and incidents"))
    )


def chain_verification(board: Board) -> PanelContent:
    """The last checkpoint a verification stored: every event up to it was found intact (an
    incremental run builds on the checkpoint before, itself verified), and the range this run
    re-hashed at least. Another tenant's numbers are not told by it: sequence numbers are
    shared by every tenant (docs/architecture.md, "Accepted inference: shared id counters")."""
    latest = Checkpoint.objects.filter(kind=CheckpointKind.VERIFIED).order_by("-number").first()
    if latest is None:
        return PanelContent(empty=_("The audit chain has not been verified yet."))
    before = (
        Checkpoint.objects.filter(number__lt=latest.number)
        .order_by("-number")
        .values_list("sequence", flat=True)
        .first()
    ) or 0

    def number(value: int) -> str:
        return number_format(value, force_grouping=True)

    facts = [
        Fact(_("Last verified"), in_tenant_zone(latest.created_at, board.tenant)),
        Fact(
            _("Found intact"),
            _("events #1 to #%(last)s") % {"last": number(latest.sequence)}
            if latest.sequence
            else _("no event yet"),
        ),
    ]
    if latest.sequence > before:
        facts.append(
            Fact(
                _("New since the verification before"),
                _("events #%(first)s to #%(last)s")
                % {"first": number(before + 1), "last": number(latest.sequence)},
            )
        )
    figures = []
    if board.tenant is None:
        # Findings of a broken chain are the platform's (no tenant): its operator's to see.
        week = day_start(board.today - timedelta(days=6), board.zone_name)
        broken = AuditEvent.objects.filter(action="audit.chain_broken").occurred_since(week)
        figures.append(
            Figure(
                _("Broken-chain findings in the last 7 days"),
                capped_count(broken),
                _list_url(
                    "admin:audit_auditevent_changelist",
                    board,
                    action="audit.chain_broken",
                    occurred="7d",
                ),
                tone="danger",
            )
        )
    return PanelContent(figures=figures, facts=facts)


PANELS = (
    Panel(
        key="audit.alerts",
        title=gettext_lazy("Open alerts and incidents"),
        build=alerts_and_incidents,
        permissions=("audit.view_alert", "audit.view_incident"),
        order=70,
        platform=True,
    ),
    Panel(
        key="audit.chain",
        title=gettext_lazy("Audit chain verification"),
        build=chain_verification,
        permissions=("audit.view_auditevent",),
        order=90,
        platform=True,
    ),
)
