"""Tenants (the contact centre's clients, each a data controller) and who works for which."""

from __future__ import annotations

import zoneinfo
from datetime import date, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from simple_history.models import HistoricalRecords

from kit import limits
from kit.limits import bounded_text
from kit.masking import mask_number

from .date_window import validate_in_date_window


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone, such as Europe/Paris.")


class TenantQuerySet(models.QuerySet):
    def for_user(self, user) -> TenantQuerySet:
        """The tenants whose data this user may see: all for a platform operator, else theirs."""
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user)


class Tenant(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    country_code = models.CharField(
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166-1 alpha-2 code such as FR.")],
        help_text="ISO 3166-1 alpha-2; the default region for phone numbers.",
    )
    time_zone = models.CharField(
        max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    working_hours_start = models.TimeField(default=time(9, 0))
    working_hours_end = models.TimeField(default=time(18, 0))
    # A data subject's export (GDPR Art. 15, 20) lists who accessed their recordings by role; the
    # people's names only where the tenant chose to disclose them (its staff's own data).
    export_names_staff = models.BooleanField(
        "name staff in data-subject exports",
        default=False,
        help_text="In a data subject's export, the access log names the people who accessed "
        "their recordings, not only their role.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.working_hours_start and self.working_hours_end:
            if self.working_hours_start >= self.working_hours_end:
                raise ValidationError(
                    {"working_hours_end": "Working hours must end after they start."}
                )

    def today(self) -> date:
        """The date now in the tenant's time zone: retention dates are the tenant's (the data
        controller's) days, not the server's."""
        return timezone.localdate(timezone=zoneinfo.ZoneInfo(self.time_zone))


class Role(models.TextChoices):
    """A person's role in one tenant; each is also a Django group holding its permissions."""

    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    SUPERVISOR = "supervisor", "Supervisor"
    QUALITY_ANALYST = "quality_analyst", "Quality analyst"
    AUDITOR = "auditor", "Auditor"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "tenant"), name="membership_one_per_tenant")
        ]
        ordering = ("tenant__name", "user__username")

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.tenant}"


class LegalBasis(models.TextChoices):
    """GDPR Art. 6(1) bases a call recording may rest on."""

    CONSENT = "consent", "Consent (Art. 6(1)(a))"
    CONTRACT = "contract", "Contract (Art. 6(1)(b))"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art. 6(1)(c))"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest (Art. 6(1)(f))"


# GDPR Art. 6(1)(a), 7(1): processing that rests on consent needs the caller's consent, asked
# before the call is recorded (ingestion checks it where the purpose requires it).
CONSENT_BASIS_WITHOUT_CONSENT = (
    "A purpose whose legal basis is consent must require the caller's consent before the call "
    "is recorded."
)


class PurposeQuerySet(models.QuerySet):
    def available_to(self, tenant: Tenant | int) -> PurposeQuerySet:
        """Active purposes a tenant may record for: the platform's and its own."""
        return self.filter(active=True).filter(
            models.Q(tenant__isnull=True) | models.Q(tenant=tenant)
        )

    def by_code(self, tenant: Tenant | int, code: str) -> Purpose | None:
        """The active purpose of that code a tenant records for: its own before the
        platform's."""
        return (
            self.available_to(tenant)
            .filter(code=code)
            .order_by(models.F("tenant").asc(nulls_last=True))
            .first()
        )


