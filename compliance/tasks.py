"""Thin Celery tasks of the compliance app: a service call, a small summary out."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from audit.context import acting_as

from .api_limits import api_auth_failures_summarise, api_request_counts_prune
from .models import Tenant
from .services.processors import processor_reminders_send

logger = logging.getLogger(__name__)


@shared_task(
    name="compliance.tasks.count_api_auth_failures",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def count_api_auth_failures() -> dict:
    """Every few minutes: the count of each closed window of failed API authentications goes on
    the trail, if no later failure from there has written it already. Idempotent: a window is
    counted in the transaction that deletes it."""
    now = timezone.now()
    with acting_as("task:compliance.tasks.count_api_auth_failures"):
        windows, failures = api_auth_failures_summarise()
    api_request_counts_prune(now=now)
    return {"windows": windows, "failures": failures}


@shared_task(
    name="compliance.tasks.remind_processor_agreements",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def remind_processor_agreements() -> dict:
    """Daily: each tenant's compliance officers get one e-mail listing its processors whose
    agreement is missing, expired, or due for review within 30 days (GDPR Art. 28(3)). A
    tenant whose send fails is left for the next day, the others are mailed."""
    mailed, failed = 0, []
    with acting_as("task:compliance.tasks.remind_processor_agreements"):
        for tenant_id in Tenant.objects.order_by("pk").values_list("pk", flat=True):
            try:
                mailed += processor_reminders_send(tenant_id)["sent"] > 0
            except (OSError, SMTPException):
                logger.exception("processor agreements' reminder to tenant %s failed", tenant_id)
                failed.append(tenant_id)
    return {"tenants_mailed": mailed, "failed": failed}
