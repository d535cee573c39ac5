from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html

from portal.tenancy import TenantListFilter, TenantScopedAdmin

from .models import Membership, Tenant


def audit_trail_link(url_query: str, label: str = "Who accessed this") -> str:
    url = reverse("admin:audit_auditevent_changelist") + "?" + url_query
    return format_html('<a href="{}">{}</a>', url, label)


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


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = (TenantListFilter, "role")
    list_select_related = ("user", "tenant")
    search_fields = ("user__username", "user__email", "tenant__name")
    autocomplete_fields = ("user", "tenant")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class CustodiaUserAdmin(UserAdmin):
    """Platform operators manage accounts; the page links to what this person accessed."""

    readonly_fields = ("last_login", "date_joined", "audit_trail")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (*fieldsets, ("Audit", {"fields": ("audit_trail",)}))

    @admin.display(description="Audit trail")
    def audit_trail(self, user) -> str:
        return audit_trail_link(f"actor={user.pk}", "What this person accessed, and why")
