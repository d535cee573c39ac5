from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recordings"
    verbose_name = _("Recordings")

    def ready(self) -> None:
        from audit.keys import keyed_records_register

        # Certificates store the key id of their signature and call-id hash: a key rotation
        # must keep that key listed.
        keyed_records_register("deletion certificates", "recordings.DeletionCertificate", "key_id")

        from compliance.evidence import evidence_register
        from compliance.register.build import purposes_in_use_register
        from compliance.risk_models import EvidenceLink
        from compliance.security_measures import security_measures_register

        from .register_providers import (
            last_purge_run,
            purposes_with_recordings,
            recordings_security_measures,
        )

        # The register of processing and the risk analysis (compliance/register/) state what
        # recordings does, without compliance importing it.
        security_measures_register(recordings_security_measures)
        purposes_in_use_register(purposes_with_recordings)
        evidence_register(EvidenceLink.PURGE_RUN, last_purge_run)

        from kit.dashboard import panel_register

        from .dashboard import PANELS

        # The admin index's panels about recordings (portal/dashboard.py shows them).
        for panel in PANELS:
            panel_register(panel)
