"""Who accessed what and why: a read-only, tenant-scoped view of the trail, fast at 100M rows.

Nothing here counts the whole table: the paginator counts at most CAPPED_COUNT matching rows
(kit/paginators.py), list filters offer fixed choices instead of SELECT DISTINCT, search is exact
(index lookups) and the ordering is the primary key.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db.models import Q, TextChoices
from django.http import StreamingHttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

# The one import of audit against the direction (docs/architecture.md, deliberate seams): the
# trail's pages are scoped by tenant and searched by phone number, and show purposes, needs and
# roles by their names, rules compliance owns.
from compliance.access_rules import AccessNeed
from compliance.models import (
    ConsentChannel,
    ConsentDecision,
    ExpiryAction,
    LegalBasis,
    Role,
    Tenant,
)
from compliance.phone import numbers_by_tenant
from compliance.purpose_names import PurposeNames
from compliance.subject_request_models import RequestChannel, RequestKind
from compliance.tenancy import (
    PurposeListFilter,
    ReadOnlyAdminMixin,
    TenantListFilter,
    TenantScopedAdmin,
)
from kit.csv_export import csv_lines
from kit.paginators import CappedCountPaginator
from kit.times import in_current_zone

from . import admin_incidents  # noqa: F401 - registers alerts, incidents, playbooks
from .actions import ACTION_CHOICES, action_label
from .models import Alert, AuditEvent, IncidentNature, Outcome
from .pseudonyms import CUSTOMER_NUMBER, customer_number_hashes
from .services import event_record, home_tenant_id
from .timeline import day_start, zone_shared

# The events whose purpose is the need a person stated to listen (compliance.access_rules),
# not a recording's purpose: the same code ("quality") names both.
LISTENING_ACTIONS = frozenset(
    {
        "recording.access_granted",
        "recording.access_denied",
        "recording.played",
        "recording.downloaded",
        "recording.play_denied",
    }
)


def target_kind(target_type: str) -> str:
    """What kind of thing a target is, by its model's name ("Recording", "Legal hold")."""
    if target_type == CUSTOMER_NUMBER:
        return str(_("Customer number"))
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return capfirst(target_type.rpartition(".")[2].replace("_", " "))
    return capfirst(model._meta.verbose_name)


def target_name(target_type: str, label: str) -> str:
    """A target as people read it: its kind and its label ("Recording: call 7f3a"), the kind
    once when the label starts with it already ("DPIA: Quality monitoring")."""
    kind = target_kind(target_type)
    return label if label.lower().startswith(kind.lower()) else f"{kind}: {label}"


def purpose_shown(event: AuditEvent, names: PurposeNames | None = None) -> str:
    """The event's purpose by its name: a listening need by its label, a recording's purpose by
    the purpose's name."""
    if not event.purpose:
        return "—"
    if event.action in LISTENING_ACTIONS:
        return _choice_label(event.purpose, AccessNeed)
    names = names or PurposeNames([(event.tenant_id, event.purpose)])
    return names(event.tenant_id, event.purpose)


def _choice_label(code: str, *choices: type[TextChoices]) -> str:
    """`code`'s label in the first of `choices` that has it; else the code as it is."""
    for choice in choices:
        if code in choice.values:
            return str(choice(code).label)
    return code


