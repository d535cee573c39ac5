"""Do-not-call screening: the lists (full lists in versions, with their entries), a tenant's
internal opt-outs added one by one, campaigns with their numbers, and the screenings of a
campaign's file by the services that never hand out their list (Bloctel, Lista Robinson).

Numbers are stored as E.164 without the "+" in a `bigint` (the lists hold tens of millions of
them: 8 bytes each, compared as integers); `compliance/dnc_numbers.py` converts. The rule of each
source lives in `compliance/dnc_sources.py`.

The entries of every version of every full list are one table partitioned by version
(`compliance_dncentry`, created by the migration): a new version is loaded into a table of its
own beside the one in force and attached, in the transaction that makes it the version in force;
the superseded version's partition is dropped whole.

Imported by compliance/models.py, so that Django registers these models with the app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kit import limits
from kit.limits import bounded_text
from kit.masking import mask_number

from .dnc_sources import DncSource, stale_after

# compliance/models.py imports this module at its end, once LegalBasis is defined.
from .models import LegalBasis  # noqa: E402


class DncListStatus(models.TextChoices):
    BUILDING = "building", _("Importing")
    IN_FORCE = "in_force", _("In force")
    SUPERSEDED = "superseded", _("Superseded")
    FAILED = "failed", _("Failed")


class DncListQuerySet(models.QuerySet):
    def in_force(self) -> DncListQuerySet:
        return self.filter(status=DncListStatus.IN_FORCE)


class DncList(models.Model):
    """One version of a full do-not-call list: platform-wide (TPS, CTPS) or a tenant's own."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        verbose_name=_("tenant"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dnc_lists",
        help_text=_("Empty for a list every tenant screens against (TPS, CTPS)."),
    )
    source = models.CharField(_("source"), max_length=16, choices=DncSource.choices)
    version = models.CharField(
        _("version"),
        max_length=120,
        help_text=_("As the list's provider names it."),
    )
    delivered_at = models.DateTimeField(
        _("delivered at"),
        help_text=_("When the provider produced this version."),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=DncListStatus.choices,
        default=DncListStatus.BUILDING,
    )
    started_at = models.DateTimeField(_("import started at"), auto_now_add=True)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    entry_count = models.PositiveBigIntegerField(_("numbers"), default=0)
    lines_read = models.PositiveBigIntegerField(_("lines read"), default=0)
    bytes_read = models.PositiveBigIntegerField(_("bytes read"), default=0)
    file_size = models.PositiveBigIntegerField(_("file size"), default=0)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, blank=True)
    rejected_count = models.PositiveBigIntegerField(_("rejected lines"), default=0)
    # How many rejected lines the import accepts (reported); one more and the file is refused.
    rejected_allowed = models.PositiveIntegerField(_("rejected lines allowed"), default=0)
    # The first rejected lines, each {"line": n, "reason": "..."} (the count says how many in all).
    rejected_lines = models.JSONField(_("rejected lines (first ones)"), default=list, blank=True)
    failure = bounded_text(limits.DNC_FAILURE, verbose_name=_("why the import failed"), blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    imported_by_label = models.CharField(_("imported by"), max_length=150, blank=True)

    objects = DncListQuerySet.as_manager()

    class Meta:
        verbose_name = _("do-not-call list")
        verbose_name_plural = _("do-not-call lists")
        ordering = ("source", "-started_at")
        constraints = [
            # One version in force per list (a platform list has no tenant: NULLs are equal).
            models.UniqueConstraint(
                fields=("source", "tenant"),
                condition=Q(status="in_force"),
                nulls_distinct=False,
                name="dnc_list_one_version_in_force",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.version}"

    @property
    def stale_since(self):
        """When this version stopped being fresh enough to screen against (its source's
        rule, from its delivery); None for a list that never goes stale."""
        return stale_after(self.source, self.delivered_at)

    @property
    def progress(self) -> int:
        """How much of the file has been read, in percent (while it is imported)."""
        if not self.file_size:
            return 0
        return min(100, self.bytes_read * 100 // self.file_size)


class DncEntry(models.Model):
    """A number of one list version. The table is partitioned by `list` (see the module's
    docstring); Django reads it but never creates or writes it through migrations' DDL."""

    pk = models.CompositePrimaryKey("list_id", "number")
    list = models.ForeignKey(
        DncList, on_delete=models.DO_NOTHING, related_name="+", verbose_name=_("list")
    )
    number = models.BigIntegerField(verbose_name=_("number"))

    class Meta:
        managed = False
        db_table = "compliance_dncentry"
        verbose_name = _("do-not-call entry")
        verbose_name_plural = _("do-not-call entries")

    def __str__(self) -> str:
        return f"+{self.number}"


class OptOutChannel(models.TextChoices):
    ADMIN = "admin", _("Entered by staff")
    API = "api", _("Sent by the dialer")
    CONSENT = "consent", _("Refused marketing in a consent decision")


class DncOptOut(models.Model):
    """A number a tenant's customer asked never to be called for marketing again. Never expires;
    a full import of the tenant's internal list does not replace these."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        verbose_name=_("tenant"),
        on_delete=models.PROTECT,
        related_name="dnc_opt_outs",
    )
    number = models.CharField(_("number"), max_length=16, help_text=_("E.164"))
    channel = models.CharField(_("received"), max_length=10, choices=OptOutChannel.choices)
    consent = models.ForeignKey(
        "compliance.Consent",
        verbose_name=_("consent decision"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = bounded_text(limits.DNC_NOTE, verbose_name=_("note"), blank=True)
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)
    added_by = models.CharField(_("added by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("internal opt-out")
        verbose_name_plural = _("internal opt-outs")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "number"), name="dnc_opt_out_once"),
        ]

    def __str__(self) -> str:
        # Masked as everywhere a list or the trail names a customer's number.
        return f"{self.tenant}: {mask_number(self.number)}"


class Campaign(models.Model):
    tenant = models.ForeignKey(
        "compliance.Tenant",
        verbose_name=_("tenant"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    name = models.CharField(_("name"), max_length=160)
    purpose = models.ForeignKey(
        "compliance.Purpose",
        verbose_name=_("purpose"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    legal_basis = models.CharField(_("legal basis"), max_length=32, choices=LegalBasis.choices)
    sources = models.JSONField(
        _("lists that apply"),
        default=list,
        help_text=_("Source codes; set from the tenant's country and the numbers' countries."),
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    number_count = models.PositiveIntegerField(_("numbers"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ("-starts_on", "name")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "name"), name="campaign_name_per_tenant"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="campaign_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignNumber(models.Model):
    """A number of a campaign's file. `added_at` tells which screenings covered it: a number
    added after a screening's file was exported is unscreened until the next one."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="numbers", verbose_name=_("campaign")
    )
    number = models.BigIntegerField(_("number"))
    country = models.CharField(_("country"), max_length=2)
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("campaign number")
        verbose_name_plural = _("campaign numbers")
        constraints = [
            models.UniqueConstraint(fields=("campaign", "number"), name="campaign_number_once"),
        ]

    def __str__(self) -> str:
        return f"+{str(self.number)[:-4]}····"


class ScreeningStatus(models.TextChoices):
    SUBMITTED = "submitted", _("File exported, awaiting the answer")
    ANSWERED = "answered", _("Answer imported")


class Screening(models.Model):
    """A campaign's file as submitted to a service that keeps its list (Bloctel, Robinson), and
    the service's answer: the numbers to remove."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="screenings"
    )
    source = models.CharField(_("source"), max_length=16, choices=DncSource.choices)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ScreeningStatus.choices,
        default=ScreeningStatus.SUBMITTED,
    )
    exported_at = models.DateTimeField(_("file exported at"))
    exported_count = models.PositiveIntegerField(_("numbers submitted"), default=0)
    export_sha256 = models.CharField(_("submitted file SHA-256"), max_length=64, blank=True)
    screened_at = models.DateTimeField(
        _("screened at"),
        null=True,
        blank=True,
        help_text=_("The date of the service's answer."),
    )
    answer_file_name = models.CharField(_("answer file"), max_length=255, blank=True)
    answer_sha256 = models.CharField(_("answer file SHA-256"), max_length=64, blank=True)
    removed_count = models.PositiveIntegerField(_("numbers to remove"), default=0)
    exported_by = models.CharField(_("exported by"), max_length=150, blank=True)
    answered_by = models.CharField(_("answer imported by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")
        ordering = ("-exported_at",)
        indexes = [
            models.Index(fields=("campaign", "source", "-screened_at"), name="screening_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} — {self.campaign}"


class ScreeningRemoval(models.Model):
    """A number the service's answer says must not be called."""

    screening = models.ForeignKey(
        Screening, on_delete=models.CASCADE, related_name="removals", verbose_name=_("screening")
    )
    number = models.BigIntegerField(verbose_name=_("number"))

    class Meta:
        verbose_name = _("number to remove")
        verbose_name_plural = _("numbers to remove")
        constraints = [
            models.UniqueConstraint(fields=("screening", "number"), name="screening_removal_once"),
        ]

    def __str__(self) -> str:
        return f"+{str(self.number)[:-4]}····"


class DncScrub(models.Model):
    """A file of numbers scrubbed for a campaign through the API (POST /api/v1/dnc/scrub): its
    counts, and its removed rows with their reasons, kept encrypted for download until
    `expires_at` (compliance/services/dnc_scrubs.py). The callable rows are the response itself
    and are not kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "compliance.Tenant",
        verbose_name=_("tenant"),
        on_delete=models.PROTECT,
        related_name="dnc_scrubs",
    )
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="scrubs"
    )
    api_key_prefix = models.CharField(_("API key"), max_length=16)
    created_at = models.DateTimeField(_("scrubbed at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("removed rows kept until"))
    rows_read = models.PositiveBigIntegerField(_("rows read"), default=0)
    callable_count = models.PositiveBigIntegerField(_("callable rows"), default=0)
    removed_count = models.PositiveBigIntegerField(_("removed rows"), default=0)
    # {"bloctel": 12, "internal": 3, "invalid_number": 1}: a row may count under several.
    removed_by_reason = models.JSONField(_("removed by reason"), default=dict, blank=True)
    file_name = models.CharField(_("removed rows' file"), max_length=255, blank=True)
    # The key of the removed rows' file: destroyed with the file when the scrub expires.
    file_key = models.BinaryField(_("file key"), null=True, blank=True, editable=False)
    expired_at = models.DateTimeField(_("removed rows deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("do-not-call scrub")
        verbose_name_plural = _("do-not-call scrubs")
        ordering = ("-created_at",)
        indexes = [
            models.Index(
                fields=("expires_at",),
                name="dnc_scrub_to_expire",
                condition=Q(expired_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.rows_read} rows"
