from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        from audit.alerts.base import purpose_fit_register

        from . import signals  # noqa: F401  # connects the receivers
        from .access_rules import AccessNeed, purpose_fits_need

        # The purpose-misuse alert rule asks compliance which needs fit a recording's purpose.
        purpose_fit_register(purpose_fits_need, dict(AccessNeed.choices))

        from audit.permissions import tenant_rule_register

        from .roles import tenant_permits

        # The triage of alerts and the incidents (audit/incidents.py) check a role in a tenant
        # by compliance's rule, which audit cannot import.
        tenant_rule_register(tenant_permits)

        from kit.dashboard import panel_register

        from .dashboard import PANELS

        # The admin index's panels about holds and requests (portal/dashboard.py shows them).
        for panel in PANELS:
            panel_register(panel)
