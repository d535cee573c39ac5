"""Tenants (the contact centre's clients, each a data controller) and who works for which."""

from __future__ import annotations

import zoneinfo
from datetime import date, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kit import limits
from kit.limits import bounded_text
from kit.masking import mask_number

from .date_window import validate_in_date_window


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(zone)s is not a known IANA time zone, such as Europe/Paris."),
            params={"zone": repr(value)},
        )


# The names of the purposes and retention policies the portal ships (migration 0004), shown in
# the reader's language; a name a tenant or an operator wrote is shown as written.
SHIPPED_NAMES = {
    "Agent training": _("Agent training"),
    "Quality monitoring": _("Quality monitoring"),
    "Performance supervision": _("Performance supervision"),
    "Telemarketing": _("Telemarketing"),
    "Call analysis documents": _("Call analysis documents"),
    "Insurance telesales": _("Insurance telesales"),
    "Investment services (MiFID II)": _("Investment services (MiFID II)"),
    "CNIL — call recording at work, audio": _("CNIL — call recording at work, audio"),
    "CNIL — call analysis documents": _("CNIL — call analysis documents"),
    "Insurance telesales — Code des assurances": _("Insurance telesales — Code des assurances"),
    "MiFID II — Art. 16(7)": _("MiFID II — Art. 16(7)"),
}


def shown_name(name: str) -> str:
    """A purpose's or a policy's name as a person reads it (SHIPPED_NAMES)."""
    return str(SHIPPED_NAMES.get(name, name))


class TenantQuerySet(models.QuerySet):
    def for_user(self, user) -> TenantQuerySet:
        """The tenants whose data this user may see: all for a platform operator, else theirs."""
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user)


class Tenant(models.Model):
    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    slug = models.SlugField(max_length=60, unique=True, verbose_name=_("slug"))
    country_code = models.CharField(
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use an ISO 3166-1 alpha-2 code such as FR."))],
        help_text=_("ISO 3166-1 alpha-2; the default region for phone numbers."),
        verbose_name=_("country code"),
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/Paris",
        validators=[validate_time_zone],
        verbose_name=_("time zone"),
    )
    working_hours_start = models.TimeField(
        default=time(9, 0), verbose_name=_("working hours start")
    )
    working_hours_end = models.TimeField(default=time(18, 0), verbose_name=_("working hours end"))
    # A data subject's export (GDPR Art. 15, 20) lists who accessed their recordings by role; the
    # people's names only where the tenant chose to disclose them (its staff's own data).
    export_names_staff = models.BooleanField(
        _("name staff in data-subject exports"),
        default=False,
        help_text=_(
            "In a data subject's export, the access log names the people who accessed "
            "their recordings, not only their role."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.working_hours_start and self.working_hours_end:
            if self.working_hours_start >= self.working_hours_end:
                raise ValidationError(
                    {"working_hours_end": _("Working hours must end after they start.")}
                )

    def today(self) -> date:
        """The date now in the tenant's time zone: retention dates are the tenant's (the data
        controller's) days, not the server's."""
        return timezone.localdate(timezone=zoneinfo.ZoneInfo(self.time_zone))


class Role(models.TextChoices):
    """A person's role in one tenant; each is also a Django group holding its permissions."""

    COMPLIANCE_OFFICER = "compliance_officer", _("Compliance officer")
    SUPERVISOR = "supervisor", _("Supervisor")
    QUALITY_ANALYST = "quality_analyst", _("Quality analyst")
    AUDITOR = "auditor", _("Auditor")

    @property
    def group_name(self) -> str:
        """The name of the role's Django group: its label in English whatever the reader's
        language, for the groups are rows named once (compliance/roles.py)."""
        with translation.override(None):
            return str(self.label)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant")
    )
    role = models.CharField(max_length=32, choices=Role.choices, verbose_name=_("role"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "tenant"), name="membership_one_per_tenant")
        ]
        ordering = ("tenant__name", "user__username")
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return translation.gettext("%(user)s — %(role)s at %(tenant)s") % {
            "user": self.user,
            "role": self.get_role_display(),
            "tenant": self.tenant,
        }


class LegalBasis(models.TextChoices):
    """GDPR Art. 6(1) bases a call recording may rest on."""

    CONSENT = "consent", _("Consent (Art. 6(1)(a))")
    CONTRACT = "contract", _("Contract (Art. 6(1)(b))")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation (Art. 6(1)(c))")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest (Art. 6(1)(f))")


