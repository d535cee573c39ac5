"""A person's role in a tenant: granted, changed and revoked, with the person's role groups kept
in step with all their memberships."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from audit.context import names_its_actor
from audit.services import event_record

from ..models import Membership, Role, Tenant


def _member_lock(user) -> None:
    """Grants and revocations of one person run one after the other: each recomputes the
    person's groups from all their memberships, which a concurrent change to another of their
    memberships must not be left out of."""
    type(user).objects.select_for_update().filter(pk=user.pk).exists()


def _role_groups_align(user) -> None:
    """The person's role groups become exactly those of the roles they hold in some tenant.

    Django's permissions come from groups and know no tenant, so a role changed or revoked in
    one tenant must take its group away unless another membership still gives it; what each
    role may do in *which* tenant is then decided by `tenant_permits`. Groups that are no role's
    (given by a platform operator for another reason) are left alone."""
    held = {Role(role).group_name for role in user.memberships.values_list("role", flat=True)}
    role_groups = Group.objects.filter(name__in=[role.group_name for role in Role])
    user.groups.remove(*[group for group in role_groups if group.name not in held])
    user.groups.add(*[group for group in role_groups if group.name in held])
    # ModelBackend caches permissions on the instance: the caller's copy must not keep the old.
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)


@names_its_actor
@transaction.atomic
def membership_grant(*, actor, user, tenant: Tenant, role: str) -> Membership:
    """Give `user` the `role` in `tenant`, replacing the role they held there, and align their
    groups (which hold the roles' permissions) with all their memberships. Granting a role the
    user already has changes nothing and records nothing. `actor` is the user or the command
    granting it."""
    role = Role(role)
    _member_lock(user)
    membership, created = Membership.objects.get_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    old_role = membership.role
    if not created and old_role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    _role_groups_align(user)
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


@names_its_actor
@transaction.atomic
def membership_revoke(*, actor, membership: Membership) -> None:
    """Take a person's role in one tenant away, with the role's group unless another of their
    memberships still gives it. Revoking a membership that is already gone records nothing."""
    user = membership.user
    _member_lock(user)
    locked = Membership.objects.filter(pk=membership.pk).select_related("tenant").first()
    if locked is None:
        _role_groups_align(user)
        return
    label = str(locked)
    tenant, role = locked.tenant, locked.role
    locked.delete()
    _role_groups_align(user)
    event_record(
        action="membership.revoked",
        tenant=tenant,
        target_type="compliance.membership",
        target_id=str(membership.pk),
        target_label=label,
        extra={"user": user.get_username(), "old_role": role, "revoked_by": str(actor)},
    )