# The extra data's keys that hold a code, and how each is named on screen. Purposes are named
# through the event's tenant (see _extra_value).
_CODED_KEYS: dict[str, tuple[type[TextChoices], ...]] = {
    "legal_basis": (LegalBasis,),
    "decision": (ConsentDecision,),
    "channel": (ConsentChannel, RequestChannel),
    "role": (Role,),
    "old_role": (Role,),
    "action_at_expiry": (ExpiryAction,),
    "kind": (RequestKind,),
    "nature": (IncidentNature,),
    "outcome": (Outcome,),
}
_PURPOSE_KEYS = frozenset({"purpose", "recording_purpose", "objection_purpose"})
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _extra_value(key: str, value: object, event: AuditEvent) -> str:
    """One value of an event's extra data as people read it: a code by its label, an instant in
    the viewer's zone, yes or no, a list and a mapping spelled out."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return ", ".join(_extra_value(key, item, event) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(
            f"{_extra_key(name)}: {_extra_value(name, item, event)}" for name, item in value.items()
        )
    if isinstance(value, str):
        if key in _CODED_KEYS:
            return _choice_label(value, *_CODED_KEYS[key])
        if key in _PURPOSE_KEYS:
            return PurposeNames([(event.tenant_id, value)])(event.tenant_id, value)
        if _DATE_TIME.match(value):
            try:
                instant = datetime.fromisoformat(value)
            except ValueError:
                return value
            return in_current_zone(instant) if instant.tzinfo else value
    return str(value)


def _extra_key(key: str) -> str:
    return capfirst(key.replace("_", " "))


def extra_rows(event: AuditEvent) -> list[tuple[str, str]]:
    """The event's extra data, one (name, value) row per entry; a change recorded as its old
    and new values ({"old": {...}, "new": {...}}) as one row per field that changed."""
    extra = event.extra if isinstance(event.extra, dict) else {"value": event.extra}
    old, new = extra.get("old"), extra.get("new")
    rows = []
    if isinstance(new, dict) and (old is None or isinstance(old, dict)):
        for name, value in new.items():
            shown = _extra_value(name, value, event)
            if old is None:
                rows.append((_extra_key(name), shown))
            elif old.get(name) != value:
                rows.append(
                    (_extra_key(name), f"{_extra_value(name, old.get(name), event)} → {shown}")
                )
        extra = {key: value for key, value in extra.items() if key not in ("old", "new")}
    rows += [(_extra_key(key), _extra_value(key, value, event)) for key, value in extra.items()]
    return rows


# A recording's events name it "call <call id>" (its __str__, audit.services.describe_target).
RECORDING_TARGET = "recordings.recording"
RECORDING_LABEL_PREFIX = "call "
# How much of a justification the list shows; the rest is on hover and on the event's page.
JUSTIFICATION_SHOWN = 60


class ActionListFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return ACTION_CHOICES

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class OccurredFilter(admin.SimpleListFilter):
    """The events of today, or of the last 7 days, counted in days of a tenant's zone: the
    tenant filtered by (?tenant=), else the zone the viewer's tenants share, else the server's;
    the choice names the zone. Read as one range of sequence numbers (audit/timeline.py), so
    that with the action and the tenant (the dashboard's links) the list and its count read a
    day's events of the index (tenant, action, -sequence), not the tenant's whole history."""

    title = _("occurred")
    parameter_name = "occurred"
    # Days back from today, today included.
    days_back = {"today": 0, "7d": 6}

    def __init__(self, request, params, model, model_admin):
        self.zone_name = self.zone_for(request, model_admin)
        super().__init__(request, params, model, model_admin)

    @staticmethod
    def zone_for(request, model_admin) -> str:
        tenants = model_admin.visible_tenants(request)
        chosen = request.GET.get(TenantListFilter.parameter_name, "")
        if chosen.isdigit():
            zone = tenants.filter(pk=int(chosen)).values_list("time_zone", flat=True).first()
            if zone:
                return zone
        return zone_shared(tenants)

    @classmethod
    def since(cls, value: str, zone_name: str) -> datetime | None:
        """When the window `value` begins in the zone; None for no such window."""
        days = cls.days_back.get(value)
        if days is None:
            return None
        today = timezone.localdate(timezone=ZoneInfo(zone_name))
        return day_start(today - timedelta(days=days), zone_name)

    def lookups(self, request, model_admin):
        zone = {"zone": self.zone_name}
        return [
            ("today", _("Today (%(zone)s)") % zone),
            ("7d", _("In the last 7 days (%(zone)s)") % zone),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        start = self.since(value, self.zone_name)
        if start is None:
            raise IncorrectLookupParameters(f"no window {value!r} to filter by")  # ?e=1
        return queryset.occurred_since(start)


class PurposeCodeListFilter(PurposeListFilter):
    """The trail keeps a purpose's code, not a reference to a purpose: on a listening event
    (granted, played, downloaded, denied) the need the person stated, on a deletion the
    recording's purpose. Offered: the listening purposes first, then the recordings' purposes
    (the platform's and the viewer's tenants') whose code is not one of them: one code filters
    both kinds of event."""

    purpose_attribute = "code"
    row_field = "purpose"

    def lookups(self, request, model_admin):
        needs = [(need.value, need.label) for need in AccessNeed]
        stated = {code for code, _label in needs}
        purposes = super().lookups(request, model_admin)
        return needs + [(code, label) for code, label in purposes if code not in stated]


class ActorFilter(admin.SimpleListFilter):
    """Per-user view ("what did this person access, and why"), reached from the user's page."""

    title = _("actor")
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value:
            return []
        # The person's name as the viewer's own events recorded it (none of another tenant's).
        username = (
            model_admin.get_queryset(request)
            .filter(actor_id=int(value))
            .values_list("actor_username", flat=True)
            .first()
            if value.isdigit()
            else None
        )
        return [(value, username or _("user #%(id)s") % {"id": value})]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if not self.value().isdigit():
            return queryset.none()
        return queryset.filter(actor_id=int(self.value()))


class TargetFilter(admin.SimpleListFilter):
    """Per-object view ("who accessed this"): ?target=recordings.recording:42."""

    title = _("target")
    parameter_name = "target"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value:
            return []
        # Named as people read it ("Recording: call 7f3a"), from the viewer's own events about it.
        target_type, _colon, target_id = value.partition(":")
        label = (
            model_admin.get_queryset(request)
            .about(target_type, target_id)
            .exclude(target_label="")
            .values_list("target_label", flat=True)
            .first()
        )
        return [(value, target_name(target_type, label or target_id))]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        target_type, _, target_id = self.value().partition(":")
        return queryset.filter(target_type=target_type, target_id=target_id)


class AlertFilter(admin.SimpleListFilter):
    """The events that caused one alert (?alert=<id>), reached from the alert's page: exactly
    its `event_sequences`, in its tenant. An alert the viewer may not see (another tenant's, or
    none) is answered like an unknown value (?e=1)."""

    title = _("alert")
    parameter_name = "alert"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"alert #{value}")] if value else []

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        alerts = self.model_admin.admin_site._registry[Alert].get_queryset(request)
        alert = alerts.filter(pk=int(value)).first() if value.isdigit() else None
        if alert is None:
            raise IncorrectLookupParameters(f"no alert {value!r} to filter by")
        events = queryset.filter(sequence__in=alert.event_sequences)
        if alert.tenant_id is None:
            return events.filter(tenant__isnull=True)
        return events.filter(tenant_id=alert.tenant_id)

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


