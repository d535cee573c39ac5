from axes.apps import AppConfig as AxesConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as StaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig


class SigninConfig(AppConfig):
    """Sign-in defences: lockout after failed passwords (django-axes), a second factor
    (django-otp), idle sessions ended, failed sign-ins on the trail (bounded)."""

    default = True
    name = "signin"
    verbose_name = _("Sign-in defences")

    def ready(self) -> None:
        from . import signals  # noqa: F401  # connects the receivers


# The libraries' apps, under names a person reads in the admin's menu (their labels, and so
# their URLs and tables, are unchanged).
class LockoutConfig(AxesConfig):
    verbose_name = _("Sign-in lockouts")


class AuthenticatorsConfig(TOTPConfig):
    verbose_name = _("Two-factor: authenticator apps")


class RecoveryCodesConfig(StaticConfig):
    verbose_name = _("Two-factor: recovery codes")