class Purpose(models.Model):
    """Why a recording exists. Platform purposes (no tenant) ship with Custodia; tenants add own."""

    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purposes",
        help_text="Empty for a platform purpose available to every tenant.",
    )
    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    description = bounded_text(limits.PURPOSE_DESCRIPTION, blank=True)
    legal_basis = models.CharField(max_length=32, choices=LegalBasis.choices)
    requires_consent = models.BooleanField(
        default=False, help_text="The caller's consent is needed before the call is recorded."
    )
    default_retention_months = models.PositiveIntegerField(
        help_text="Used when no retention policy applies."
    )
    # What the register of processing activities (GDPR Art. 30(1)(c)) and the DPIA say of it,
    # written once here (compliance/register/).
    data_subjects = bounded_text(
        limits.PURPOSE_DESCRIPTION,
        blank=True,
        verbose_name="categories of data subjects",
        help_text="Whose personal data: e.g. callers (customers, prospects), agents.",
    )
    data_categories = bounded_text(
        limits.PURPOSE_DESCRIPTION,
        blank=True,
        verbose_name="categories of personal data",
        help_text="E.g. the call's audio, the caller's number, date and duration, agent code.",
    )
    data_source = bounded_text(
        limits.PURPOSE_DESCRIPTION,
        blank=True,
        verbose_name="source of the data",
        help_text="Where the data comes from: e.g. the call itself, through the telephony.",
    )
    active = models.BooleanField(default=True)

    objects = PurposeQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "code"),
                name="purpose_code_per_tenant",
                nulls_distinct=False,
            ),
            # See clean(): no path (admin, shell, data migration) may store one without it.
            models.CheckConstraint(
                condition=~models.Q(legal_basis=LegalBasis.CONSENT)
                | models.Q(requires_consent=True),
                name="purpose_consent_basis_requires_consent",
                violation_error_message=CONSENT_BASIS_WITHOUT_CONSENT,
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.legal_basis == LegalBasis.CONSENT and not self.requires_consent:
            raise ValidationError({"requires_consent": CONSENT_BASIS_WITHOUT_CONSENT})


class ExpiryAction(models.TextChoices):
    DELETE = "delete", "Delete the recording and its metadata"
    ANONYMISE = "anonymise", "Delete the audio, keep anonymised metadata"


class RetentionPolicy(models.Model):
    """How long recordings of one purpose may be kept. Platform policies (no tenant) are the
    shipped presets; a tenant's own policy for the purpose takes precedence (it may tighten the
    platform's, or extend it up to the platform's `maximum_months`)."""

    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="retention_policies",
        help_text="Empty for a platform policy that applies to every tenant.",
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="policies")
    name = models.CharField(max_length=160)
    retention_months = models.PositiveIntegerField()
    maximum_months = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Platform policies: the longest a tenant's own policy may keep recordings "
        "(e.g. MiFID II: 7 years on the regulator's request).",
    )
    action_at_expiry = models.CharField(
        max_length=16, choices=ExpiryAction.choices, default=ExpiryAction.DELETE
    )
    legal_reference = bounded_text(
        limits.POLICY_LEGAL_REFERENCE, help_text="The rule this policy applies, with its source."
    )
    effective_from = models.DateField(validators=[validate_in_date_window])
    active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ("purpose__name", "tenant__name")
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        scope = self.tenant.name if self.tenant_id else "platform"
        return f"{self.name} ({scope}, {self.retention_months} months)"

    def clean(self) -> None:
        if (
            self.tenant_id
            and self.purpose_id
            and self.purpose.tenant_id not in (None, self.tenant_id)
        ):
            raise ValidationError({"purpose": "This purpose belongs to another tenant."})
        if self.maximum_months is not None and self.maximum_months < self.retention_months:
            raise ValidationError({"maximum_months": "The maximum cannot be below the period."})
        if self.tenant_id and self.purpose_id:
            ceiling = (
                RetentionPolicy.objects.filter(
                    purpose_id=self.purpose_id, tenant__isnull=True, active=True
                )
                .exclude(pk=self.pk)
                .aggregate(ceiling=models.Max(Coalesce("maximum_months", "retention_months")))[
                    "ceiling"
                ]
            )
            if ceiling is not None and self.retention_months > ceiling:
                raise ValidationError(
                    {
                        "retention_months": f"The platform policy for this purpose allows at "
                        f"most {ceiling} months; a tenant may only tighten it."
                    }
                )


class ApiKeyQuerySet(models.QuerySet):
    def usable(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A tenant's credential for the recorder or dialer. The secret is shown once, at creation;
    only its SHA-256 is stored (the secret is 256 random bits, so a slow hash adds nothing)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=120, help_text="What uses it, e.g. 'Genesys recorder'.")
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ("tenant__name", "name")
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ConsentDecision(models.TextChoices):
    GRANTED = "granted", "Granted"
    REFUSED = "refused", "Refused"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ConsentChannel(models.TextChoices):
    IVR = "ivr", "IVR key press"
    AGENT = "agent", "Agent"
    WEB_FORM = "web_form", "Web form"
    EMAIL = "email", "Email"


class ConsentQuerySet(models.QuerySet):
    def for_subject(self, *, tenant, customer_number: str, purpose) -> ConsentQuerySet:
        return self.filter(tenant=tenant, customer_number=customer_number, purpose=purpose)

    def latest_first(self) -> ConsentQuerySet:
        return self.order_by("-decided_at", "-pk")