def _ip_address(term: str) -> str:
    """The term as the trail writes an address (audit.middleware.client_ip), or "" for none."""
    try:
        return str(ipaddress.ip_address(term))
    except ValueError:
        return ""


def _customer_number_hashes(request, term: str) -> list[str]:
    """The keyed hashes of `term` read as a phone number in each country of the viewer's tenants
    (national formats are read as the recordings' search reads them); none if it is no number."""
    if not any(character.isdigit() for character in term):
        return []
    countries = set(Tenant.objects.for_user(request.user).values_list("country_code", flat=True))
    numbers = numbers_by_tenant(term, ((0, country) for country in countries))
    # Under every known key: searches recorded before a key rotation are found too.
    return sorted(hash_ for number in numbers for hash_ in customer_number_hashes(number))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = (
        "number",
        "occurred_at",
        "actor_username",
        "action_shown",
        "outcome",
        "target",
        "purpose_name",
        "justification_short",
        "workstation_id",
        "client_ip",
        "tenant",
    )
    list_filter = (
        ActionListFilter,
        "outcome",
        PurposeCodeListFilter,
        TenantListFilter,
        ActorFilter,
        TargetFilter,
        AlertFilter,
        OccurredFilter,
    )
    list_select_related = ("tenant",)
    search_fields = ("actor_username", "target_id", "request_id")
    # Exact matches only: each an equality on the tenant's events, never a LIKE scan of 100
    # million rows (actor, request id and target are indexed; a workstation or an address is
    # read along the tenant's index, newest first, until a page is found).
    search_help_text = _(
        "Exact actor username, target id, request id, workstation id or IP address; or a "
        "customer's number, to see who searched the recordings or the consents for it."
    )
    ordering = ("-sequence",)
    # Sorted by sequence only, which every index of the trail ends with: sorting 100 million
    # rows by any other column means reading them all.
    sortable_by = ("number",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = None
    # The detail page: every field, those that keep a code (the action, the purpose, the target)
    # shown by name, the extra data spelled out.
    fields = (
        "sequence",
        "occurred_at",
        "tenant",
        "actor",
        "actor_username",
        "action_shown",
        "outcome",
        "target_shown",
        "purpose_name",
        "justification",
        "client_ip",
        "user_agent",
        "workstation_id",
        "request_id",
        "extra_shown",
        "previous_hash",
        "hash",
        "key_id",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        address = _ip_address(term)
        if address:
            # Every event from that address (the trail keeps it normalised, audit.middleware).
            return queryset.filter(client_ip=address), False
        condition = (
            Q(actor_username=term) | Q(target_id=term) | Q(request_id=term) | Q(workstation_id=term)
        )
        hashes = _customer_number_hashes(request, term)
        if hashes:
            # Searches for this number: the trail keeps only its keyed hash (audit.pseudonyms).
            condition |= Q(target_type=CUSTOMER_NUMBER, target_id__in=hashes)
        return queryset.filter(condition), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # The page's purposes named in one query rather than one per row (see purpose_name).
        events = changelist.result_list
        names = PurposeNames(
            (event.tenant_id, event.purpose)
            for event in events
            if event.action not in LISTENING_ACTIONS
        )
        for event in events:
            event.purpose_shown = purpose_shown(event, names)
        return changelist

    @admin.display(description=_("Action"))
    def action_shown(self, event: AuditEvent) -> str:
        return action_label(event.action)

    @admin.display(description=_("Purpose"))
    def purpose_name(self, event: AuditEvent) -> str:
        shown = getattr(event, "purpose_shown", None)
        return shown if shown is not None else purpose_shown(event)

    @admin.display(description=_("No."), ordering="sequence")
    def number(self, event: AuditEvent) -> int:
        """The event's sequence number in the chain, under a header as narrow as its digits."""
        return event.sequence

    @admin.display(description=_("Target"))
    def target(self, event: AuditEvent) -> str:
        if not event.target_type:
            return "—"
        url = reverse("admin:audit_auditevent_changelist")
        label = event.target_label or event.target_id
        call_id = label.removeprefix(RECORDING_LABEL_PREFIX)
        if event.target_type == RECORDING_TARGET and call_id != label:
            # Which recording: its call id, on one line (portal/static/portal/lists.css).
            shown = format_html('{} <span class="call-id">{}</span>', _("call"), call_id)
        else:
            shown = target_name(event.target_type, label)
        return format_html(
            '<a href="{}?target={}:{}" title="{}">{}</a>',
            url,
            event.target_type,
            event.target_id,
            _("Every event about this"),
            shown,
        )

    @admin.display(description=_("Target"))
    def target_shown(self, event: AuditEvent) -> str:
        """The target by name, linked to its own page while it exists, and to every event about
        it."""
        if not event.target_type:
            return "—"
        name = target_name(event.target_type, event.target_label or event.target_id)
        page = self._target_page(event.target_type, event.target_id)
        return format_html(
            '{} · <a href="{}?target={}:{}">{}</a>',
            format_html('<a href="{}">{}</a>', page, name) if page else name,
            reverse("admin:audit_auditevent_changelist"),
            event.target_type,
            event.target_id,
            _("Every event about this"),
        )

    def _target_page(self, target_type: str, target_id: str) -> str:
        """The admin page of the target, if it has one and still exists; "" otherwise."""
        try:
            model = apps.get_model(target_type)
        except (LookupError, ValueError):
            return ""
        if model not in self.admin_site._registry:
            return ""
        try:
            if not model._default_manager.filter(pk=target_id).exists():
                return ""
        except (ValueError, ValidationError):
            return ""
        opts = model._meta
        try:
            return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[target_id])
        except NoReverseMatch:
            return ""

    @admin.display(description=_("Details"))
    def extra_shown(self, event: AuditEvent) -> str:
        rows = extra_rows(event)
        if not rows:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
        )

    @admin.display(description=_("Justification"))
    def justification_short(self, event: AuditEvent) -> str:
        """Cut to a line or two; the whole text on hover."""
        text = event.justification
        if len(text) <= JUSTIFICATION_SHOWN:
            return text
        return format_html(
            '<span class="shortened" title="{}">{}</span>',
            text,
            text[: JUSTIFICATION_SHOWN - 1].rstrip() + "…",
        )

    # --- CSV export of the filtered view --------------------------------------------------

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_csv)
        return [path("export.csv", export, name="audit_auditevent_export"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm("audit.export_auditevent"):
            query = request.GET.urlencode()
            extra_context["export_url"] = reverse("admin:audit_auditevent_export") + (
                f"?{query}" if query else ""
            )
        return super().changelist_view(request, extra_context)

    def export_csv(self, request):
        if not request.user.has_perm("audit.export_auditevent"):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters as error:
            # The changelist redirects with ?e=1; an export has no page to go back to.
            raise BadRequest(f"The export's filters cannot be used: {error}") from error
        queryset = changelist.get_queryset(request).order_by("sequence")
        filters = dict(request.GET.items())
        tenant_filter = filters.get("tenant", "")
        visible = Tenant.objects.for_user(request.user)
        filtered_tenant = (
            visible.filter(pk=int(tenant_filter)).first() if tenant_filter.isdigit() else None
        )
        event_record(
            action="audit.exported",
            tenant=filtered_tenant or home_tenant_id(request.user),
            target_type="audit.auditevent",
            target_label="CSV export of the audit trail",
            extra={"filters": filters},
        )
        columns = [field.name for field in AuditEvent._meta.fields if field.name != "tenant"]
        columns.insert(2, "tenant_id")
        columns.remove("actor")
        columns.insert(3, "actor_id")

        rows = queryset.values_list(*columns).iterator(chunk_size=5000)
        # Through kit.csv_export: what anyone typed never becomes a live formula, and the
        # extra data is written as JSON.
        response = StreamingHttpResponse(
            csv_lines(columns, rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
        return response


# The alert rules' settings (audit/alerts/admin.py), registered with the trail's admin.
# The SIEM forwarders' admin lives in its own module (registered on import).
from . import admin_siem  # noqa: E402, F401
from .alerts import admin as _alert_admin  # noqa: E402, F401
