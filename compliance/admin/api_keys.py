"""The tenants' API keys: created (the token shown once) and revoked, never deleted."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kit.refusals import Refused

from ..models import ApiKey
from ..services.api_keys import api_key_create, api_key_revoke
from ..tenancy import (
    TenantListFilter,
    TenantScopedAdmin,
)


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
            gettext("Copy this key now; it is not stored and will not be shown again: %(key)s")
            % {"key": token},
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for api_key in queryset:
            try:
                api_key_revoke(actor=request.user, api_key=api_key)
            except Refused as refusal:
                self.message_user(request, f"{api_key}: {refusal.message}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", revoked)
            % {"count": revoked},
        )