class Consent(models.Model):
    """One decision of a caller about one purpose. Decisions are never edited, only superseded:
    the latest (by `decided_at`, then by id) per tenant, number and purpose is the one in force."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="consents")
    customer_number = models.CharField(max_length=16, help_text="E.164")
    subject_reference = models.CharField(max_length=128, blank=True)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="consents")
    decision = models.CharField(max_length=10, choices=ConsentDecision.choices)
    decided_at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices)
    ivr_prompt_id = models.CharField(max_length=64, blank=True)
    ivr_prompt_version = models.CharField(max_length=32, blank=True)
    call_id = models.CharField(max_length=128, blank=True)
    operator = models.CharField(max_length=64, blank=True, help_text="Agent or operator code.")
    recorded_by = models.CharField(
        max_length=150, help_text="Who recorded the decision: a user or an API key."
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()
    # The decision is never edited; a rectification (GDPR Art. 16) corrects its evidence's
    # metadata only, kept here with the old values and the request that caused it
    # (recordings/subject_requests/rectification.py).
    history = HistoricalRecords()

    class Meta:
        ordering = ("-decided_at", "-pk")
        indexes = [
            models.Index(
                fields=("tenant", "customer_number", "purpose", "-decided_at"),
                name="consent_subject_latest",
            ),
            # A data-subject request names its subject by reference as well as by number.
            models.Index(
                fields=("tenant", "subject_reference"),
                name="consent_tenant_subject",
                condition=~models.Q(subject_reference=""),
            ),
        ]

    def __str__(self) -> str:
        # Masked: shown in lists and pickers. Audit events name a decision by id instead
        # (compliance.services.consents.consent_target), since the trail is append-only.
        return f"{self.masked_number}: {self.get_decision_display()} for {self.purpose}"

    @property
    def masked_number(self) -> str:
        return mask_number(self.customer_number)


class LegalHoldQuerySet(models.QuerySet):
    def active(self) -> LegalHoldQuerySet:
        return self.filter(released_at__isnull=True)


class LegalHold(models.Model):
    """Litigation or a regulator's inquiry freezes recordings: nothing deletes a held recording,
    neither the purge nor an erasure request (GDPR Art. 17(3)(b),(e)).

    Scope: the explicit recordings, plus every recording of the tenant that matches all the
    criteria given (customer number, date range, campaign) — recordings arriving later too.
    compliance/holds.py states that rule, once, for every query that asks it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="legal_holds")
    reference = models.CharField(max_length=120, help_text="Case or inquiry reference.")
    reason = bounded_text(limits.LEGAL_HOLD_REASON)
    recordings = models.ManyToManyField(
        "recordings.Recording", blank=True, related_name="legal_holds"
    )
    customer_number = models.CharField(max_length=16, blank=True, help_text="E.164")
    started_from = models.DateTimeField(null=True, blank=True)
    started_until = models.DateTimeField(null=True, blank=True)
    campaign = models.CharField(max_length=128, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = bounded_text(limits.LEGAL_HOLD_RELEASE_REASON, blank=True)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ("-placed_at",)
        permissions = [
            ("place_legalhold", "Can place a legal hold"),
            ("release_legalhold", "Can release a legal hold"),
        ]
        indexes = [
            models.Index(
                fields=("tenant",), name="legalhold_active", condition=models.Q(released_at=None)
            )
        ]

    def __str__(self) -> str:
        # Its reference alone: the admin's log (its "Recent actions") keeps an object's name as
        # it was when the action happened, and a state in it ("active") outlives the release.
        return self.reference


class ApiKeyRequestCount(models.Model):
    """How many calls one API key made in one minute: the counter of the per-key rate limit
    (API_RATE_LIMIT_PER_MINUTE), shared by every web process through PostgreSQL. Past minutes
    are deleted by compliance.tasks.count_api_auth_failures."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "API key request count"
        constraints = [
            models.UniqueConstraint(fields=("api_key", "minute"), name="api_request_count_minute")
        ]

    def __str__(self) -> str:
        return f"{self.count} calls of API key {self.api_key_id} in the minute of {self.minute}"


class ApiAuthFailureWindow(models.Model):
    """Failed API authentications from one client address (an IPv6 address as its /64) with one
    key prefix (empty for a missing, malformed or unknown key) in one fixed window of
    API_AUTH_FAILURE_WINDOW_SECONDS, on the database's clock.

    The prefix's first failure of the window, from whatever address, is on the audit trail at once
    (`api.auth_failed`); the others are only counted here, since the trail is append-only and one
    event per attempt would let anyone without a key fill it. Once the window has closed, its
    count goes on the trail in one `api.auth_failures_counted` event per prefix and the rows are
    deleted, in one transaction: a count is written exactly once, and a process that dies first
    leaves it here for the next writer."""

    key_prefix = models.CharField(max_length=12, blank=True)
    client_ip = models.CharField(max_length=45, blank=True)
    window_start = models.DateTimeField()
    # The tenant whose key was tried, so that its compliance officer sees the attempts.
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    count = models.PositiveIntegerField(default=0)
    # Of `count`, those answered 429 without checking the key (past API_AUTH_FAILURE_LIMIT).
    throttled = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()

    class Meta:
        verbose_name = "failed API authentications in a window"
        constraints = [
            models.UniqueConstraint(
                fields=("key_prefix", "client_ip", "window_start"), name="api_auth_failure_window"
            )
        ]
        indexes = [models.Index(fields=("window_start",), name="api_auth_failure_closing")]

    def __str__(self) -> str:
        return f"{self.count} failed API authentications from {self.client_ip or 'unknown'}"


# Registered with the app here (Django reads an app's models from its models module).
from .dnc_models import (  # noqa: E402, F401
    Campaign,
    CampaignNumber,
    DncEntry,
    DncList,
    DncListStatus,
    DncOptOut,
    Screening,
    ScreeningRemoval,
)
from .dpia_models import Dpia  # noqa: E402, F401
from .processor_models import (  # noqa: E402, F401
    Processor,
    ProcessorStatus,
    TransferSafeguard,
)
from .risk_models import Measure, MeasureStatus, Risk  # noqa: E402, F401
from .subject_request_models import (  # noqa: E402, F401
    RequestChannel,
    RequestKind,
    RequestLanguage,
    RequestStatus,
    SubjectRequest,
    VerificationMethod,
)
