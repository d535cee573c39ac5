"""The documents a regulator asks for are exports of a tenant's data: each one generated (the
register of processing activities, the risk analysis, a DPIA's summary), in whichever format and
language, is an event on the tenant's trail, naming the content's hash where it has one."""

from __future__ import annotations

from django.db import transaction

from audit.context import names_its_actor
from audit.services import event_record

from ..models import Dpia, Tenant


@names_its_actor
@transaction.atomic
def register_export_record(*, actor, register, file_format: str, language: str) -> None:
    event_record(
        action="processing_register.exported",
        tenant=register.tenant.pk,
        target=register.tenant,
        extra={
            "format": file_format,
            "language": language,
            "digest": register.digest,
            "purposes": [activity["purpose"] for activity in register.activities],
            "processors": [processor["id"] for processor in register.processors],
        },
    )


@names_its_actor
@transaction.atomic
def risk_analysis_export_record(*, actor, tenant: Tenant, file_format: str, risks: int) -> None:
    event_record(
        action="risk_analysis.exported",
        tenant=tenant.pk,
        target=tenant,
        extra={"format": file_format, "risks": risks},
    )


@names_its_actor
@transaction.atomic
def dpia_summary_view_record(*, actor, dpia: Dpia, version: int) -> None:
    event_record(
        action="dpia.summary_viewed",
        tenant=dpia.tenant_id,
        target=dpia,
        extra={"version": version},
    )
