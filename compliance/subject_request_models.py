"""Data-subject requests (GDPR Art. 12 to 21): what a caller asked, against which clock, and how
it was answered. The request is compliance's; what fulfilling it does to recordings (finding,
exporting, erasing, restricting) is recordings' (recordings/subject_requests/), which sits above.

Imported by compliance/models.py, so that Django registers these models with the app.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kit import limits
from kit.limits import bounded_text
from kit.masking import mask_number


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access (Art. 15)")
    PORTABILITY = "portability", _("Portability (Art. 20)")
    ERASURE = "erasure", _("Erasure (Art. 17)")
    RECTIFICATION = "rectification", _("Rectification (Art. 16)")
    OBJECTION = "objection", _("Objection (Art. 21)")
    RESTRICTION = "restriction", _("Restriction (Art. 18)")


class RequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    VERIFYING = "verifying", _("Verifying identity")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    REFUSED = "refused", _("Refused")
    PARTIAL = "partial", _("Partially fulfilled")


OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.VERIFYING, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.REFUSED, RequestStatus.PARTIAL)


class RequestChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    POST = "post", _("Post")
    PHONE = "phone", _("Phone call")
    WEB_FORM = "web_form", _("Web form")
    IN_PERSON = "in_person", _("In person")
    API = "api", _("Front office (API)")


class VerificationMethod(models.TextChoices):
    CALL_BACK = "call_back", _("Called back on the number concerned")
    ID_DOCUMENT = "id_document", _("Identity document checked")
    CUSTOMER_ACCOUNT = "customer_account", _("Signed in to the customer account")
    KNOWN_DETAILS = "known_details", _("Details only the customer knows")
    OTHER = "other", _("Other (described in the note)")


class RequestLanguage(models.TextChoices):
    ENGLISH = "en", _("English")
    SPANISH = "es", _("Español")
    FRENCH = "fr", _("Français")


def one_month_after(day: date, months: int = 1) -> date:
    """The same day `months` calendar months later, or the last day of that month when it has no
    such day (31 January + 1 month = 28 or 29 February): how a period "of one month" ends
    (Regulation 1182/71, art. 3(2)(c)), applied to Art. 12(3)'s time limits."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deadline_expression() -> models.Expression:
    """`SubjectRequest.deadline` in SQL, to order requests by it: the first month's end plus the
    extension's months. PostgreSQL's `date + interval 'n months'` ends on the month's last day
    when it has no such day, as `one_month_after` does."""
    months = models.Func(
        models.F("extended_months"),
        template="make_interval(months => %(expressions)s)",
        output_field=models.DurationField(),
    )
    return Cast(
        models.ExpressionWrapper(models.F("due_on") + months, output_field=models.DateTimeField()),
        models.DateField(),
    )


# Open requests by the days left before their deadline (extension included), in the tenant's
# days: what the dashboard counts and the requests' list filters by.
DUE_SOON_DAYS = 7
DEADLINE_WINDOWS = ("overdue", "soon", "later")


def due_within(queryset: models.QuerySet, window: str, today_by_tenant: dict[int, date]):
    """The open requests of `queryset` whose deadline falls in `window` ("overdue": passed;
    "soon": today to DUE_SOON_DAYS days from now; "later": after that), each tenant's by its own
    `today`; tenants not in `today_by_tenant` have none. Reads the index (tenant, status,
    due_on) of the open requests, a few per tenant."""
    if window not in DEADLINE_WINDOWS:
        raise ValueError(window)
    condition = models.Q(pk__in=[])
    for tenant_id, today in today_by_tenant.items():
        soon = today + timedelta(days=DUE_SOON_DAYS)
        days = {
            "overdue": models.Q(answer_due__lt=today),
            "soon": models.Q(answer_due__gte=today, answer_due__lte=soon),
            "later": models.Q(answer_due__gt=soon),
        }[window]
        condition |= models.Q(tenant_id=tenant_id) & days
    return (
        queryset.filter(status__in=OPEN_STATUSES)
        .alias(answer_due=deadline_expression())
        .filter(condition)
    )


