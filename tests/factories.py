"""Shared factories. `SCOPED_FACTORIES` maps every tenant-owned model to a factory that takes a
`tenant`, so the scoping test can prove isolation for each registered admin."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.incidents import incident_open
from audit.models import (
    Alert,
    AlertRuleSetting,
    AlertStatus,
    AuditEvent,
    Incident,
    IncidentNature,
    PlaybookAction,
    Severity,
    SiemForwarder,
)
from audit.services import event_record
from compliance.dnc_models import (
    Campaign,
    CampaignNumber,
    DncList,
    DncListStatus,
    DncOptOut,
    OptOutChannel,
    Screening,
    ScreeningRemoval,
    ScreeningStatus,
)
from compliance.dnc_sources import sources_for_countries
from compliance.models import (
    ApiKey,
    Consent,
    Dpia,
    LegalBasis,
    LegalHold,
    Measure,
    Membership,
    Processor,
    Purpose,
    RetentionPolicy,
    Risk,
    Role,
    SubjectRequest,
    Tenant,
)
from compliance.services.api_keys import api_key_create
from compliance.services.campaigns import campaign_create, campaign_numbers_import
from compliance.services.consents import consent_record
from compliance.services.dnc_opt_outs import dnc_opt_out_add
from compliance.services.dpia import dpia_save
from compliance.services.legal_holds import legal_hold_place
from compliance.services.processors import platform_processor_ensure, processor_save
from compliance.services.risks import measure_save, risk_save
from compliance.services.screenings import screening_export
from compliance.services.subject_requests import subject_request_receive
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


def subject_request_for(
    *, tenant: Tenant, kind: str = "access", reference: str = "", number: str = "+33612345678"
) -> SubjectRequest:
    """A caller's request through the real service, as the tenant's front office sends it."""
    return subject_request_receive(
        actor=None,
        tenant=tenant,
        kind=kind,
        customer_numbers=[number],
        subject_reference=reference,
        channel="api",
        requester_name="Probe Requester",
    )


def alert_rule_setting_for(*, tenant: Tenant, rule: str = "volume") -> AlertRuleSetting:
    return AlertRuleSetting.objects.create(tenant=tenant, rule=rule, threshold=5, window_minutes=10)


def alert_for(
    *,
    tenant: Tenant,
    status: str = AlertStatus.NEW,
    severity: str = Severity.HIGH,
    subject=None,
    summary: str = "Unusual volume of recordings played",
    rule: str = "volume",
    events: int = 3,
) -> Alert:
    """An alert as the rules engine raises it: over `events` events on the trail, about
    `subject` (a user; else an address)."""
    sequences = [
        event_record(
            action="recording.played",
            tenant=tenant,
            target_type="recordings.recording",
            target_id=index,
        ).sequence
        for index in range(events)
    ]
    now = timezone.now()
    return Alert.objects.create(
        tenant=tenant,
        rule=rule,
        severity=severity,
        status=status,
        subject_key=f"user:{subject.pk}" if subject else f"ip:203.0.113.{uuid.uuid4().int % 250}",
        subject_actor=subject,
        subject_label=subject.username if subject else "203.0.113.9",
        summary=summary,
        window_start=now - timedelta(hours=1),
        window_end=now,
        event_sequences=sequences,
        event_count=len(sequences),
        raised_at=now,
        updated_at=now,
    )


def incident_for(*, tenant: Tenant, title: str = "Account compromise", **details) -> Incident:
    """An incident opened by hand by a platform operator, with its playbook."""
    operator = UserFactory(username=f"operator-{tenant.slug}", is_superuser=True)
    return incident_open(
        actor=operator,
        tenant=tenant,
        title=title,
        nature=details.pop("nature", IncidentNature.ACCOUNT_COMPROMISE),
        **details,
    )


def playbook_action_for(*, tenant: Tenant, text: str = "Call the DPO") -> PlaybookAction:
    return PlaybookAction.objects.create(
        tenant=tenant, nature=IncidentNature.OTHER, position=9, text=text, mandatory=True
    )


def siem_forwarder_for(*, tenant: Tenant, name: str = "") -> SiemForwarder:
    return SiemForwarder.objects.create(
        tenant=tenant,
        name=name or f"{tenant.slug} SOC {uuid.uuid4().hex[:6]}",
        kind="https",
        url=f"https://siem.{tenant.slug}.example/ingest",
    )


def processor_for(
    *, tenant: Tenant, name: str = "", parent: Processor | None = None, purposes=(), **fields
) -> Processor:
    """A processor saved through its service: by default a sub-processor of the platform,
    inside the EEA, its agreement signed a year ago and reviewed within the year."""
    today = tenant.today()
    values = {
        "country": "FR",
        "agreement_signed_on": today - timedelta(days=365),
        "agreement_expires_on": today + timedelta(days=365 * 2),
        "review_due_on": today + timedelta(days=200),
        "services": "Storage",
        **fields,
    }
    processor = Processor(
        tenant=tenant,
        name=name or f"Processor {uuid.uuid4().hex[:6]}",
        parent=parent if parent is not None else platform_processor_ensure(tenant),
        **values,
    )
    return processor_save(actor=None, processor=processor, purposes=purposes, created=True)


def risk_for(*, tenant: Tenant, threat: str = "", measures: int = 1, **fields) -> Risk:
    """A risk of the tenant's analysis, through its service, with `measures` measures in place."""
    values = {
        "likelihood": 2,
        "severity": 3,
        "owner": "DPO",
        "review_on": tenant.today() + timedelta(days=180),
        **fields,
    }
    risk = risk_save(
        actor=None,
        risk=Risk(tenant=tenant, threat=threat or f"Threat {uuid.uuid4().hex[:6]}", **values),
        created=True,
    )
    for index in range(measures):
        measure_save(
            actor=None,
            measure=Measure(
                risk=risk, action=f"Measure {index}", done_by="Platform", status="in_place"
            ),
            created=True,
        )
    return risk


