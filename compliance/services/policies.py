"""Purposes and retention policies: created and changed with their old and new values on the
trail and the actor in their history; a policy change recomputes the recordings it may affect."""

from __future__ import annotations

from celery import current_app
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from audit.context import names_its_actor
from audit.services import event_record

from ..models import Purpose, RetentionPolicy


def _values(instance, fields: tuple[str, ...]) -> dict:
    return {name: getattr(instance, name) for name in fields}


PURPOSE_FIELDS = (
    "code",
    "name",
    "legal_basis",
    "requires_consent",
    "default_retention_months",
    "active",
    "tenant_id",
)
POLICY_FIELDS = (
    "name",
    "purpose_id",
    "tenant_id",
    "retention_months",
    "maximum_months",
    "action_at_expiry",
    "effective_from",
    "active",
    "legal_reference",
)


def _history_user_set(instance, actor) -> None:
    """The history row of the change names `actor`, wherever the service is called from: the
    admin's request would give it, a command, a task or a shell would leave it empty. Who may
    make the change is the admin's to decide (its tenant scoping), as it is today."""
    if isinstance(actor, AbstractBaseUser):
        instance._history_user = actor  # read by django-simple-history


@names_its_actor
@transaction.atomic
def purpose_save(*, actor, purpose: Purpose, created: bool) -> Purpose:
    """Create or change a purpose, audited with old and new values; `actor` is named in the
    purpose's history."""
    old = None if created else _values(Purpose.objects.get(pk=purpose.pk), PURPOSE_FIELDS)
    purpose.full_clean()
    _history_user_set(purpose, actor)
    purpose.save()
    event_record(
        action="purpose.created" if created else "purpose.changed",
        tenant=purpose.tenant_id,
        target=purpose,
        extra={"old": old, "new": _values(purpose, PURPOSE_FIELDS)},
    )
    return purpose


@names_its_actor
@transaction.atomic
def retention_policy_save(*, actor, policy: RetentionPolicy, created: bool) -> RetentionPolicy:
    """Create or change a policy, audited with old and new values, `actor` named in its history;
    after commit, the recordings it may affect get their `retain_until` recomputed in batches by
    a Celery task."""
    old = None
    if not created:
        old = _values(RetentionPolicy.objects.select_for_update().get(pk=policy.pk), POLICY_FIELDS)
    policy.full_clean()
    _history_user_set(policy, actor)
    policy.save()
    new = _values(policy, POLICY_FIELDS)
    event_record(
        action="retention_policy.created" if created else "retention_policy.changed",
        tenant=policy.tenant_id,
        target=policy,
        extra={"old": old, "new": new},
    )
    if old != new:
        purpose_id, tenant_id = policy.purpose_id, policy.tenant_id
        # By name, the deliberate seam of compliance towards recordings, which sits above it
        # (docs/architecture.md, deliberate seams; tests/test_architecture.py).
        transaction.on_commit(
            lambda: current_app.send_task(
                "recordings.tasks.recompute_retention",
                kwargs={"purpose_id": purpose_id, "tenant_id": tenant_id},
            )
        )
    return policy
