from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join

from audit.admin_links import audit_trail_link
from audit.services import customer_number_search_record
from kit import limits
from kit.paginators import CappedCountPaginator

from .models import ApiKey, Consent, LegalHold, Membership, Purpose, RetentionPolicy, Tenant
from .phone import numbers_by_tenant
from .refusals import Refused
from .roles import tenant_permits
from .services.api_keys import api_key_create, api_key_revoke
from .services.consents import consent_check, consent_record, consent_view_record
from .services.legal_holds import (
    legal_hold_check,
    legal_hold_effect,
    legal_hold_effects,
    legal_hold_place,
    legal_hold_release,
    legal_hold_view_record,
)
from .services.memberships import membership_grant, membership_revoke
from .services.policies import purpose_save, retention_policy_save
from .tenancy import (
    PortalAdmin,
    PurposeListFilter,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedHistoryAdmin,
    viewer_tenant_ids,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_field = ""
    list_display = ("name", "slug", "country_code", "time_zone", "working_hours")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "audit_trail")
    inlines = (MembershipInline,)

    @admin.display(description="Working hours")
    def working_hours(self, tenant: Tenant) -> str:
        return f"{tenant.working_hours_start:%H:%M}–{tenant.working_hours_end:%H:%M}"

    @admin.display(description="Audit trail")
    def audit_trail(self, tenant: Tenant) -> str:
        if tenant.pk is None:
            return "—"
        return audit_trail_link(f"tenant={tenant.pk}", "Everything that happened in this tenant")

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Through the services, which keep the people's groups in step and audit the change.
        formset.save(commit=False)
        for membership in formset.deleted_objects:
            membership_revoke(actor=request.user, membership=membership)
        for membership, changed in formset.changed_objects:
            if "user" in changed:
                membership_revoke(
                    actor=request.user, membership=Membership.objects.get(pk=membership.pk)
                )
            membership_grant(
                actor=request.user, user=membership.user, tenant=form.instance, role=membership.role
            )
        for membership in formset.new_objects:
            membership_grant(
                actor=request.user, user=membership.user, tenant=form.instance, role=membership.role
            )


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = (TenantListFilter, "role")
    list_select_related = ("user", "tenant")
    search_fields = ("user__username", "user__email", "tenant__name")
    autocomplete_fields = ("user", "tenant")

    def get_readonly_fields(self, request, obj=None):
        # One person in one tenant: moving it elsewhere is a revocation and another grant.
        return ("user", "tenant") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        membership = membership_grant(
            actor=request.user, user=obj.user, tenant=obj.tenant, role=obj.role
        )
        obj.pk = membership.pk

    def delete_model(self, request, obj):
        membership_revoke(actor=request.user, membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user"):
            membership_revoke(actor=request.user, membership=membership)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class CustodiaUserAdmin(PortalAdmin, UserAdmin):
    """Platform operators manage accounts; the page links to what this person accessed. Its
    queryset also answers the person pickers of memberships (autocomplete)."""

    readonly_fields = ("last_login", "date_joined", "audit_trail")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (*fieldsets, ("Audit", {"fields": ("audit_trail",)}))

    @admin.display(description="Audit trail")
    def audit_trail(self, user) -> str:
        return audit_trail_link(f"actor={user.pk}", "What this person accessed, and why")


admin.site.unregister(Group)


@admin.register(Group)
class CustodiaGroupAdmin(PortalAdmin, GroupAdmin):
    """Django's, with the query string guarded like every admin of the portal."""


@admin.register(Purpose)
class PurposeAdmin(TenantScopedHistoryAdmin):
    platform_rows_visible = True
    list_display = ("name", "code", "legal_basis", "requires_consent", "scope_label", "active")
    list_filter = ("legal_basis", "requires_consent", "active")
    search_fields = ("name", "code")
    list_select_related = ("tenant",)

    def save_model(self, request, obj, form, change):
        purpose_save(actor=request.user, purpose=obj, created=not change)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(TenantScopedHistoryAdmin):
    platform_rows_visible = True
    list_display = (
        "name",
        "purpose",
        "retention_months",
        "maximum_months",
        "action_at_expiry",
        "scope_label",
        "effective_from",
        "active",
    )
    # The purposes offered are the platform's and the viewer's tenants' (Django's related filter
    # would list every tenant's, naming other clients' processing).
    list_filter = ("action_at_expiry", "active", PurposeListFilter)
    list_select_related = ("purpose", "tenant")
    search_fields = ("name", "legal_reference")
    autocomplete_fields = ("purpose",)

    def save_model(self, request, obj, form, change):
        retention_policy_save(actor=request.user, policy=obj, created=not change)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (TenantListFilter,)
    list_select_related = ("tenant",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_selected",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the trail keeps referring to the key

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("tenant", "name", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing of a key can be edited after creation
        try:
            api_key, token = api_key_create(actor=request.user, tenant=obj.tenant, name=obj.name)
        except Refused as refusal:
            raise PermissionDenied(refusal.message) from refusal
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(
            request,
            f"Copy this key now; it is not stored and will not be shown again: {token}",
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for api_key in queryset:
            try:
                api_key_revoke(actor=request.user, api_key=api_key)
            except Refused as refusal:
                self.message_user(request, f"{api_key}: {refusal.message}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"{revoked} key(s) revoked.")


def as_form_error(refusal: Refused, form: forms.Form) -> forms.ValidationError:
    """A service's refusal, shown on the field it names (or above the form)."""
    if refusal.field in form.fields:
        return forms.ValidationError({refusal.field: refusal.message})
    return forms.ValidationError(refusal.message)


class ConsentForm(forms.ModelForm):
    class Meta:
        model = Consent
        fields = (
            "tenant",
            "customer_number",
            "subject_reference",
            "purpose",
            "decision",
            "decided_at",
            "channel",
            "ivr_prompt_id",
            "ivr_prompt_version",
            "call_id",
            "operator",
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            purpose, number = consent_check(
                tenant=data["tenant"],
                customer_number=data["customer_number"],
                purpose_code=data["purpose"].code,
                decision=data["decision"],
                decided_at=data["decided_at"],
                channel=data["channel"],
                evidence={
                    name: data.get(name) or ""
                    for name in (
                        "subject_reference",
                        "ivr_prompt_id",
                        "ivr_prompt_version",
                        "call_id",
                        "operator",
                    )
                },
            )
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        data["customer_number"] = number
        return data


@admin.register(Consent)
class ConsentAdmin(TenantScopedAdmin):
    """Decisions are recorded, never edited: the list is their history; a new decision
    supersedes the one in force."""

    form = ConsentForm
    list_display = (
        "customer",
        "purpose",
        "decision",
        "decided_at",
        "channel",
        "recorded_by",
        "tenant",
        "receipt",
    )
    list_filter = ("decision", "channel", PurposeListFilter, TenantListFilter)
    list_select_related = ("purpose", "tenant")
    search_fields = ("customer_number", "subject_reference", "call_id")
    search_help_text = "Exact number (any format), subject reference or call id."
    readonly_fields = ("recorded_by", "recorded_at", "subject_history")
    paginator = CappedCountPaginator
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "purpose":
            # Decisions are recorded for purposes that need the caller's consent only.
            field.queryset = field.queryset.filter(requires_consent=True)
        return field

    def get_search_results(self, request, queryset, search_term):
        """An exact subject reference or call id, or a customer number normalised to E.164 in
        each listed tenant's country. A search by number shows that person's decisions: each
        number searched goes on the trail (masked, and as a keyed hash)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(subject_reference=term) | Q(call_id=term) | Q(customer_number=term)
        tenants = self.visible_tenants(request).values_list("pk", "country_code")
        for number, tenant_ids in numbers_by_tenant(term, tenants).items():
            condition |= Q(tenant_id__in=tenant_ids, customer_number=number)
            customer_number_search_record(
                action="consent.searched", user=request.user, number=number, tenant_ids=tenant_ids
            )
        return queryset.filter(condition), False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        consent = consent_record(
            recorded_by=request.user.get_username(),
            tenant=data["tenant"],
            customer_number=data["customer_number"],
            purpose_code=data["purpose"].code,
            decision=data["decision"],
            decided_at=data["decided_at"],
            channel=data["channel"],
            subject_reference=data.get("subject_reference") or "",
            ivr_prompt_id=data.get("ivr_prompt_id") or "",
            ivr_prompt_version=data.get("ivr_prompt_version") or "",
            call_id=data.get("call_id") or "",
            operator=data.get("operator") or "",
        )
        obj.pk = consent.pk

    @admin.display(description="Customer number")
    def customer(self, consent: Consent) -> str:
        return consent.masked_number

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The page shows the full customer number: personal metadata, traced on every display.
            consent_view_record(user=request.user, consent=obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Receipt")
    def receipt(self, consent: Consent) -> str:
        try:
            url = reverse("consent_receipt", args=[consent.pk])
        except NoReverseMatch:
            return "—"
        return format_html('<a href="{}">Receipt</a>', url)

    @admin.display(description="History of this caller's decisions for this purpose")
    def subject_history(self, consent: Consent) -> str:
        if consent.pk is None:
            return "—"
        decisions = Consent.objects.for_subject(
            tenant=consent.tenant_id,
            customer_number=consent.customer_number,
            purpose=consent.purpose_id,
        ).latest_first()[:50]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{decision.decided_at:%Y-%m-%d %H:%M}",
                    decision.get_decision_display() + (" (in force)" if index == 0 else ""),
                    decision.get_channel_display(),
                    decision.recorded_by,
                )
                for index, decision in enumerate(decisions)
            ),
        )
        return format_html(
            "<table><tr><th>When</th><th>Decision</th><th>Channel</th><th>By</th></tr>{}</table>",
            rows,
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


class ReleaseForm(forms.Form):
    release_reason = forms.CharField(
        widget=forms.Textarea,
        label="Why is the hold released?",
        max_length=limits.LEGAL_HOLD_RELEASE_REASON,
    )


@admin.register(LegalHold)
class LegalHoldAdmin(TenantScopedAdmin):
    form = LegalHoldForm
    list_display = ("reference", "tenant", "placed_at", "placed_by", "released_at", "holds_now")
    list_filter = (TenantListFilter, ("released_at", admin.EmptyFieldListFilter))
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

    @admin.display(description="Recordings held now")
    def holds_now(self, hold: LegalHold) -> str:
        if hold.pk is None:
            return "—"
        if hold.released_at:
            return "released"
        counted = getattr(hold, "recordings_held_now", None)
        return str(legal_hold_effect(hold) if counted is None else counted)

    @admin.display(description="Audit trail")
    def audit_trail(self, hold: LegalHold) -> str:
        if hold.pk is None:
            return "—"
        return audit_trail_link(f"target=compliance.legalhold:{hold.pk}", "History of this hold")

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
        hold = get_object_or_404(self.get_queryset(request), pk=hold_id)
        if not self.may_release(request, hold):
            raise PermissionDenied
        form = ReleaseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                legal_hold_release(
                    actor=request.user,
                    hold=hold,
                    release_reason=form.cleaned_data["release_reason"],
                )
            except Refused as refusal:
                form.add_error(None, refusal.message)
            else:
                self.message_user(request, f"Hold {hold.reference} released.")
                return redirect(reverse("admin:compliance_legalhold_change", args=[hold.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Release hold {hold.reference}",
            "hold": hold,
            "form": form,
            "holds_now": legal_hold_effect(hold),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/compliance/legalhold/release.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # A hold naming a customer number shows it in full: traced like a recording's page.
            legal_hold_view_record(user=request.user, hold=obj)
        context["can_release"] = obj is not None and self.may_release(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)
