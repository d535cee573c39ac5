"""Shared factories. `SCOPED_FACTORIES` maps every tenant-owned model to a factory that takes a
`tenant`, so the scoping test can prove isolation for each registered admin."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from audit.services import event_record
from compliance.models import Membership, Role, Tenant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    country_code = "FR"
    time_zone = "Europe/Paris"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    is_staff = True
    password = factory.django.Password("custodia-demo")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.SUPERVISOR


def audit_event_for(*, tenant: Tenant) -> AuditEvent:
    recorded = event_record(action="demo.seeded", tenant=tenant, target=tenant)
    return AuditEvent.objects.get(sequence=recorded.sequence)


SCOPED_FACTORIES = {
    Tenant: lambda tenant: tenant,
    Membership: lambda tenant: MembershipFactory(tenant=tenant),
    AuditEvent: lambda tenant: audit_event_for(tenant=tenant),
}
