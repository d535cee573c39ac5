"""Demo data: tenants Acme and Globex, the cast of the README, API keys and a few hundred
recordings with real audio generated on the fly. Idempotent: a second run changes nothing."""

from __future__ import annotations

import random
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from audit.alerts.engine import alert_rules_evaluate
from audit.context import acting_as, acting_for
from audit.incidents import incident_open
from audit.models import Alert, Incident
from compliance.dnc_models import Campaign
from compliance.models import (
    ApiKey,
    Consent,
    Dpia,
    LegalHold,
    Processor,
    Purpose,
    Risk,
    Role,
    SubjectRequest,
    Tenant,
)
from compliance.services.api_keys import api_key_create
from compliance.services.campaigns import campaign_create, campaign_numbers_import
from compliance.services.consents import consent_record
from compliance.services.dpia import dpia_save
from compliance.services.legal_holds import legal_hold_place
from compliance.services.memberships import membership_grant
from compliance.services.processors import platform_processor_ensure, processor_save
from compliance.services.risks import risk_defaults_adopt
from compliance.services.screenings import screening_answer_import, screening_export
from compliance.services.subject_requests import (
    subject_request_receive,
    subject_request_verify_identity,
)
from recordings.demo_audio import tone_wav
from recordings.models import Recording
from recordings.services.access import access_grant_request
from recordings.services.ingest import recording_ingest

# The demo requesters' addresses end with it (and tell seed_demo its requests exist).
DEMO_DOMAIN = "requesters.example"
DEMO_PASSWORD = "custodia-demo"  # noqa: S105 - printed on purpose: demo accounts only
# Demo recorder keys, printed so that the README's curl example works on the demo data.
DEMO_API_TOKENS = {
    "acme": "cst_acde0001_acme-demo-recorder-key-not-for-production",
    "globex": "cst_91be0001_globex-demo-recorder-key-not-for-production",
}

TENANTS = {
    "acme": {"name": "Acme Insurance", "country_code": "FR", "time_zone": "Europe/Paris"},
    "globex": {"name": "Globex Telecom", "country_code": "ES", "time_zone": "Europe/Madrid"},
}

PEOPLE = [
    ("alice", "acme", Role.COMPLIANCE_OFFICER),
    ("bob", "acme", Role.SUPERVISOR),
    ("carol", "acme", Role.QUALITY_ANALYST),
    ("dave", "acme", Role.AUDITOR),
    ("erin", "globex", Role.COMPLIANCE_OFFICER),
]
OPERATOR = "root"

CONSENT_GRANTED, CONSENT_REFUSED, CONSENT_WITHDRAWN = "+33612349001", "+33612349002", "+33612349003"
DEMO_HOLD = "RG 26/00421"
DEMO_STORAGE = "Nimbus Object Storage SAS"
DEMO_INCIDENT = "Team leader's laptop stolen from a car"
DEMO_CAMPAIGN = "Home insurance renewals"
# Acme's campaign: French numbers, and one UK number (which brings the TPS and the CTPS); Bloctel
# answers that one French number is registered.
DEMO_CAMPAIGN_NUMBERS = [
    *(f"06 12 35 {n:02d} {n + 10:02d}" for n in range(10, 18)),
    "+447911123456",
]
DEMO_BLOCTEL_REMOVED = "0612351222"
# Calls carol opens in a few minutes: more than the volume rule allows (audit/alerts/rules.py),
# so that a newcomer finds its alert open.
DEMO_ALERT_PLAYS = 25

# (tenant, how many, purposes, number pattern): Acme is a French insurer, Globex a Spanish telco.
RECORDINGS = [
    ("acme", 200, ["quality", "training", "supervision", "investment_services"], "+3361234{:04d}"),
    ("globex", 60, ["quality", "training", "supervision"], "+3461234{:04d}"),
]