def dpia_for(*, tenant: Tenant, purpose: Purpose | None = None, necessity: str = "") -> Dpia:
    purpose = purpose or PurposeFactory(tenant=tenant)
    dpia = Dpia(
        tenant=tenant,
        purpose=purpose,
        necessity=necessity or "Proof of what was agreed on the phone.",
    )
    return dpia_save(actor=None, dpia=dpia, created=True)


def dnc_list_for(
    *, tenant: Tenant | None, source: str = "internal", version: str = "", **fields
) -> DncList:
    """A version of a list as its import leaves it in force (its numbers are not loaded: the
    import's own tests load them, through the service, in transactional tests). A version
    already in force for that list makes this one superseded."""
    in_force = DncList.objects.filter(source=source, tenant=tenant, status=DncListStatus.IN_FORCE)
    now = timezone.now()
    values = {
        "delivered_at": now - timedelta(days=3),
        "status": DncListStatus.SUPERSEDED if in_force.exists() else DncListStatus.IN_FORCE,
        "imported_at": now,
        "entry_count": 2,
        "lines_read": 2,
        "file_name": "list.csv",
        **fields,
    }
    return DncList.objects.create(
        tenant=tenant, source=source, version=version or f"v{uuid.uuid4().hex[:6]}", **values
    )


def dnc_opt_out_for(*, tenant: Tenant, number: str = "", note: str = "") -> DncOptOut:
    number = number or ("+33612345670" if tenant.country_code == "FR" else "+34612345670")
    opt_out, _ = dnc_opt_out_add(
        actor="test", tenant=tenant, number=number, channel=OptOutChannel.ADMIN, note=note
    )
    return opt_out


def campaign_for(
    *, tenant: Tenant, name: str = "", numbers: tuple[str, ...] = (), purpose=None
) -> Campaign:
    """A campaign running from last week to next month, with `numbers` (one per line,
    national numbers read in the tenant's country) imported through the service."""
    today = timezone.localdate()
    campaign = campaign_create(
        actor="test",
        tenant=tenant,
        name=name or f"Campaign {uuid.uuid4().hex[:6]}",
        purpose=purpose or PurposeFactory(tenant=tenant),
        legal_basis=LegalBasis.LEGITIMATE_INTEREST,
        starts_on=today - timedelta(days=7),
        ends_on=today + timedelta(days=30),
    )
    if numbers:
        campaign_numbers_import(
            actor="test", campaign=campaign, data="\n".join(numbers).encode() + b"\n"
        )
        campaign.refresh_from_db()
    return campaign


