from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SigninConfig(AppConfig):
    """Sign-in defences: lockout after failed passwords (django-axes), a second factor
    (django-otp), idle sessions ended. It has no models of its own."""

    name = "signin"
    verbose_name = _("Sign-in defences")
