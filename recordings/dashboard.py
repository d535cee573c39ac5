"""Recordings' panels of the admin's dashboard (kit/dashboard.py), registered by
recordings/apps.py: the recordings per purpose and status, what retention ends soon, the last
purge run and today's listening. Each figure is counted as the admin list its link opens counts
it (the same rows, capped like its paginator), from an index of one tenant:

- per purpose and status: recording_purpose_status (tenant, purpose, status), index only;
- retention windows: recording_tenant_expiry (tenant, retain_until, id) of the active rows;
- the last purge run: one row, and the figures it stored for each tenant (its preview);
- listening today: the trail's (tenant, action, -sequence) index, over today's sequence range
  (audit/timeline.py).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import AuditEvent
from audit.timeline import day_start, first_sequence_at
from compliance.models import Purpose, shown_name
from kit.charts import Bar, Segment, bar_chart
from kit.dashboard import Board, Fact, Figure, Panel, PanelContent, Table, capped_count
from kit.paginators import CAPPED_COUNT
from kit.times import in_tenant_zone

from .models import DeletionReason, PurgeRun, PurgeRunStatus, Recording, Status


def _list_url(name: str, **filters) -> str:
    return f"{reverse(name)}?{urlencode(filters)}"


def _purposes(tenant):
    """The purposes a tenant's recordings may have: the platform's and its own, switched off
    ones included (their recordings are still kept)."""
    return Purpose.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant))


# --- recordings per purpose and status ----------------------------------------------------------

# One capped count per (purpose, status) in one statement, each an index-only range of
# recording_purpose_status stopping after CAPPED_COUNT + 1 rows (the list's capped count).
_PURPOSE_STATUS_SQL = """
SELECT purpose.id, state.status,
       (SELECT count(*) FROM (
            SELECT 1 FROM recordings_recording AS recording
             WHERE recording.tenant_id = %(tenant)s
               AND recording.purpose_id = purpose.id
               AND recording.status = state.status
             LIMIT %(cap)s) AS capped)
  FROM unnest(%(purposes)s::bigint[]) AS purpose(id)
 CROSS JOIN unnest(%(statuses)s::text[]) AS state(status)
