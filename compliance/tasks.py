"""Thin Celery tasks of the compliance app: a service call, a small summary out."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from audit.context import acting_as
from audit.tasks import MAIL_RETRY

from .api_limits import api_auth_failures_summarise, api_request_counts_prune
from .dnc_check_counts import dnc_checks_record
from .models import Tenant
from .services.dnc_lists import IMPORT_TIME_LIMIT_SECONDS, dnc_list_import_upload
from .services.dnc_scrubs import dnc_scrubs_expire
from .services.processors import processor_reminders_send
from .services.subject_request_reminders import (
    subject_request_deadline_remind,
    subject_requests_due_for_reminder,
)

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
    name="compliance.tasks.record_dnc_checks",
    acks_late=True,
    time_limit=300,
    soft_time_limit=240,
)
def record_dnc_checks() -> dict:
    """Every minute: the do-not-call checks counted since the last run go on the trail, one
    `dnc.checked` event per tenant, campaign and API key (compliance/dnc_check_counts.py)."""
    with acting_as("task:compliance.tasks.record_dnc_checks"):
        return dnc_checks_record()


@shared_task(
    name="compliance.tasks.expire_dnc_scrubs",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def expire_dnc_scrubs() -> dict:
    """Hourly: the removed rows of scrubs past DNC_SCRUB_KEEP_HOURS are deleted, their keys
    destroyed."""
    return {"expired": dnc_scrubs_expire()}


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


@shared_task(
    name="compliance.tasks.check_request_deadlines",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def check_request_deadlines() -> dict:
    """Daily: a reminder task for each open data-subject request due within 7 days, or overdue,
    whose handlers have not been reminded today. Idempotent: each reminder is sent once per
    request and tenant's day, however often this runs (compliance/services/
    subject_request_reminders.py)."""
    due = subject_requests_due_for_reminder()
    for request, _left in due:
        send_request_deadline_reminder.delay(request.pk)
    return {"due": len(due), "overdue": sum(1 for _request, left in due if left < 0)}


@shared_task(name="compliance.tasks.send_request_deadline_reminder", acks_late=True, **MAIL_RETRY)
def send_request_deadline_reminder(request_id: int) -> dict:
    """E-mail one request's handler (or the tenant's compliance officers) its deadline; a failed
    send is retried with back-off, a reminder already sent today is not sent again."""
    with acting_as("task:compliance.tasks.send_request_deadline_reminder"):
        return subject_request_deadline_remind(request_id)


@shared_task(
    name="compliance.tasks.import_dnc_list",
    acks_late=True,
    # A worker killed mid-way has the message delivered again (task_reject_on_worker_lost): the
    # import starts again from the stored file. A version still building after the hard limit is
    # cleaned up by the list's next import.
    time_limit=IMPORT_TIME_LIMIT_SECONDS,
    soft_time_limit=IMPORT_TIME_LIMIT_SECONDS - 300,
)
def import_dnc_list(dnc_list_id: int, upload_name: str) -> dict:
    """A do-not-call list's file uploaded in the admin, imported as a new version of the list
    (compliance/services/dnc_lists.py); the stored file is removed whatever happens."""
    with acting_as("task:compliance.tasks.import_dnc_list"):
        dnc_list = dnc_list_import_upload(dnc_list_id=dnc_list_id, upload_name=upload_name)
    if dnc_list is None:
        return {"dnc_list": dnc_list_id, "status": "gone"}
    return {
        "dnc_list": dnc_list.pk,
        "status": dnc_list.status,
        "numbers": dnc_list.entry_count,
        "rejected": dnc_list.rejected_count,
    }
