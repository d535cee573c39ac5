"""Thin Celery tasks of the compliance app: a service call, a small summary out."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from audit.context import acting_as

from .api_limits import api_auth_failures_summarise, api_request_counts_prune


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