class Command(BaseCommand):
    help = "Create the demo tenants, users and recordings (idempotent)."

    def handle(self, *args, **options):
        with acting_as("command:seed_demo"):
            with transaction.atomic():
                tenants, created = self._tenants_and_people()
            keys = self._api_keys(tenants)
            consents = self._consents(tenants["acme"])
            new_recordings = self._recordings(tenants)
            holds = self._hold(tenants["acme"])
            holds += self._alert_and_incident(tenants["acme"])
            holds += self._subject_requests(tenants["acme"])
            holds += self._processors(tenants)
            holds += self._risks_and_dpia(tenants["acme"])
            holds += self._campaign(tenants["acme"])
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for username, slug, role in PEOPLE:
            self.stdout.write(f"  {username:<6} {Role(role).label} at {tenants[slug].name}")
        self.stdout.write(f"  {OPERATOR:<6} platform operator (superuser)")
        if settings.OTP_REQUIRED:
            self.stdout.write(
                "Two factors are required (OTP_REQUIRED): after the password, each person scans "
                "a QR code with an authenticator app, types its code, and keeps the ten recovery "
                "codes shown once."
            )
        else:
            self.stdout.write(
                "Two factors are optional here (OTP_REQUIRED is off): a password signs in; "
                "enrol an authenticator at /signin/two-factor/enrol/ to try it."
            )
        for slug, token in DEMO_API_TOKENS.items():
            self.stdout.write(f"Demo recorder API key for {tenants[slug].name}: {token}")
        changed = created + keys + consents + holds
        if new_recordings:
            changed.append(f"{new_recordings} recordings")
        if changed:
            self.stdout.write(f"created: {', '.join(changed)}")
        else:
            self.stdout.write("demo data already present: nothing changed")

    def _tenants_and_people(self):
        tenants = {
            slug: Tenant.objects.get_or_create(
                slug=slug,
                defaults={**fields, "working_hours_start": time(8), "working_hours_end": time(20)},
            )[0]
            for slug, fields in TENANTS.items()
        }
        created = []
        for username, slug, role in PEOPLE:
            user, is_new = self._user(username, email=f"{username}@{slug}.example")
            if is_new:
                created.append(username)
            membership_grant(actor="seed_demo", user=user, tenant=tenants[slug], role=role)
        _, is_new = self._user(OPERATOR, email="root@custodia.example", superuser=True)
        if is_new:
            created.append(OPERATOR)
        return tenants, created

    def _api_keys(self, tenants) -> list[str]:
        created = []
        for slug, token in DEMO_API_TOKENS.items():
            prefix = token.split("_")[1]
            if not ApiKey.objects.filter(prefix=prefix).exists():
                api_key_create(
                    actor="seed_demo",
                    tenant=tenants[slug],
                    name="Demo recorder",
                    demo_token=token,
                )
                created.append(f"API key {prefix}")
        return created

    def _consents(self, acme: Tenant) -> list[str]:
        """Three callers of Acme's telemarketing campaign: one agreed to be recorded, one
        refused, one agreed and later withdrew."""
        if Consent.objects.filter(tenant=acme).exists():
            return []
        now = timezone.now()
        decisions = [
            (CONSENT_GRANTED, "granted", 20, "ivr"),
            (CONSENT_REFUSED, "refused", 15, "ivr"),
            (CONSENT_WITHDRAWN, "granted", 30, "ivr"),
            (CONSENT_WITHDRAWN, "withdrawn", 3, "web_form"),
        ]
        for number, decision, days_ago, channel in decisions:
            consent_record(
                recorded_by="seed_demo",
                tenant=acme,
                customer_number=number,
                purpose_code="telemarketing",
                decision=decision,
                decided_at=now - timedelta(days=days_ago),
                channel=channel,
                ivr_prompt_id="consent-rec-fr" if channel == "ivr" else "",
                ivr_prompt_version="3" if channel == "ivr" else "",
            )
        return ["4 consent decisions"]

    def _hold(self, acme: Tenant) -> list[str]:
        """A customer dispute freezes every call with one number, expired ones included."""
        if LegalHold.objects.filter(tenant=acme, reference=DEMO_HOLD).exists():
            return []
        held_number = Recording.objects.filter(tenant=acme).order_by("started_at").first()
        legal_hold_place(
            actor=get_user_model().objects.get(username="alice"),
            tenant=acme,
            reference=DEMO_HOLD,
            reason="Customer dispute before the Paris commercial court: keep every call.",
            customer_number=held_number.customer_number,
        )
        return [f"legal hold {DEMO_HOLD}"]

    def _alert_and_incident(self, acme: Tenant) -> list[str]:
        """An open alert, raised by the rules engine itself: carol opens many calls within
        minutes through the real listening service, then the rules read the trail. And an
        incident under way."""
        created = []
        people = get_user_model().objects
        carol, alice = people.get(username="carol"), people.get(username="alice")
        subject_key = f"user:{carol.pk}"
        if not Alert.objects.filter(tenant=acme, rule="volume", subject_key=subject_key).exists():
            calls = Recording.objects.active().filter(tenant=acme, purpose__code="quality")
            with acting_for(carol):
                for recording in calls.order_by("-started_at")[:DEMO_ALERT_PLAYS]:
                    access_grant_request(
                        user=carol,
                        recording=recording,
                        purpose="quality",
                        justification="Weekly quality sampling of the renewals team",
                    )
            alert_rules_evaluate()
            created.append("an open alert")
        if not Incident.objects.filter(tenant=acme, title=DEMO_INCIDENT).exists():
            incident_open(
                actor=alice,
                tenant=acme,
                title=DEMO_INCIDENT,
                nature="lost_device",
                aware_at=timezone.now() - timedelta(hours=30),
                description="A laptop with a browser session open on the portal was stolen.",
                dpo_contact="dpo@acme.example",
            )
            created.append("an incident")
        return created

    def _subject_requests(self, acme: Tenant) -> list[str]:
        """Three callers' requests at different steps: an access request in progress (identity
        verified, ready for its export), an erasure of the held caller's calls just received
        (its preview keeps them, naming the hold), and an objection past its deadline."""
        mine = SubjectRequest.objects.filter(tenant=acme, requester_contact__endswith=DEMO_DOMAIN)
        if mine.exists():
            return []
        alice = get_user_model().objects.get(username="alice")
        calls = Recording.objects.active().filter(tenant=acme).order_by("started_at")
        held = LegalHold.objects.get(tenant=acme, reference=DEMO_HOLD).customer_number
        other = calls.exclude(customer_number=held).values_list("customer_number", flat=True)
        now = timezone.now()
        access = subject_request_receive(
            actor=alice,
            tenant=acme,
            kind="access",
            customer_numbers=[other.last()],
            channel="email",
            received_at=now - timedelta(days=20),
            requester_name="Jeanne Martin",
            requester_contact=f"jeanne.martin@{DEMO_DOMAIN}",
            language="fr",
        )
        subject_request_verify_identity(
            actor=alice, request=access, method="call_back", note="Called back on the number."
        )
        subject_request_receive(
            actor=alice,
            tenant=acme,
            kind="erasure",
            customer_numbers=[held],
            channel="post",
            received_at=now - timedelta(days=3),
            requester_name="Paul Durand",
            requester_contact=f"paul.durand@{DEMO_DOMAIN}",
        )
        subject_request_receive(
            actor=alice,
            tenant=acme,
            kind="objection",
            customer_numbers=[other.first()],
            objection_purpose="quality",
            channel="phone",
            received_at=now - timedelta(days=35),
            requester_name="Lucía García",
            requester_contact=f"lucia.garcia@{DEMO_DOMAIN}",
            language="es",
        )
        return ["3 data-subject requests"]

    def _processors(self, tenants) -> list[str]:
        """Each tenant's agreement with the platform; for Acme a three-level chain (the
        platform, its cloud storage, the storage's backup in the United States under standard
        contractual clauses) and a speech-analytics vendor whose agreement has expired."""
        if Processor.objects.filter(tenant=tenants["acme"], name=DEMO_STORAGE).exists():
            return []
        alice = get_user_model().objects.get(username="alice")
        today = timezone.localdate()
        for slug, tenant in tenants.items():
            platform = platform_processor_ensure(tenant)
            platform.agreement_signed_on = today - timedelta(days=400)
            platform.agreement_expires_on = today + timedelta(days=3 * 365 - 400)
            platform.review_due_on = today + timedelta(days=180)
            platform.security_contact = "soc@contact-centre.example"
            processor_save(
                actor=alice if slug == "acme" else None,
                processor=platform,
                purposes=[],
                created=False,
            )
        acme = tenants["acme"]
        storage = processor_save(
            actor=alice,
            processor=Processor(
                tenant=acme,
                name=DEMO_STORAGE,
                parent=platform_processor_ensure(acme),
                services="Object storage of the encrypted audio files",
                country="FR",
                agreement_signed_on=today - timedelta(days=300),
                agreement_expires_on=today + timedelta(days=2 * 365),
                review_due_on=today + timedelta(days=120),
                security_contact="security@nimbus-storage.example",
            ),
            purposes=[],
            created=True,
        )
        processor_save(
            actor=alice,
            processor=Processor(
                tenant=acme,
                name="Skyvault Backup Inc.",
                parent=storage,
                services="Off-site backups of the storage (encrypted)",
                country="US",
                transfer_safeguard="scc",
                scc_signed_on=today - timedelta(days=280),
                safeguard_reference="Commission Implementing Decision (EU) 2021/914, module 3",
                agreement_signed_on=today - timedelta(days=280),
                agreement_expires_on=today + timedelta(days=2 * 365),
                review_due_on=today + timedelta(days=20),
                security_contact="incident@skyvault.example",
            ),
            purposes=[],
            created=True,
        )
        processor_save(
            actor=alice,
            processor=Processor(
                tenant=acme,
                name="Transcribo Speech Analytics GmbH",
                parent=platform_processor_ensure(acme),
                services="Speech analytics of quality-monitoring calls",
                country="DE",
                agreement_signed_on=today - timedelta(days=3 * 365),
                agreement_expires_on=today - timedelta(days=12),
                review_due_on=today - timedelta(days=40),
                security_contact="dpo@transcribo.example",
            ),
            purposes=list(Purpose.objects.filter(tenant=None, code="quality")),
            created=True,
        )
        return ["the processors' chain"]

    def _risks_and_dpia(self, acme: Tenant) -> list[str]:
        """Acme adopts the shipped risk analysis, and has the DPIA of its quality monitoring."""
        created = []
        alice = get_user_model().objects.get(username="alice")
        if not Risk.objects.filter(tenant=acme).exists():
            risk_defaults_adopt(actor=alice, tenant=acme)
            created.append("the default risks")
        quality = Purpose.objects.get(tenant=None, code="quality")
        if not Dpia.objects.filter(tenant=acme, purpose=quality).exists():
            dpia_save(
                actor=alice,
                dpia=Dpia(
                    tenant=acme,
                    purpose=quality,
                    necessity="Monitoring a sample of calls is how Acme checks the advice its "
                    "agents give on insurance contracts; listening live would not leave the "
                    "evidence a dispute needs.",
                    proportionality="About 2% of calls are sampled; callers are told before "
                    "the call and may object.",
                    dpo_name="Claire Dubois",
                    dpo_opinion="Favourable, provided the six-month retention is kept and the "
                    "speech-analytics vendor's agreement is renewed.",
                    dpo_opinion_on=timezone.localdate() - timedelta(days=30),
                ),
                created=True,
            )
            created.append("a DPIA")
        return created

    def _campaign(self, acme: Tenant) -> list[str]:
        """A running telemarketing campaign with a few numbers, screened by Bloctel today (one
        number to remove); never screened against the TPS, which has no version here: the
        campaign's page and the dashboard show what is stale."""
        if Campaign.objects.filter(tenant=acme, name=DEMO_CAMPAIGN).exists():
            return []
        alice = get_user_model().objects.get(username="alice")
        purpose = Purpose.objects.by_code(acme, "telemarketing")
        today = acme.today()
        campaign = campaign_create(
            actor=alice,
            tenant=acme,
            name=DEMO_CAMPAIGN,
            purpose=purpose,
            legal_basis=purpose.legal_basis,
            starts_on=today - timedelta(days=3),
            ends_on=today + timedelta(days=45),
        )
        campaign_numbers_import(
            actor=alice,
            campaign=campaign,
            data=("\n".join(["numero", *DEMO_CAMPAIGN_NUMBERS]) + "\n").encode(),
            file_name="renewals.csv",
        )
        screening = screening_export(actor=alice, campaign=campaign, source="bloctel").screening
        screening_answer_import(
            actor=alice,
            screening=screening,
            data=f"{DEMO_BLOCTEL_REMOVED}\n".encode(),
            screened_on=today,
            file_name="bloctel-answer.txt",
        )
        return [f"campaign {DEMO_CAMPAIGN} with its Bloctel screening"]

    def _recordings(self, tenants) -> int:
        """Calls spread over the last nine months, so that some have outlived the CNIL's six."""
        randomness = random.Random(20261128)  # noqa: S311 - demo data, not security
        # Yesterday noon, less up to ten hours: every call is in the past whatever the hour the
        # command runs (ingestion refuses a start in the future).
        today = (timezone.now() - timedelta(days=1)).replace(
            hour=12, minute=0, second=0, microsecond=0
        )
        created = 0
        for slug, count, purposes, number in RECORDINGS:
            for index in range(count):
                started_at = today - timedelta(
                    days=randomness.randint(0, 270), minutes=randomness.randint(0, 600)
                )
                seconds = randomness.choice([1.0, 1.5, 2.0, 3.0])
                frequency = randomness.randint(220, 880)
                fields = {
                    "call_id": f"{slug}-demo-{index:04d}",
                    "direction": randomness.choice(["inbound", "outbound"]),
                    "started_at": started_at.isoformat(),
                    "customer_number": number.format(randomness.randint(0, 9999)),
                    "purpose": purposes[index % len(purposes)],
                    "agent_code": f"A{randomness.randint(1, 40):02d}",
                    "campaign": randomness.choice(["", "renewals-2026", "welcome-calls"]),
                }
                result = recording_ingest(
                    tenant=tenants[slug],
                    api_key=None,
                    audio=tone_wav(seconds, frequency=frequency),
                    fields=fields,
                )
                created += result.created
        # Telemarketing calls of the caller who consented (the others were not recorded).
        for index in range(5):
            fields = {
                "call_id": f"acme-tm-{index:04d}",
                "direction": "outbound",
                "started_at": (today - timedelta(days=18 - index)).isoformat(),
                "customer_number": CONSENT_GRANTED,
                "purpose": "telemarketing",
                "agent_code": "A07",
                "campaign": "home-insurance-2026",
            }
            result = recording_ingest(
                tenant=tenants["acme"],
                api_key=None,
                audio=tone_wav(1.0, frequency=330 + 40 * index),
                fields=fields,
            )
            created += result.created
        return created

    def _user(self, username: str, *, email: str, superuser: bool = False):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"email": email, "is_staff": True, "is_superuser": superuser},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user, created
