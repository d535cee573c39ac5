"""The risk analysis of a tenant's recording processing (GDPR Art. 24, 32, 35(7)(c),(d)): each
risk a threat with its likelihood and severity on the CNIL PIA scale (1 to 4), the measures that
answer it, and the residual risk once they are in place.

Shipped defaults for a contact centre are in compliance/risk_defaults.py; a tenant adopts them
(`compliance/services/risks.py::risk_defaults_adopt`) and adapts its copies.

Imported by compliance/models.py, so that Django registers these models with the app.
"""

from __future__ import annotations

from datetime import date

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from kit import limits
from kit.limits import bounded_text


class Scale(models.IntegerChoices):
    """The CNIL's PIA scale, for severity and for likelihood alike (CNIL, « PIA, la
    méthode », 2018: négligeable, limitée, importante, maximale)."""

    NEGLIGIBLE = 1, _("1 — Negligible")
    LIMITED = 2, _("2 — Limited")
    SIGNIFICANT = 3, _("3 — Significant")
    MAXIMUM = 4, _("4 — Maximum")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MODERATE = "moderate", _("Moderate")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


def risk_level(likelihood: int | None, severity: int | None) -> RiskLevel | None:
    """The level of a risk from its likelihood and severity (1 to 4 each): their product, in
    bands, so that a risk maximal on one axis and negligible on the other (4) stays below one
    significant on both (9). Our reading of the CNIL's risk map, which asks that risks of high
    severity and likelihood be reduced first; None when either is not assessed."""
    if not likelihood or not severity:
        return None
    product = likelihood * severity
    if product <= 2:
        return RiskLevel.LOW
    if product <= 4:
        return RiskLevel.MODERATE
    if product <= 8:
        return RiskLevel.HIGH
    return RiskLevel.CRITICAL


SCALE_VALIDATORS = [MinValueValidator(1), MaxValueValidator(4)]


class Risk(models.Model):
    tenant = models.ForeignKey(
        "compliance.Tenant",
        on_delete=models.PROTECT,
        related_name="risks",
        verbose_name=_("tenant"),
    )
    default_code = models.SlugField(
        _("adopted from"),
        max_length=60,
        blank=True,
        editable=False,
        help_text=_("The shipped default this risk was adopted from, if any."),
    )
    threat = models.CharField(_("threat"), max_length=200)
    description = bounded_text(
        limits.RISK_TEXT,
        verbose_name=_("what could happen"),
        blank=True,
        help_text=_("The risk source, what it does, and what it means for the callers."),
    )
    likelihood = models.PositiveSmallIntegerField(
        _("likelihood"),
        choices=Scale.choices,
        validators=SCALE_VALIDATORS,
    )
    severity = models.PositiveSmallIntegerField(
        _("severity"),
        choices=Scale.choices,
        validators=SCALE_VALIDATORS,
    )
    residual_likelihood = models.PositiveSmallIntegerField(
        _("residual likelihood"),
        choices=Scale.choices,
        validators=SCALE_VALIDATORS,
        null=True,
        blank=True,
        help_text=_("Once the measures are in place."),
    )
    residual_severity = models.PositiveSmallIntegerField(
        _("residual severity"),
        choices=Scale.choices,
        validators=SCALE_VALIDATORS,
        null=True,
        blank=True,
        help_text=_("Once the measures are in place."),
    )
    owner = models.CharField(_("owner"), max_length=200, help_text=_("Who answers for it."))
    review_on = models.DateField(_("review date"))

    class Meta:
        ordering = ("tenant__name", "threat")
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "default_code"),
                condition=~models.Q(default_code=""),
                name="risk_default_adopted_once",
            ),
            # The admin's forms refuse these with a message; no path may store them.
            models.CheckConstraint(
                condition=models.Q(likelihood__range=(1, 4), severity__range=(1, 4)),
                name="risk_on_the_scale",
            ),
        ]
        verbose_name = _("risk")
        verbose_name_plural = _("risks")

    def __str__(self) -> str:
        return self.threat

    @property
    def level(self) -> RiskLevel | None:
        return risk_level(self.likelihood, self.severity)

    @property
    def residual_level(self) -> RiskLevel | None:
        return risk_level(self.residual_likelihood, self.residual_severity)

    def review_overdue(self, today: date) -> bool:
        return self.review_on < today


class MeasureStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PLACE = "in_place", _("In place")
    VERIFIED = "verified", _("Verified")


class EvidenceLink(models.TextChoices):
    """Evidence a measure may point to in Custodia itself, read live when the analysis is shown
    (compliance/evidence.py)."""

    NONE = "", _("None")
    RETENTION_POLICY = "retention_policy", _("The retention policies in force")
    LEGAL_HOLDS = "legal_holds", _("The legal holds in force")
    CHAIN_VERIFICATION = "chain_verification", _("The last verification of the audit chain")
    PURGE_RUN = "purge_run", _("The last purge run")


class Measure(models.Model):
    risk = models.ForeignKey(
        Risk, on_delete=models.CASCADE, related_name="measures", verbose_name=_("risk")
    )
    action = bounded_text(limits.RISK_TEXT, verbose_name=_("what is done"))
    done_by = models.CharField(_("by whom"), max_length=200)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=MeasureStatus.choices,
        default=MeasureStatus.PLANNED,
    )
    due_on = models.DateField(
        _("due on"),
        null=True,
        blank=True,
        help_text=_("Required while it is planned."),
    )
    evidence = bounded_text(limits.RISK_TEXT, verbose_name=_("evidence"), blank=True)
    evidence_link = models.CharField(
        _("live evidence in Custodia"),
        max_length=32,
        choices=EvidenceLink.choices,
        blank=True,
        default=EvidenceLink.NONE,
    )

    class Meta:
        ordering = ("risk", "pk")
        verbose_name = _("measure")
        verbose_name_plural = _("measures")

    def __str__(self) -> str:
        return self.action[:80]

    def overdue(self, today: date) -> bool:
        return (
            self.status == MeasureStatus.PLANNED and self.due_on is not None and self.due_on < today
        )
