"""Business operations of the compliance app. Each writes its audit event in its transaction."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from audit.services import event_record

from .models import Membership, Role, Tenant


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
