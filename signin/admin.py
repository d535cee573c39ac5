"""The libraries' admin pages for sign-in defences, for platform operators only.

django-axes lists the counted failed sign-ins (deleting or unlocking one unlocks the account);
django-otp lists each person's authenticator and recovery codes (removing them lets a person who
lost their phone enrol again). Nobody adds or edits them here: an authenticator whose secret an
operator chose would not be a second factor. Both removals go through services that write the
audit event.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.tenancy import PortalAdmin

from . import services


class PlatformOperatorsOnly(PortalAdmin):
    """Visible to superusers alone, whatever permissions a group may carry; never added to or
    edited. The query-string guards and the read-only history page of every admin page apply."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# Sign-ins and failures are on the audit trail; these logs are switched off in the settings.
for model in (AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(PlatformOperatorsOnly, AccessAttemptAdmin):
    actions = ("unlock",)

    @admin.action(description=_("Unlock: forget these failed sign-ins"))
    def unlock(self, request, queryset):
        count = services.lockout_reset(actor=request.user, attempts=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d record of failed sign-ins forgotten; the account may sign in again.",
                "%(count)d records of failed sign-ins forgotten; the accounts may sign in again.",
                count,
            )
            % {"count": count},
        )

    def delete_model(self, request, obj) -> None:
        services.lockout_reset(actor=request.user, attempts=[obj])

    def delete_queryset(self, request, queryset) -> None:
        services.lockout_reset(actor=request.user, attempts=queryset)


admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


class _DeviceRemoval:
    def delete_model(self, request, obj) -> None:
        services.two_factor_remove(actor=request.user, devices=[obj])

    def delete_queryset(self, request, queryset) -> None:
        services.two_factor_remove(actor=request.user, devices=queryset.select_related("user"))


@admin.register(TOTPDevice)
class AuthenticatorAdmin(PlatformOperatorsOnly, _DeviceRemoval, TOTPDeviceAdmin):
    pass


@admin.register(StaticDevice)
class RecoveryCodesAdmin(PlatformOperatorsOnly, _DeviceRemoval, StaticDeviceAdmin):
    inlines = ()
