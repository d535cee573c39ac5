"""Thin Celery tasks of the sign-in defences."""

from __future__ import annotations

from celery import shared_task

from audit.context import acting_as

from .failures import sign_in_failures_summarise


@shared_task(
    name="signin.tasks.count_sign_in_failures",
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def count_sign_in_failures() -> dict:
    """Every few minutes: the count of each closed window of failed sign-ins goes on the trail,
    if no later failure of that account has written it already. Idempotent: a window is counted
    in the transaction that deletes it."""
    with acting_as("task:signin.tasks.count_sign_in_failures"):
        windows, failures = sign_in_failures_summarise()
    return {"windows": windows, "failures": failures}
