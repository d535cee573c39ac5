"""Shared factories. `SCOPED_FACTORIES` maps every tenant-owned model to a factory that takes a
`tenant`, so the scoping test can prove isolation for each registered admin."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import event_record
from compliance.models import (
    ApiKey,
    Consent,
    LegalBasis,
    LegalHold,
    Membership,
    Purpose,
    RetentionPolicy,
    Role,
    Tenant,
)
from compliance.services.api_keys import api_key_create
from compliance.services.consents import consent_record
from compliance.services.legal_holds import legal_hold_place
from recordings.models import DeletionCertificate, Recording
from recordings.services.ingest import recording_ingest
from recordings.services.purge.erasure import recording_erase

from .audio import tone_wav


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


class PurposeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purpose

    code = factory.Sequence(lambda n: f"purpose-{n}")
    name = factory.Sequence(lambda n: f"Purpose {n}")
    legal_basis = LegalBasis.LEGITIMATE_INTEREST
    default_retention_months = 6


class RetentionPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RetentionPolicy

    purpose = factory.SubFactory(PurposeFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"Policy {n}")
    retention_months = 3
    legal_reference = "Internal rule"
    effective_from = date(2026, 1, 1)


def recording_for(*, tenant: Tenant) -> Recording:
    fields = {
        "call_id": f"factory-{uuid.uuid4().hex[:12]}",
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": "+33612345678",
        "purpose": "quality",
    }
    audio = tone_wav(0.5)
    return recording_ingest(tenant=tenant, api_key=None, audio=audio, fields=fields).recording


def certificate_for(*, tenant: Tenant) -> DeletionCertificate:
    recording = recording_for(tenant=tenant)
    recording_erase(actor=None, recording=recording)
    return DeletionCertificate.objects.get(recording_id=recording.pk)


def api_key_for(*, tenant: Tenant) -> ApiKey:
    return api_key_create(actor=None, tenant=tenant, name="Recorder")[0]


def consent_for(
    *,
    tenant: Tenant,
    number: str = "+33612345678",
    purpose_code: str = "telemarketing",
    decision: str = "granted",
    ago: timedelta = timedelta(minutes=5),
    **evidence: str,
) -> Consent:
    """A caller's decision through the real service (an IVR's, five minutes ago by default)."""
    return consent_record(
        recorded_by="test",
        tenant=tenant,
        customer_number=number,
        purpose_code=purpose_code,
        decision=decision,
        decided_at=timezone.now() - ago,
        channel="ivr",
        **evidence,
    )


def legal_hold_for(*, tenant: Tenant) -> LegalHold:
    officer = UserFactory(username=f"officer-{tenant.slug}", is_superuser=True)
    return legal_hold_place(
        actor=officer, tenant=tenant, reference="Case", reason="Litigation", campaign="c1"
    )


SCOPED_FACTORIES = {
    Tenant: lambda tenant: tenant,
    Membership: lambda tenant: MembershipFactory(tenant=tenant),
    AuditEvent: lambda tenant: audit_event_for(tenant=tenant),
    Purpose: lambda tenant: PurposeFactory(tenant=tenant),
    RetentionPolicy: lambda tenant: RetentionPolicyFactory(tenant=tenant),
    ApiKey: lambda tenant: api_key_for(tenant=tenant),
    Consent: lambda tenant: consent_for(tenant=tenant),
    LegalHold: lambda tenant: legal_hold_for(tenant=tenant),
    Recording: lambda tenant: recording_for(tenant=tenant),
    DeletionCertificate: lambda tenant: certificate_for(tenant=tenant),
}
