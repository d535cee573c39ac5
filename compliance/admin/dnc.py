"""Do-not-call lists and internal opt-outs.

Lists: every version of every full list the viewer may see (the platform's TPS and CTPS, read
only for a tenant's people; their own tenant's internal list), with its age, numbers, status,
freshness and, while it is imported, its progress. A compliance officer uploads the tenant's
internal list, a platform operator the national lists; the file is stored and imported by the
worker (compliance/services/dnc_lists.py), and the version's page follows the import, refreshing
itself while it runs. Versions are never edited or deleted.

Opt-outs: added one by one (normalised in the tenant's country), listed with their numbers
masked, searched by number (each search on the trail), never changed or removed; an opt-out's
page shows the full number and is traced.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.services import customer_number_search_record
from kit.masking import mask_number
from kit.paginators import CappedCountPaginator
from kit.refusals import Refused, as_form_error
from kit.times import in_tenant_zone

from ..dnc_freshness import list_freshness
from ..dnc_models import DncList, DncListStatus, DncOptOut, OptOutChannel
from ..dnc_sources import RULES, Delivery, DncSource
from ..phone import numbers_by_tenant
from ..services.dnc_lists import dnc_list_upload, dnc_list_upload_check
from ..services.dnc_opt_outs import dnc_opt_out_add, dnc_opt_out_check, dnc_opt_out_view_record
from ..tenancy import TenantListFilter, TenantScopedAdmin

# While a version is imported, its page reloads itself this often (a meta refresh: the
# Content-Security-Policy forbids inline scripts).
REFRESH_SECONDS = 5
FULL_LIST_SOURCES = [
    (source, label)
    for source, label in DncSource.choices
    if RULES[source].delivery == Delivery.FULL_LIST
]


def _age(dated, now) -> str:
    """How old a list version is, in days; "—" for none."""
    if dated is None:
        return "—"
    days = (now - dated).days
    return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}


def _zone(tenant) -> ZoneInfo:
    return ZoneInfo(getattr(tenant, "time_zone", "") or settings.TIME_ZONE)


class DncListUploadForm(forms.ModelForm):
    delivered_on = forms.DateField(
        label=_("Delivered on"),
        help_text=_(
            "The day the provider produced this version: its freshness runs from it (in the "
            "tenant's time zone; the platform's for a national list)."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "One number per line, or a CSV whose header names the number column (number, "
            "phone, telephone or msisdn); UTF-8. National numbers are read in the list's "
            "country (the tenant's, for an internal list)."
        ),
    )

    class Meta:
        model = DncList
        fields = ("source", "tenant", "version", "rejected_allowed")
        help_texts = {
            "rejected_allowed": _(
                "A file with more rejected lines (letters, invalid numbers, another country's) "
                "is refused whole and the version in force stays; up to this many are accepted "
                "and reported."
            ),
        }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        tenant = data.get("tenant")
        day = data["delivered_on"]
        data["delivered_at"] = timezone.make_aware(datetime.combine(day, time(0, 0)), _zone(tenant))
        try:
            dnc_list_upload_check(
                actor=self.actor,
                source=data["source"],
                tenant=tenant,
                version=data.get("version") or "",
                delivered_at=data["delivered_at"],
                max_rejected=data.get("rejected_allowed") or 0,
                size=data["file"].size,
            )
        except Refused as refusal:
            if refusal.field == "delivered_at":
                raise forms.ValidationError({"delivered_on": refusal.message}) from refusal
            raise as_form_error(refusal, self) from refusal
        return data


@admin.register(DncList)
class DncListAdmin(TenantScopedAdmin):
    # The platform's national lists are every tenant's to read (their numbers are not shown).
    platform_rows_visible = True
    form = DncListUploadForm
    change_form_template = "admin/compliance/dnclist/change_form.html"
    change_list_template = "admin/compliance/dnclist/change_list.html"
    list_display = (
        "source",
        "version",
        "scope_label",
        "status",
        "delivered",
        "age",
        "freshness",
        "entry_count",
        "progress_column",
    )
    list_filter = ("source", "status", TenantListFilter)
    list_select_related = ("tenant",)
    search_fields = ("version", "file_name")
    fields_shown = (
        "source",
        "scope_label",
        "version",
        "status",
        "progress_column",
        "delivered",
        "age",
        "freshness",
        "entry_count",
        "lines_read",
        "rejected_count",
        "rejected_allowed",
        "rejected_report",
        "failure",
        "file_name",
        "file_size",
        "file_sha256",
        "started",
        "imported",
        "superseded",
        "imported_by_label",
    )

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and (
            request.user.is_superuser or self.writable_tenants(request).exists()
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a version is imported whole, never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("source", "tenant", "version", "delivered_on", "rejected_allowed", "file")
        return self.fields_shown

    def get_readonly_fields(self, request, obj=None):
        return self.fields_shown if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user
        return form

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "source":
            # Bloctel and Robinson are never handed out: their screening is per campaign. A
            # tenant's people upload their own internal list only.
            choices = FULL_LIST_SOURCES
            if not request.user.is_superuser:
                choices = [(s, label) for s, label in choices if s == DncSource.INTERNAL]
            kwargs["choices"] = choices
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        dnc_list = dnc_list_upload(
            actor=request.user,
            source=data["source"],
            tenant=data.get("tenant"),
            upload=data["file"],
            version=data["version"],
            delivered_at=data["delivered_at"],
            max_rejected=data.get("rejected_allowed") or 0,
        )
        obj.pk = dnc_list.pk

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            _("The file is stored; the worker imports it. This page shows its progress."),
            messages.SUCCESS,
        )
        return redirect(reverse("admin:compliance_dnclist_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["importing"] = obj.status == DncListStatus.BUILDING
            context["refresh_seconds"] = REFRESH_SECONDS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        """Above the versions, each list the viewer's tenants screen against as
        compliance/dnc_freshness.py judges it (the one a check reads): its version in force,
        its age, fresh until or stale since when; the platform's lists for an operator."""
        tenants = [None] if request.user.is_superuser else list(self.visible_tenants(request))
        boards = []
        now = timezone.now()
        for tenant in tenants:
            states = list_freshness(tenant=tenant, now=now)
            boards.append(
                {
                    "tenant": tenant,
                    "states": [
                        {
                            "label": state.label,
                            "reference": state.reference,
                            "age": _age(state.dated, now),
                            "fresh": state.fresh,
                            "stale_since": in_tenant_zone(state.stale_since, tenant)
                            if state.stale_since
                            else "",
                            "message": state.message,
                        }
                        for state in states
                    ],
                }
            )
        extra_context = {**(extra_context or {}), "freshness_boards": boards}
        return super().changelist_view(request, extra_context)

    # --- columns ----------------------------------------------------------------------------------

    @admin.display(description=_("delivered"), ordering="delivered_at")
    def delivered(self, dnc_list: DncList) -> str:
        return in_tenant_zone(dnc_list.delivered_at, dnc_list.tenant)

    @admin.display(description=_("import started"))
    def started(self, dnc_list: DncList) -> str:
        return in_tenant_zone(dnc_list.started_at, dnc_list.tenant)

    @admin.display(description=_("in force since"))
    def imported(self, dnc_list: DncList) -> str:
        return in_tenant_zone(dnc_list.imported_at, dnc_list.tenant)

    @admin.display(description=_("superseded at"))
    def superseded(self, dnc_list: DncList) -> str:
        return in_tenant_zone(dnc_list.superseded_at, dnc_list.tenant)

    @admin.display(description=_("age"))
    def age(self, dnc_list: DncList) -> str:
        return _age(dnc_list.delivered_at, timezone.now())

    @admin.display(description=_("freshness"))
    def freshness(self, dnc_list: DncList) -> str:
        if dnc_list.status != DncListStatus.IN_FORCE:
            return "—"
        stale_since = dnc_list.stale_since
        if stale_since is None:
            return str(_("never goes stale"))
        when = in_tenant_zone(stale_since, dnc_list.tenant)
        if stale_since <= timezone.now():
            return str(_("stale since %(when)s")) % {"when": when}
        return str(_("fresh until %(when)s")) % {"when": when}

    @admin.display(description=_("progress"))
    def progress_column(self, dnc_list: DncList) -> str:
        if dnc_list.status != DncListStatus.BUILDING:
            return "—"
        if dnc_list.progress >= 100:
            return str(_("100%: indexing, then swapping in"))
        return f"{dnc_list.progress}%"

    @admin.display(description=_("rejected lines (the first ones)"))
    def rejected_report(self, dnc_list: DncList) -> str:
        rows = [item for item in dnc_list.rejected_lines or [] if isinstance(item, dict)]
        if not rows:
            return "—"
        return format_html(
            "<table><tr><th>{}</th><th>{}</th></tr>{}</table>",
            _("line"),
            _("why"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td></tr>",
                ((item.get("line", ""), item.get("reason", "")) for item in rows),
            ),
        )


