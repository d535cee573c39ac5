"""Who accessed what and why: a read-only, tenant-scoped view of the trail, fast at 100M rows.

Nothing here counts the whole table: the paginator counts at most CAPPED_COUNT matching rows
(kit/paginators.py), list filters offer fixed choices instead of SELECT DISTINCT, search is exact
(index lookups) and the ordering is the primary key.
"""

from __future__ import annotations

import ipaddress

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The one import of audit against the direction (docs/architecture.md, deliberate seams): the
# trail's pages are scoped by tenant and searched by phone number, rules compliance owns.
from compliance.access_rules import AccessNeed
from compliance.models import Tenant
from compliance.phone import numbers_by_tenant
from compliance.tenancy import (
    PurposeListFilter,
    ReadOnlyAdminMixin,
    TenantListFilter,
    TenantScopedAdmin,
)
from kit.csv_export import csv_lines
from kit.paginators import CappedCountPaginator

from . import admin_incidents  # noqa: F401 - registers alerts, incidents, playbooks
from .actions import ACTION_CHOICES
from .models import Alert, AuditEvent
from .pseudonyms import CUSTOMER_NUMBER, customer_number_hashes
from .services import event_record, home_tenant_id

# A recording's events name it "call <call id>" (its __str__, audit.services.describe_target).
RECORDING_TARGET = "recordings.recording"
RECORDING_LABEL_PREFIX = "call "
# How much of a justification the list shows; the rest is on hover and on the event's page.
JUSTIFICATION_SHOWN = 60


class ActionListFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return ACTION_CHOICES

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


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

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"user #{value}")] if value else []

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if not self.value().isdigit():
            return queryset.none()
        return queryset.filter(actor_id=int(self.value()))


class TargetFilter(admin.SimpleListFilter):
    """Per-object view ("who accessed this"): ?target=recordings.recording:42."""

    title = "target"
    parameter_name = "target"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        target_type, _, target_id = self.value().partition(":")
        return queryset.filter(target_type=target_type, target_id=target_id)


class AlertFilter(admin.SimpleListFilter):
    """The events that caused one alert (?alert=<id>), reached from the alert's page: exactly
    its `event_sequences`, in its tenant. An alert the viewer may not see (another tenant's, or
    none) is answered like an unknown value (?e=1)."""

    title = "alert"
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
        "action",
        "outcome",
        "target",
        "purpose",
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
    )
    list_select_related = ("tenant",)
    search_fields = ("actor_username", "target_id", "request_id")
    # Exact matches only: each an equality on the tenant's events, never a LIKE scan of 100
    # million rows (actor, request id and target are indexed; a workstation or an address is
    # read along the tenant's index, newest first, until a page is found).
    search_help_text = gettext_lazy(
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
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

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

    @admin.display(description=gettext_lazy("No."), ordering="sequence")
    def number(self, event: AuditEvent) -> int:
        """The event's sequence number in the chain, under a header as narrow as its digits."""
        return event.sequence

    @admin.display(description="Target")
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
            shown = format_html("{} {}", event.target_type.rpartition(".")[2], label)
        return format_html(
            '<a href="{}?target={}:{}" title="{}">{}</a>',
            url,
            event.target_type,
            event.target_id,
            _("Every event about this"),
            shown,
        )

    @admin.display(description="Justification")
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