# GDPR Art. 6(1)(a), 7(1): processing that rests on consent needs the caller's consent, asked
# before the call is recorded (ingestion checks it where the purpose requires it).
CONSENT_BASIS_WITHOUT_CONSENT = _(
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
        help_text=_("Empty for a platform purpose available to every tenant."),
        verbose_name=_("tenant"),
    )
    code = models.SlugField(max_length=60, verbose_name=_("code"))
    name = models.CharField(max_length=120, verbose_name=_("name"))
    description = bounded_text(
        limits.PURPOSE_DESCRIPTION, blank=True, verbose_name=_("description")
    )
    legal_basis = models.CharField(
        max_length=32, choices=LegalBasis.choices, verbose_name=_("legal basis")
    )
    requires_consent = models.BooleanField(
        default=False,
        help_text=_("The caller's consent is needed before the call is recorded."),
        verbose_name=_("requires consent"),
    )
    default_retention_months = models.PositiveIntegerField(
        help_text=_("Used when no retention policy applies."),
        verbose_name=_("default retention months"),
    )
    # What the register of processing activities (GDPR Art. 30(1)(c)) and the DPIA say of it,
    # written once here (compliance/register/).
    data_subjects = bounded_text(
        limits.PURPOSE_DESCRIPTION,
        blank=True,
        verbose_name=_("categories of data subjects"),
        help_text=_("Whose personal data: e.g. callers (customers, prospects), agents."),
    )
    data_categories = bounded_text(
        limits.PURPOSE_DESCRIPTION,
        blank=True,
        verbose_name=_("categories of personal data"),
        help_text=_("E.g. the call's audio, the caller's number, date and duration, agent code."),
    )
    data_source = bounded_text(
        limits.PURPOSE_DESCRIPTION,
        blank=True,
        verbose_name=_("source of the data"),
        help_text=_("Where the data comes from: e.g. the call itself, through the telephony."),
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))

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
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")

    def __str__(self) -> str:
        return shown_name(self.name)

    def clean(self) -> None:
        if self.legal_basis == LegalBasis.CONSENT and not self.requires_consent:
            raise ValidationError({"requires_consent": CONSENT_BASIS_WITHOUT_CONSENT})


class ExpiryAction(models.TextChoices):
    DELETE = "delete", _("Delete the recording and its metadata")
    ANONYMISE = "anonymise", _("Delete the audio, keep anonymised metadata")


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
        help_text=_("Empty for a platform policy that applies to every tenant."),
        verbose_name=_("tenant"),
    )
    purpose = models.ForeignKey(
        Purpose, on_delete=models.PROTECT, related_name="policies", verbose_name=_("purpose")
    )
    name = models.CharField(max_length=160, verbose_name=_("name"))
    retention_months = models.PositiveIntegerField(verbose_name=_("retention months"))
    maximum_months = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Platform policies: the longest a tenant's own policy may keep recordings "
            "(e.g. MiFID II: 7 years on the regulator's request)."
        ),
        verbose_name=_("maximum months"),
    )
    action_at_expiry = models.CharField(
        max_length=16,
        choices=ExpiryAction.choices,
        default=ExpiryAction.DELETE,
        verbose_name=_("action at expiry"),
    )
    legal_reference = bounded_text(
        limits.POLICY_LEGAL_REFERENCE,
        help_text=_("The rule this policy applies, with its source."),
        verbose_name=_("legal reference"),
    )
    effective_from = models.DateField(
        validators=[validate_in_date_window], verbose_name=_("effective from")
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))

    history = HistoricalRecords()

    class Meta:
        ordering = ("purpose__name", "tenant__name")
        verbose_name_plural = _("retention policies")
        verbose_name = _("retention policy")

    def __str__(self) -> str:
        scope = self.tenant.name if self.tenant_id else translation.gettext("platform")
        return translation.ngettext(
            "%(name)s (%(scope)s, %(months)d month)",
            "%(name)s (%(scope)s, %(months)d months)",
            self.retention_months,
        ) % {"name": shown_name(self.name), "scope": scope, "months": self.retention_months}

    def clean(self) -> None:
        if (
            self.tenant_id
            and self.purpose_id
            and self.purpose.tenant_id not in (None, self.tenant_id)
        ):
            raise ValidationError({"purpose": _("This purpose belongs to another tenant.")})
        if self.maximum_months is not None and self.maximum_months < self.retention_months:
            raise ValidationError({"maximum_months": _("The maximum cannot be below the period.")})
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
                        "retention_months": ValidationError(
                            _(
                                "The platform policy for this purpose allows at most "
                                "%(ceiling)d months; a tenant may only tighten it."
                            ),
                            params={"ceiling": ceiling},
                        )
                    }
                )


