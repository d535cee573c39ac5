"""Purposes and retention policies, with their history pages; saved through their services."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Purpose, RetentionPolicy, shown_name
from ..services.policies import purpose_save, retention_policy_save
from ..tenancy import (
    PurposeListFilter,
    TenantScopedHistoryAdmin,
)


@admin.register(Purpose)
class PurposeAdmin(TenantScopedHistoryAdmin):
    platform_rows_visible = True
    list_display = (
        "shown_name",
        "code",
        "legal_basis",
        "requires_consent",
        "scope_label",
        "active",
    )
    list_filter = ("legal_basis", "requires_consent", "active")
    search_fields = ("name", "code")
    list_select_related = ("tenant",)

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, purpose: Purpose) -> str:
        """A shipped purpose's name in the reader's language (SHIPPED_NAMES)."""
        return shown_name(purpose.name)

    def save_model(self, request, obj, form, change):
        purpose_save(actor=request.user, purpose=obj, created=not change)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(TenantScopedHistoryAdmin):
    platform_rows_visible = True
    list_display = (
        "shown_name",
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

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, policy: RetentionPolicy) -> str:
        return shown_name(policy.name)

    def save_model(self, request, obj, form, change):
        retention_policy_save(actor=request.user, policy=obj, created=not change)
