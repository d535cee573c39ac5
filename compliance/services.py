"""Business operations of the compliance app. Each writes its audit event in its transaction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from celery import current_app
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audit.services import event_record

from .models import ApiKey, Membership, Purpose, RetentionPolicy, Role, Tenant


@transaction.atomic
def membership_grant(*, actor, user, tenant: Tenant, role: str) -> Membership:
    """Give `user` the `role` in `tenant` (and the role's group, which holds its permissions).
    Granting a role the user already has changes nothing and records nothing. `actor` is the user
    or the command granting it."""
    role = Role(role)
    membership, created = Membership.objects.get_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    old_role = membership.role
    if not created and old_role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    user.groups.add(Group.objects.get(name=role.label))
    if created or old_role != role:
        event_record(
            action="membership.granted",
            tenant=tenant,
            target=membership,
            extra={
                "user": user.get_username(),
                "role": role.value,
                "old_role": "" if created else old_role,
                "granted_by": str(actor),
            },
        )
    return membership


API_KEY_PREFIX = "cst"


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@transaction.atomic
def api_key_create(
    *, actor, tenant: Tenant, name: str, demo_token: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for the recorder or dialer. The returned token is shown once and never stored:
    `cst_<prefix>_<secret>`. Only seed_demo passes `demo_token`, so that the README's example
    works against the demo data."""
    if demo_token is not None:
        _, prefix, _ = demo_token.split("_", 2)
        token = demo_token
    else:
        prefix = secrets.token_hex(4)
        token = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        secret_hash=_secret_hash(token),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    event_record(action="api_key.created", tenant=tenant, target=api_key)
    return api_key, token


@transaction.atomic
def api_key_revoke(*, actor, api_key: ApiKey) -> ApiKey:
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        event_record(action="api_key.revoked", tenant=locked.tenant_id, target=locked)
    return locked


def api_key_authenticate(token: str) -> ApiKey | None:
    """The usable key this bearer token belongs to, or None. Marks the key as used (at most once
    a minute, so that a busy recorder does not rewrite the row on every call)."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1]).first()
    if api_key is None or api_key.revoked_at is not None:
        return None
    if not hmac.compare_digest(api_key.secret_hash, _secret_hash(token)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


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


@transaction.atomic
def purpose_save(*, actor, purpose: Purpose, created: bool) -> Purpose:
    old = None if created else _values(Purpose.objects.get(pk=purpose.pk), PURPOSE_FIELDS)
    purpose.full_clean()
    purpose.save()
    event_record(
        action="purpose.created" if created else "purpose.changed",
        tenant=purpose.tenant_id,
        target=purpose,
        extra={"old": old, "new": _values(purpose, PURPOSE_FIELDS)},
    )
    return purpose


@transaction.atomic
def retention_policy_save(*, actor, policy: RetentionPolicy, created: bool) -> RetentionPolicy:
    """Create or change a policy, audited with old and new values; after commit, the recordings
    it may affect get their `retain_until` recomputed in batches by a Celery task."""
    old = None
    if not created:
        old = _values(RetentionPolicy.objects.select_for_update().get(pk=policy.pk), POLICY_FIELDS)
    policy.full_clean()
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
        # By name: compliance does not import the recordings app.
        transaction.on_commit(
            lambda: current_app.send_task(
                "recordings.tasks.recompute_retention",
                kwargs={"purpose_id": purpose_id, "tenant_id": tenant_id},
            )
        )
    return policy