"""

# The tone of each status's segment in the chart (dashboard.css).
_STATUS_TONES = {Status.ACTIVE: "main", Status.PURGED: "quiet", Status.ERASED: "warning"}


def recordings_by_purpose(board: Board) -> PanelContent:
    tenant = board.tenant
    purposes = list(_purposes(tenant).order_by("name", "pk"))
    statuses = list(Status)
    with connection.cursor() as cursor:
        cursor.execute(
            _PURPOSE_STATUS_SQL,
            {
                "tenant": tenant.pk,
                "cap": CAPPED_COUNT + 1,
                "purposes": [purpose.pk for purpose in purposes],
                "statuses": [str(status) for status in statuses],
            },
        )
        counts = {(purpose_id, status): count for purpose_id, status, count in cursor.fetchall()}
    rows, bars = [], []
    for purpose in purposes:
        cells = tuple(
            Figure(
                label=f"{shown_name(purpose.name)}: {status.label}",
                count=counts.get((purpose.pk, str(status)), 0),
                url=_list_url(
                    "admin:recordings_recording_changelist",
                    purpose=purpose.pk,
                    status__exact=status,
                    tenant=tenant.pk,
                ),
            )
            for status in statuses
        )
        if not any(cell.count for cell in cells):
            continue
        rows.append(
            (shown_name(purpose.name), tuple(cell if cell.count else None for cell in cells))
        )
        bars.append(
            Bar(
                shown_name(purpose.name),
                tuple(
                    Segment(cell.count, _STATUS_TONES[status], status.label)
                    for status, cell in zip(statuses, cells, strict=True)
                ),
                shown=next((cell.shown for cell in cells if cell.capped), ""),
            )
        )
    if not rows:
        return PanelContent(empty=_("No recording yet."))
    used = [index for index, status in enumerate(statuses) if any(row[1][index] for row in rows)]
    return PanelContent(
        table=Table(
            columns=tuple(statuses[index].label for index in used),
            rows=tuple((label, tuple(cells[index] for index in used)) for label, cells in rows),
        ),
        chart=bar_chart(
            bars,
            title=_("Recordings per purpose and status"),
            legend=tuple((_STATUS_TONES[statuses[index]], statuses[index].label) for index in used),
        ),
    )


# --- retention windows --------------------------------------------------------------------------


def retention_ending(board: Board) -> PanelContent:
    """The retention filter's own windows (recordings/admin.py::RetentionEndsFilter), so that
    each count is its list's."""
    from .admin import RetentionEndsFilter  # the admin's module, loaded once the site is

    windows = RetentionEndsFilter.windows()
    active = Recording.objects.filter(tenant=board.tenant, status=Status.ACTIVE)
    shown = (
        ("expired", _("Expired, awaiting the purge"), "danger"),
        ("7d", _("Retention ends within 7 days"), "warning"),
        ("30d", _("Retention ends within 30 days"), ""),
    )
    figures = [
        Figure(
            label=label,
            count=capped_count(active.filter(windows[window])),
            url=_list_url(
                "admin:recordings_recording_changelist",
                retention_ends=window,
                tenant=board.tenant.pk,
            ),
            tone=tone if window != "expired" else "",
        )
        for window, label, tone in shown
    ]
    bars = [
        Bar(figure.label, (Segment(figure.count, figure.tone or "main"),), shown=figure.shown)
        for figure in figures
    ]
    return PanelContent(
        figures=figures, chart=bar_chart(bars, title=_("Recordings whose retention ends soon"))
    )


# --- the last purge run -------------------------------------------------------------------------


def _last_run() -> PurgeRun | None:
    # One run a night and the previews asked for: a small table.
    return PurgeRun.objects.exclude(status=PurgeRunStatus.DRY_RUN).order_by("-started_at").first()


def _run_facts(run: PurgeRun, tenant) -> list[Fact]:
    return [
        Fact(_("Started"), in_tenant_zone(run.started_at, tenant)),
        Fact(_("Finished"), in_tenant_zone(run.finished_at, tenant)),
        Fact(_("Status"), run.get_status_display()),
    ]


def last_purge_run(board: Board) -> PanelContent:
    """The tenant's figures of the last run: what it found to delete and what holds and
    restrictions kept back, per purpose and reason as the run's page lists them."""
    run = _last_run()
    if run is None:
        return PanelContent(empty=_("No purge has run yet."))
    url = reverse("admin:recordings_purgerun_change", args=[run.pk])
    rows = [row for row in run.preview if row.get("tenant_id") == board.tenant.pk]
    totals = {
        key: sum(row.get(key) or 0 for row in rows)
        for key in ("to_delete", "held_back", "restricted")
    }
    figures = [
        Figure(_("Found to delete"), totals["to_delete"], url),
        Figure(_("Kept by legal holds"), totals["held_back"], url),
        Figure(_("Kept by restrictions (GDPR Art. 18)"), totals["restricted"], url),
    ]
    # The tenant's own purpose before the platform's of the same code (Purpose.by_code's rule).
    names = {
        code: shown_name(name)
        for code, name in _purposes(board.tenant)
        .order_by(F("tenant").asc(nulls_first=True))
        .values_list("code", "name")
    }
    reasons = dict(DeletionReason.choices)
    bars = [
        Bar(
            f"{names.get(row.get('purpose'), _('Another purpose'))} — "
            f"{reasons.get(row.get('reason'), _('Other reason'))}",
            (
                Segment(row.get("to_delete") or 0, "danger", _("to delete")),
                Segment(row.get("held_back") or 0, "main", _("kept by holds")),
                Segment(row.get("restricted") or 0, "quiet", _("kept by restrictions")),
            ),
        )
        for row in rows
    ]
    return PanelContent(
        figures=figures,
        facts=_run_facts(run, board.tenant),
        chart=bar_chart(
            bars,
            title=_("What the last purge run found, per purpose"),
            legend=(
                ("danger", _("to delete")),
                ("main", _("kept by holds")),
                ("quiet", _("kept by restrictions")),
            ),
        ),
    )


