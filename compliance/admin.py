from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from portal.tenancy import TenantListFilter, TenantScopedAdmin

from .models import ApiKey, Membership, Purpose, RetentionPolicy, Tenant
from .services import api_key_create, api_key_revoke, purpose_save, retention_policy_save


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


@admin.register(Purpose)
class PurposeAdmin(SimpleHistoryAdmin, TenantScopedAdmin):
    platform_rows_visible = True
    list_display = ("name", "code", "legal_basis", "requires_consent", "scope_label", "active")
    list_filter = ("legal_basis", "requires_consent", "active")
    search_fields = ("name", "code")
    list_select_related = ("tenant",)

    @admin.display(description="Scope")
    def scope_label(self, purpose: Purpose) -> str:
        return purpose.tenant.name if purpose.tenant_id else "Platform"

    def save_model(self, request, obj, form, change):
        purpose_save(actor=request.user, purpose=obj, created=not change)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(SimpleHistoryAdmin, TenantScopedAdmin):
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
    list_filter = ("action_at_expiry", "active", "purpose")
    list_select_related = ("purpose", "tenant")
    search_fields = ("name", "legal_reference")
    autocomplete_fields = ("purpose",)

    @admin.display(description="Scope")
    def scope_label(self, policy: RetentionPolicy) -> str:
        return policy.tenant.name if policy.tenant_id else "Platform"

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
        api_key, token = api_key_create(actor=request.user, tenant=obj.tenant, name=obj.name)
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(
            request,
            f"Copy this key now; it is not stored and will not be shown again: {token}",
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(actor=request.user, api_key=api_key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.")