class DncOptOutForm(forms.ModelForm):
    # Not the model's field: a number already opted out is no error (adding it again changes
    # nothing, and the page says so), which the model's unique constraint would make one.
    phone = forms.CharField(
        label=_("number"),
        max_length=40,
        help_text=_("Any format; a national number is read in the tenant's country."),
    )

    class Meta:
        model = DncOptOut
        fields = ("tenant", "note")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["number"] = dnc_opt_out_check(
                tenant=data["tenant"], number=data["phone"], note=data.get("note") or ""
            )
        except Refused as refusal:
            if refusal.field == "number":
                raise forms.ValidationError({"phone": refusal.message}) from refusal
            raise as_form_error(refusal, self) from refusal
        return data


@admin.register(DncOptOut)
class DncOptOutAdmin(TenantScopedAdmin):
    """Opt-outs are added, never edited or removed: a person's objection to marketing calls
    does not expire."""

    form = DncOptOutForm
    list_display = ("customer", "channel", "added", "added_by", "tenant")
    list_filter = ("channel", TenantListFilter)
    list_select_related = ("tenant",)
    search_fields = ("number",)
    search_help_text = _("Exact number, in any format.")
    paginator = CappedCountPaginator
    show_full_result_count = False
    readonly_fields = ("channel", "added", "added_by", "consent")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("tenant", "phone", "note")
        return ("tenant", "number", "channel", "note", "added", "added_by", "consent")

    def get_search_results(self, request, queryset, search_term):
        """A number, normalised in each listed tenant's country; each number searched goes on
        the trail (masked, and as a keyed hash), as a consent search does."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(number=term)
        tenants = self.visible_tenants(request).values_list("pk", "country_code")
        for number, tenant_ids in numbers_by_tenant(term, tenants).items():
            condition |= Q(tenant_id__in=tenant_ids, number=number)
            customer_number_search_record(
                action="dnc_opt_out.searched",
                user=request.user,
                number=number,
                tenant_ids=tenant_ids,
            )
        return queryset.filter(condition), False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        opt_out, created = dnc_opt_out_add(
            actor=request.user,
            tenant=data["tenant"],
            number=data["number"],
            channel=OptOutChannel.ADMIN,
            note=data.get("note") or "",
        )
        obj.pk = opt_out.pk
        if not created:
            self.message_user(
                request, _("This number was already opted out: nothing changed."), messages.INFO
            )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The page shows the full number: personal data, traced on every display.
            dnc_opt_out_view_record(user=request.user, opt_out=obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("number"))
    def customer(self, opt_out: DncOptOut) -> str:
        return mask_number(opt_out.number)

    @admin.display(description=_("added at"), ordering="added_at")
    def added(self, opt_out: DncOptOut) -> str:
        return in_tenant_zone(opt_out.added_at, opt_out.tenant)