class ApiKeyQuerySet(models.QuerySet):
    def usable(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A tenant's credential for the recorder or dialer. The secret is shown once, at creation;
    only its SHA-256 is stored (the secret is 256 random bits, so a slow hash adds nothing)."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("tenant")
    )
    name = models.CharField(
        max_length=120,
        help_text=_("What uses it, e.g. 'Genesys recorder'."),
        verbose_name=_("name"),
    )
    prefix = models.CharField(max_length=12, unique=True, editable=False, verbose_name=_("prefix"))
    secret_hash = models.CharField(max_length=64, editable=False, verbose_name=_("secret hash"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last used at")
    )
    revoked_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("revoked at")
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ("tenant__name", "name")
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ConsentDecision(models.TextChoices):
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentChannel(models.TextChoices):
    IVR = "ivr", _("IVR key press")
    AGENT = "agent", _("Agent")
    WEB_FORM = "web_form", _("Web form")
    EMAIL = "email", _("Email")


class ConsentQuerySet(models.QuerySet):
    def for_subject(self, *, tenant, customer_number: str, purpose) -> ConsentQuerySet:
        return self.filter(tenant=tenant, customer_number=customer_number, purpose=purpose)

    def latest_first(self) -> ConsentQuerySet:
        return self.order_by("-decided_at", "-pk")


class Consent(models.Model):
    """One decision of a caller about one purpose. Decisions are never edited, only superseded:
    the latest (by `decided_at`, then by id) per tenant, number and purpose is the one in force."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="consents", verbose_name=_("tenant")
    )
    customer_number = models.CharField(
        max_length=16, help_text=_("E.164"), verbose_name=_("customer number")
    )
    subject_reference = models.CharField(
        max_length=128, blank=True, verbose_name=_("subject reference")
    )
    purpose = models.ForeignKey(
        Purpose, on_delete=models.PROTECT, related_name="consents", verbose_name=_("purpose")
    )
    decision = models.CharField(
        max_length=10, choices=ConsentDecision.choices, verbose_name=_("decision")
    )
    decided_at = models.DateTimeField(verbose_name=_("decided at"))
    channel = models.CharField(
        max_length=10, choices=ConsentChannel.choices, verbose_name=_("channel")
    )
    ivr_prompt_id = models.CharField(max_length=64, blank=True, verbose_name=_("ivr prompt id"))
    ivr_prompt_version = models.CharField(
        max_length=32, blank=True, verbose_name=_("ivr prompt version")
    )
    call_id = models.CharField(max_length=128, blank=True, verbose_name=_("call id"))
    operator = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Agent or operator code."),
        verbose_name=_("operator"),
    )
    recorded_by = models.CharField(
        max_length=150,
        help_text=_("Who recorded the decision: a user or an API key."),
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded at"))

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
        verbose_name = _("consent")
        verbose_name_plural = _("consents")

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

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="legal_holds", verbose_name=_("tenant")
    )
    reference = models.CharField(
        max_length=120, help_text=_("Case or inquiry reference."), verbose_name=_("reference")
    )
    reason = bounded_text(limits.LEGAL_HOLD_REASON, verbose_name=_("reason"))
    recordings = models.ManyToManyField(
        "recordings.Recording", blank=True, related_name="legal_holds", verbose_name=_("recordings")
    )
    customer_number = models.CharField(
        max_length=16, blank=True, help_text=_("E.164"), verbose_name=_("customer number")
    )
    started_from = models.DateTimeField(null=True, blank=True, verbose_name=_("started from"))
    started_until = models.DateTimeField(null=True, blank=True, verbose_name=_("started until"))
    campaign = models.CharField(max_length=128, blank=True, verbose_name=_("campaign"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("placed by"),
    )
    placed_at = models.DateTimeField(verbose_name=_("placed at"))
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("released by"),
    )
    released_at = models.DateTimeField(null=True, blank=True, verbose_name=_("released at"))
    release_reason = bounded_text(
        limits.LEGAL_HOLD_RELEASE_REASON, blank=True, verbose_name=_("release reason")
    )

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
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")

    def __str__(self) -> str:
        # Its reference alone: the admin's log (its "Recent actions") keeps an object's name as
        # it was when the action happened, and a state in it ("active") outlives the release.
        return self.reference


class ApiKeyRequestCount(models.Model):
    """How many calls one API key made in one minute: the counter of the per-key rate limit
    (API_RATE_LIMIT_PER_MINUTE), shared by every web process through PostgreSQL. Past minutes
    are deleted by compliance.tasks.count_api_auth_failures."""

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, related_name="+", verbose_name=_("api key")
    )
    minute = models.DateTimeField(verbose_name=_("minute"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))

    class Meta:
        verbose_name = _("API key request count")
        verbose_name_plural = _("API key request counts")
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

    key_prefix = models.CharField(max_length=12, blank=True, verbose_name=_("key prefix"))
    client_ip = models.CharField(max_length=45, blank=True, verbose_name=_("client ip"))
    window_start = models.DateTimeField(verbose_name=_("window start"))
    # The tenant whose key was tried, so that its compliance officer sees the attempts.
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("tenant"),
    )
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))
    # Of `count`, those answered 429 without checking the key (past API_AUTH_FAILURE_LIMIT).
    throttled = models.PositiveIntegerField(default=0, verbose_name=_("throttled"))
    first_failed_at = models.DateTimeField(verbose_name=_("first failed at"))
    last_failed_at = models.DateTimeField(verbose_name=_("last failed at"))

    class Meta:
        verbose_name = _("failed API authentications in a window")
        verbose_name_plural = _("failed API authentications by window")
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