def last_purge_run_platform(board: Board) -> PanelContent:
    """The platform operator's: the run's totals over every tenant."""
    run = _last_run()
    if run is None:
        return PanelContent(empty=_("No purge has run yet."))
    url = reverse("admin:recordings_purgerun_change", args=[run.pk])
    figures = [
        Figure(_("Expired recordings found"), run.expired_found, url),
        Figure(_("Deleted"), run.purged, url),
        Figure(_("Kept by legal holds"), run.skipped_held, url),
        Figure(_("Failed"), run.failed, url, tone="danger" if run.failed else ""),
        Figure(_("Audio files removed"), run.files_removed, url),
    ]
    return PanelContent(figures=figures, facts=_run_facts(run, None))


# --- listening today ----------------------------------------------------------------------------

LISTENING_ACTIONS = (
    ("recording.access_granted", gettext_lazy("Listening granted"), ""),
    ("recording.access_denied", gettext_lazy("Listening refused"), "warning"),
    ("recording.play_denied", gettext_lazy("Playback refused (no valid grant)"), "warning"),
)


def listening_today(board: Board) -> PanelContent:
    """Today's grants and refusals in the tenant's day, from the trail: the events of each
    action since the tenant's midnight, one sequence range (the trail's `occurred=today`
    filter reads the same range)."""
    start = day_start(board.today, board.zone_name)
    first = first_sequence_at(start)
    events = AuditEvent.objects.filter(
        tenant_id=board.tenant.pk, sequence__gte=first, occurred_at__gte=start
    )
    figures = [
        Figure(
            label=str(label),
            count=capped_count(events.filter(action=action)),
            url=_list_url(
                "admin:audit_auditevent_changelist",
                action=action,
                tenant=board.tenant.pk,
                occurred="today",
            ),
            tone=tone,
        )
        for action, label, tone in LISTENING_ACTIONS
    ]
    bars = [
        Bar(figure.label, (Segment(figure.count, figure.tone or "main"),), shown=figure.shown)
        for figure in figures
    ]
    return PanelContent(
        figures=figures,
        facts=[Fact(_("Since"), in_tenant_zone(start, board.tenant))],
        chart=bar_chart(bars, title=_("Listening today")),
    )


PANELS = (
    Panel(
        key="recordings.by_purpose",
        title=gettext_lazy("Recordings per purpose and status"),
        build=recordings_by_purpose,
        permissions=("recordings.view_recording",),
        order=10,
    ),
    Panel(
        key="recordings.retention",
        title=gettext_lazy("Retention ending"),
        build=retention_ending,
        permissions=("recordings.view_recording",),
        order=20,
    ),
    Panel(
        key="recordings.purge",
        title=gettext_lazy("Last purge run"),
        build=last_purge_run,
        permissions=("recordings.view_purgerun",),
        order=30,
    ),
    Panel(
        key="recordings.purge_platform",
        title=gettext_lazy("Last purge run, every tenant"),
        build=last_purge_run_platform,
        permissions=("recordings.view_purgerun",),
        order=30,
        tenant=False,
        platform=True,
    ),
    # Who listens, and who was refused: for the roles that take part in listening and read the
    # trail. An auditor reviews the trail itself but never listening (docs/architecture.md,
    # "Roles"), so no listening panel.
    Panel(
        key="recordings.listening",
        title=gettext_lazy("Listening today"),
        build=listening_today,
        permissions=("recordings.listen_recording", "audit.view_auditevent"),
        order=40,
    ),
)
