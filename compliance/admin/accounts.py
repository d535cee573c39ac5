"""Tenants with the people in them: tenants, memberships (granted and revoked through their
services), users and groups."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from audit.admin_links import audit_trail_link

from ..models import Membership, Tenant
from ..services.memberships import membership_grant, membership_revoke
from ..tenancy import (
    PortalAdmin,
    TenantListFilter,
    TenantScopedAdmin,
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

    @admin.display(description=_("Working hours"))
    def working_hours(self, tenant: Tenant) -> str:
        return f"{tenant.working_hours_start:%H:%M}–{tenant.working_hours_end:%H:%M}"

    @admin.display(description=_("Audit trail"))
    def audit_trail(self, tenant: Tenant) -> str:
        if tenant.pk is None:
            return "—"
        return audit_trail_link(f"tenant={tenant.pk}", _("Everything that happened in this tenant"))

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
        return (*fieldsets, (_("Audit"), {"fields": ("audit_trail",)}))

    @admin.display(description=_("Audit trail"))
    def audit_trail(self, user) -> str:
        return audit_trail_link(f"actor={user.pk}", _("What this person accessed, and why"))


admin.site.unregister(Group)


@admin.register(Group)
class CustodiaGroupAdmin(PortalAdmin, GroupAdmin):
    """Django's, with the query string guarded like every admin of the portal."""
