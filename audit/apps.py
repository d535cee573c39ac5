from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from kit.dashboard import panel_register

        from . import signals  # noqa: F401 - connects the sign-in receivers
        from .dashboard import PANELS

        # The admin index's panels about alerts and the chain (portal/dashboard.py shows them).
        for panel in PANELS:
            panel_register(panel)