def screening_for(*, tenant: Tenant, campaign: Campaign | None = None) -> Screening:
    """A screening awaiting its answer, of the tenant's national service (Bloctel for a French
    tenant, Lista Robinson for a Spanish one)."""
    source = "bloctel" if tenant.country_code == "FR" else "robinson"
    number = "0612345678" if tenant.country_code == "FR" else "612345678"
    campaign = campaign or campaign_for(tenant=tenant, numbers=(number,))
    return screening_export(actor="test", campaign=campaign, source=source).screening


def dnc_entries_add(dnc_list: DncList, numbers: list[int]) -> DncList:
    """Numbers (E.164 without "+", as stored) in a version's entries: its partition created and
    attached at once, as an import leaves it (the import's own tests load real files)."""
    from django.db import connection

    table = f"compliance_dncentry_{int(dnc_list.pk)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} PARTITION OF compliance_dncentry "  # nosec B608
            f"FOR VALUES IN ({int(dnc_list.pk)})"
        )
        cursor.execute(
            f"INSERT INTO {table} (list_id, number) "  # nosec B608
            "SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
            [dnc_list.pk, numbers],
        )
    return dnc_list


class CampaignFactory(factory.django.DjangoModelFactory):
    """A campaign running today (a week before to a month after), its sources those of its
    tenant's country."""

    class Meta:
        model = Campaign

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    purpose = factory.LazyAttribute(
        lambda campaign: (
            Purpose.objects.by_code(campaign.tenant, "telemarketing")
            or PurposeFactory(tenant=campaign.tenant, code="telemarketing", name="Telemarketing")
        )
    )
    legal_basis = LegalBasis.CONSENT
    sources = factory.LazyAttribute(
        lambda campaign: sources_for_countries({campaign.tenant.country_code})
    )
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=7))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=30))


def campaign_numbers_add(
    campaign: Campaign, numbers: list[int], *, country: str = "", added_at=None
) -> list[CampaignNumber]:
    """Numbers in a campaign's file (added an hour ago by default)."""
    added_at = added_at or timezone.now() - timedelta(hours=1)
    created = CampaignNumber.objects.bulk_create(
        CampaignNumber(
            campaign=campaign,
            number=number,
            country=country or campaign.tenant.country_code,
            added_at=added_at,
        )
        for number in numbers
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        number_count=CampaignNumber.objects.filter(campaign=campaign).count()
    )
    return created


class ScreeningFactory(factory.django.DjangoModelFactory):
    """A campaign's file screened by a service and its answer imported (two days ago: fresh),
    its numbers to remove given as `removed`."""

    class Meta:
        model = Screening
        skip_postgeneration_save = True

    campaign = factory.SubFactory(CampaignFactory)
    source = "bloctel"
    status = ScreeningStatus.ANSWERED
    exported_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    screened_at = factory.LazyAttribute(
        lambda screening: (
            screening.exported_at + timedelta(days=1)
            if screening.status == ScreeningStatus.ANSWERED
            else None
        )
    )
    answer_file_name = "answer.csv"

    @factory.post_generation
    def removed(screening, create, numbers, **kwargs):
        if create and numbers:
            ScreeningRemoval.objects.bulk_create(
                ScreeningRemoval(screening=screening, number=number) for number in numbers
            )
            Screening.objects.filter(pk=screening.pk).update(removed_count=len(numbers))


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
    AlertRuleSetting: lambda tenant: alert_rule_setting_for(tenant=tenant),
    Alert: lambda tenant: alert_for(tenant=tenant),
    Incident: lambda tenant: incident_for(tenant=tenant),
    PlaybookAction: lambda tenant: playbook_action_for(tenant=tenant),
    SiemForwarder: lambda tenant: siem_forwarder_for(tenant=tenant),
    SubjectRequest: lambda tenant: subject_request_for(tenant=tenant),
    Processor: lambda tenant: processor_for(tenant=tenant),
    Risk: lambda tenant: risk_for(tenant=tenant),
    Dpia: lambda tenant: dpia_for(tenant=tenant),
    DncList: lambda tenant: dnc_list_for(tenant=tenant),
    DncOptOut: lambda tenant: dnc_opt_out_for(tenant=tenant),
    Campaign: lambda tenant: campaign_for(tenant=tenant),
}
