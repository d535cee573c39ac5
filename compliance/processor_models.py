"""Processors and sub-processors of a tenant's recordings (GDPR Art. 28), with their agreements
and, for a transfer outside the EEA, its safeguard (Art. 44 to 47).

The platform (the contact centre running Custodia) is every tenant's first processor: a row with
`is_platform`, created for each tenant (compliance/migrations/0021_processor_defaults.py for the
tenants that exist, `compliance/services/processors.py::platform_processor_ensure` for each new
one). A sub-processor names the processor it works for (`parent`): the chain is those links.

The rules on a row (its chain, its transfer, its dates) are checked by
compliance/services/processors.py::processor_check, which the admin's form and the service call.

Imported by compliance/models.py, so that Django registers these models with the app.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kit import limits
from kit.limits import bounded_text

# The European Economic Area: the 27 member states of the EU, Iceland, Liechtenstein and
# Norway (EEA Agreement). A transfer to any other country needs a safeguard of Chapter V.
EEA_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
    "IS LI NO".split()
)

# How far ahead a review of an agreement is flagged (the admin index, the daily e-mail).
REVIEW_NOTICE_DAYS = 30


class ProcessorStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    ENDED = "ended", _("Ended")


class TransferSafeguard(models.TextChoices):
    """GDPR Chapter V: what makes a transfer outside the EEA lawful."""

    NONE = "", _("None (inside the EEA)")
    ADEQUACY = "adequacy", _("Adequacy decision (Art. 45)")
    SCC = "scc", _("Standard contractual clauses (Art. 46(2)(c))")
    BCR = "bcr", _("Binding corporate rules (Art. 47)")


class ProcessorFlag(models.TextChoices):
    """Why a processor needs the compliance officer's attention (the admin index, the e-mail)."""

    # The most urgent first.
    EXPIRED = "expired", _("Agreement expired")
    REVIEW_OVERDUE = "review_overdue", _("Review overdue")
    NO_AGREEMENT = "no_agreement", _("No data processing agreement on file")
    REVIEW_DUE = "review_due", _("Review due within 30 days")


class Processor(models.Model):
    tenant = models.ForeignKey(
        "compliance.Tenant",
        on_delete=models.PROTECT,
        related_name="processors",
        verbose_name=_("tenant"),
    )
    name = models.CharField(_("name"), max_length=200)
    is_platform = models.BooleanField(
        _("the platform"),
        default=False,
        editable=False,
        help_text=_("The contact centre running Custodia: every tenant's first processor."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("sub-processor of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_processors",
        help_text=_("Empty for a processor the tenant engaged itself."),
    )
    services = bounded_text(
        limits.PROCESSOR_TEXT,
        verbose_name=_("services provided"),
        blank=True,
    )
    purposes = models.ManyToManyField(
        "compliance.Purpose",
        verbose_name=_("purposes served"),
        blank=True,
        related_name="processors",
        help_text=_("None ticked: it serves every purpose of the tenant (as the platform does)."),
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        help_text=_("Where the data is processed: ISO 3166-1 alpha-2, such as FR or US."),
    )
    transfer_safeguard = models.CharField(
        _("transfer safeguard"),
        max_length=10,
        choices=TransferSafeguard.choices,
        blank=True,
        default=TransferSafeguard.NONE,
        help_text=_("Required for a country outside the EEA."),
    )
    scc_signed_on = models.DateField(
        _("standard contractual clauses signed on"),
        null=True,
        blank=True,
    )
    safeguard_reference = models.CharField(
        _("safeguard reference"),
        max_length=200,
        blank=True,
        help_text=_("E.g. Commission Implementing Decision (EU) 2021/914, module 3."),
    )
    agreement_signed_on = models.DateField(
        _("data processing agreement signed on"),
        null=True,
        blank=True,
    )
    agreement_expires_on = models.DateField(_("agreement expires on"), null=True, blank=True)
    review_due_on = models.DateField(_("review due on"), null=True, blank=True)
    security_contact = models.CharField(
        _("security contact"),
        max_length=200,
        blank=True,
        help_text=_("Who to call about a breach: name, e-mail, phone."),
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ProcessorStatus.choices,
        default=ProcessorStatus.ACTIVE,
    )

    history = HistoricalRecords(excluded_fields=["is_platform"])

    class Meta:
        ordering = ("tenant__name", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("tenant",),
                condition=models.Q(is_platform=True),
                name="processor_one_platform_per_tenant",
            ),
            models.CheckConstraint(
                condition=models.Q(is_platform=False) | models.Q(parent__isnull=True),
                name="processor_platform_is_first",
            ),
        ]
        verbose_name = _("processor")
        verbose_name_plural = _("processors")

    def __str__(self) -> str:
        return self.name

    @property
    def inside_eea(self) -> bool:
        return self.country in EEA_COUNTRIES

    def chain(self) -> list[Processor]:
        """This processor and those it works for, nearest first, up to the one the tenant
        engaged (at most as long as the chain is: a cycle is refused on save)."""
        links, seen, current = [], set(), self
        while current is not None and current.pk not in seen:
            links.append(current)
            seen.add(current.pk)
            current = current.parent
        return links

    def role_label(self) -> str:
        """ "Processor", or "Sub-processor of B ← A" naming the chain above it."""
        if self.parent_id is None:
            return str(_("Processor"))
        above = " ← ".join(link.name for link in self.chain()[1:])
        return str(_("Sub-processor of %(chain)s")) % {"chain": above}

    def flags(self, today: date) -> list[str]:
        """What needs attention on `today` (the tenant's date): an active processor without an
        agreement, an agreement expired, a review past or within REVIEW_NOTICE_DAYS days."""
        if self.status == ProcessorStatus.ENDED:
            return []
        found = []
        if self.agreement_signed_on is None:
            found.append(ProcessorFlag.NO_AGREEMENT)
        if self.agreement_expires_on is not None and self.agreement_expires_on < today:
            found.append(ProcessorFlag.EXPIRED)
        if self.review_due_on is not None:
            if self.review_due_on < today:
                found.append(ProcessorFlag.REVIEW_OVERDUE)
            elif self.review_due_on <= today + timedelta(days=REVIEW_NOTICE_DAYS):
                found.append(ProcessorFlag.REVIEW_DUE)
        order = list(ProcessorFlag)
        return sorted(found, key=order.index)


def flagged_processors_q(today: date) -> models.Q:
    """The rows `Processor.flags` may flag on `today`, as a query (the index's and the e-mail's
    first cut; `flags` says why)."""
    return ~models.Q(status=ProcessorStatus.ENDED) & (
        models.Q(agreement_signed_on__isnull=True)
        | models.Q(agreement_expires_on__lt=today)
        | models.Q(review_due_on__lte=today + timedelta(days=REVIEW_NOTICE_DAYS))
    )
