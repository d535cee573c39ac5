"""Legal holds: placed through the service, released on their own page with a reason, counted
and traced."""

from django import forms
from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin_links import audit_trail_link
from kit import limits
from kit.paginators import CappedCountPaginator
from kit.refusals import Refused, as_form_error

from ..models import LegalHold, Tenant
from ..roles import tenant_permits
from ..services.legal_holds import (
    legal_hold_check,
    legal_hold_effect,
    legal_hold_effects,
    legal_hold_place,
    legal_hold_recordings,
    legal_hold_release,
    legal_hold_view_record,
)
from ..tenancy import (
    TenantListFilter,
    TenantScopedAdmin,
    viewer_tenant_ids,
)


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = (
            "tenant",
            "reference",
            "reason",
            "recordings",
            "customer_number",
            "started_from",
            "started_until",
            "campaign",
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["customer_number"] = legal_hold_check(
                tenant=data["tenant"],
                reference=data.get("reference") or "",
                reason=data.get("reason") or "",
                recordings=list(data.get("recordings") or []),
                customer_number=data.get("customer_number") or "",
                started_from=data.get("started_from"),
                started_until=data.get("started_until"),
                campaign=data.get("campaign") or "",
            )
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


class HoldStatusFilter(admin.SimpleListFilter):
    """Holds in force or released (Django's own filter on the release time said "Empty" and
    "Not empty")."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("released", _("Released"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        return queryset


# The recordings a hold holds now, listed on its page this many at a time.
HELD_PER_PAGE = 25
# The page's parameter (not a changelist's: the hold's page reads it alone).
HELD_PAGE_PARAMETER = "held_page"


class ReleaseForm(forms.Form):
    release_reason = forms.CharField(
        widget=forms.Textarea,
        label=_("Why is the hold released?"),
        max_length=limits.LEGAL_HOLD_RELEASE_REASON,
    )


@admin.register(LegalHold)
class LegalHoldAdmin(TenantScopedAdmin):
    form = LegalHoldForm
    list_display = ("reference", "tenant", "placed_at", "placed_by", "released_at", "holds_now")
    list_filter = (TenantListFilter, HoldStatusFilter)
    list_select_related = ("tenant", "placed_by")
    search_fields = ("reference",)
    autocomplete_fields = ("recordings",)
    readonly_fields = (
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_reason",
        "holds_now",
        "audit_trail",
    )

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm("compliance.place_legalhold")

    def writable_tenants(self, request):
        if request.user.is_superuser:
            return super().writable_tenants(request)
        placing = viewer_tenant_ids(request, "compliance.place_legalhold")
        return Tenant.objects.filter(pk__in=placing)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # placed once; widened by placing another hold, ended by releasing

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        hold = legal_hold_place(
            actor=request.user,
            tenant=data["tenant"],
            reference=data["reference"],
            reason=data["reason"],
            recordings=list(data.get("recordings") or []),
            customer_number=data.get("customer_number") or "",
            started_from=data.get("started_from"),
            started_until=data.get("started_until"),
            campaign=data.get("campaign") or "",
        )
        obj.pk = hold.pk

    def save_related(self, request, form, formsets, change):
        pass  # the service has set the recordings

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # The page's counts in one query rather than one per row (see holds_now).
        in_force = [hold for hold in changelist.result_list if hold.released_at is None]
        counts = legal_hold_effects(in_force)
        for hold in in_force:
            hold.recordings_held_now = counts[hold.pk]
        return changelist

    @admin.display(description=_("Recordings held now"))
    def holds_now(self, hold: LegalHold) -> str:
        if hold.pk is None:
            return "—"
        if hold.released_at:
            return "released"
        counted = getattr(hold, "recordings_held_now", None)
        return str(legal_hold_effect(hold) if counted is None else counted)

    @admin.display(description=_("Audit trail"))
    def audit_trail(self, hold: LegalHold) -> str:
        if hold.pk is None:
            return "—"
        return audit_trail_link(f"target=compliance.legalhold:{hold.pk}", _("History of this hold"))

    def get_urls(self):
        release = self.admin_site.admin_view(self.release_view)
        return [
            path("<int:hold_id>/release/", release, name="compliance_legalhold_release"),
            *super().get_urls(),
        ]

    @staticmethod
    def may_release(request, hold: LegalHold) -> bool:
        """Whether the role held in the hold's tenant may release it (the service's own rule):
        the permission alone may come from a role held in another tenant."""
        return tenant_permits(request.user, hold.tenant_id, "compliance.release_legalhold")

    def release_view(self, request, hold_id: int):
        return self.object_action_view(
            request,
            hold_id,
            view="release hold page",
            may=lambda hold: self.may_release(request, hold),
            form=lambda data, hold: ReleaseForm(data),
            act=lambda hold, data: self.log_change(
                request,
                legal_hold_release(
                    actor=request.user, hold=hold, release_reason=data["release_reason"]
                ),
                # The admin's log (the index's "Recent actions", the hold's history page).
                gettext("Released."),
            ),
            done=lambda hold: f"Hold {hold.reference} released.",
            template="admin/compliance/legalhold/release.html",
            context=lambda hold: {
                "title": gettext("Release hold %(reference)s") % {"reference": hold.reference},
                "hold": hold,
                "holds_now": legal_hold_effect(hold),
            },
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # A hold naming a customer number shows it in full: traced like a recording's page.
            legal_hold_view_record(user=request.user, hold=obj)
        context["can_release"] = obj is not None and self.may_release(request, obj)
        if obj is not None:
            context["held_page"] = self.held_page(request, obj)
            context["held_page_parameter"] = HELD_PAGE_PARAMETER
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def held_page(request, hold: LegalHold):
        """One page of the recordings the hold holds now, newest call first (numbers masked, as
        in the recordings' list); a released hold holds none."""
        recordings = (
            legal_hold_recordings(hold).select_related("purpose").order_by("-started_at", "-pk")
        )
        paginator = CappedCountPaginator(recordings, HELD_PER_PAGE)
        return paginator.get_page(request.GET.get(HELD_PAGE_PARAMETER))