class SubjectRequest(models.Model):
    """One request of a data subject (the caller), from receipt to its answer."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        on_delete=models.PROTECT,
        related_name="subject_requests",
        verbose_name=_("tenant"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RequestKind.choices)
    customer_numbers = ArrayField(
        models.CharField(max_length=16),
        blank=True,
        default=list,
        verbose_name=_("customer numbers"),
        help_text=_("E.164, normalised like the recordings' numbers."),
    )
    subject_reference = models.CharField(_("subject reference"), max_length=128, blank=True)
    requester_name = models.CharField(_("requester's name"), max_length=200, blank=True)
    requester_contact = models.CharField(
        _("requester's address"),
        max_length=300,
        blank=True,
        help_text=_("Where the answer goes: an e-mail or postal address."),
    )
    language = models.CharField(
        _("language of the answer"),
        max_length=2,
        choices=RequestLanguage.choices,
        default=RequestLanguage.ENGLISH,
    )
    channel = models.CharField(_("received by"), max_length=10, choices=RequestChannel.choices)
    received_at = models.DateTimeField(_("received at"))
    due_on = models.DateField(_("due on"), help_text=_("One calendar month after receipt."))
    # Art. 12(3): up to two more months, the requester told why within the first month.
    extended_months = models.PositiveSmallIntegerField(_("extended by (months)"), default=0)
    extension_reason = bounded_text(
        limits.SUBJECT_REQUEST_TEXT, verbose_name=_("reason for the extension"), blank=True
    )
    requester_told_on = models.DateField(
        _("requester told of the extension on"),
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=RequestStatus.choices,
        default=RequestStatus.RECEIVED,
    )
    identity_method = models.CharField(
        _("identity verified by"),
        max_length=20,
        choices=VerificationMethod.choices,
        blank=True,
    )
    identity_note = bounded_text(
        limits.SUBJECT_REQUEST_TEXT, verbose_name=_("verification note"), blank=True
    )
    identity_verified_at = models.DateTimeField(_("identity verified at"), null=True, blank=True)
    identity_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("identity verified by (person)"),
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("handled by"),
    )
    api_key = models.ForeignKey(
        "compliance.ApiKey",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("received through API key"),
    )
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("same as open request"),
        help_text=_("An open request of the same kind for the same subject, found at receipt."),
    )
    # Objection (Art. 21): the legitimate-interest purpose objected to; from its acceptance new
    # recordings of the numbers for that purpose are refused at ingest.
    objection_purpose = models.ForeignKey(
        "compliance.Purpose",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("purpose objected to"),
    )
    objection_accepted_at = models.DateTimeField(_("objection accepted at"), null=True, blank=True)
    compelling_ground = bounded_text(
        limits.SUBJECT_REQUEST_TEXT,
        verbose_name=_("compelling legitimate grounds"),
        blank=True,
        help_text=_("Why existing recordings are kept despite the objection (Art. 21(1))."),
    )
    # Restriction (Art. 18): the recordings restricted, kept but not listened to (except for a
    # legal claim) and not purged, until the restriction is lifted.
    restricted_recordings = models.ManyToManyField(
        "recordings.Recording",
        blank=True,
        related_name="restrictions",
        verbose_name=_("restricted recordings"),
    )
    restricted_at = models.DateTimeField(_("restricted at"), null=True, blank=True)
    restriction_lifted_at = models.DateTimeField(_("restriction lifted at"), null=True, blank=True)
    outcome = bounded_text(limits.SUBJECT_REQUEST_TEXT, verbose_name=_("outcome"), blank=True)
    refusal_reason = bounded_text(
        limits.SUBJECT_REQUEST_TEXT,
        verbose_name=_("reason for refusing"),
        blank=True,
        help_text=_("Mandatory when the request is refused or only partly fulfilled."),
    )
    # What fulfilling it did (the erasure's report: deleted and kept, with reasons), kept on the
    # request for its answer letter.
    report = models.JSONField(_("report"), default=dict, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    history = HistoricalRecords()

    class Meta:
        ordering = ("due_on", "pk")
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        indexes = [
            models.Index(fields=("tenant", "status", "due_on"), name="subjectrequest_due"),
            GinIndex(fields=("customer_numbers",), name="subjectrequest_numbers"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(extended_months__lte=2), name="subjectrequest_extension_max"
            ),
            models.CheckConstraint(
                condition=~models.Q(customer_numbers=[]) | ~models.Q(subject_reference=""),
                name="subjectrequest_names_a_subject",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=("refused", "partial"))
                | ~models.Q(refusal_reason=""),
                name="subjectrequest_refusal_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def deadline(self) -> date:
        """The day the answer is due, extension included."""
        return one_month_after(self.due_on, self.extended_months)

    def days_left(self) -> int:
        """Days until the deadline in the tenant's days; negative once it has passed."""
        return (self.deadline - self.tenant.today()).days

    def deadline_label(self) -> str:
        """ "12 day(s) left", "due today", "overdue by 3 day(s)", "answered"."""
        if not self.is_open:
            return str(_("answered"))
        left = self.days_left()
        if left < 0:
            return str(_("overdue by %(days)d day(s)") % {"days": -left})
        if left == 0:
            return str(_("due today"))
        return str(_("%(days)d day(s) left") % {"days": left})

    @property
    def identity_verified(self) -> bool:
        return self.identity_verified_at is not None

    @property
    def restriction_in_force(self) -> bool:
        return self.restricted_at is not None and self.restriction_lifted_at is None

    def subject_display(self) -> str:
        """The subject as lists show it: numbers masked, the reference as given."""
        parts = [mask_number(number) for number in self.customer_numbers]
        if self.subject_reference:
            parts.append(self.subject_reference)
        return ", ".join(parts)
