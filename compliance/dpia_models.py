"""The data-protection impact assessment of a purpose of large-scale recording (GDPR Art. 35):
what only people can write (necessity, proportionality, the DPO's opinion), versioned with
django-simple-history. Its printable summary adds what Custodia knows already (the legal basis,
the retention, the minimisation, the risks and measures): compliance/register/dpia.py.

Imported by compliance/models.py, so that Django registers the model with the app.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kit import limits
from kit.limits import bounded_text

from .date_window import validate_in_date_window


class Dpia(models.Model):
    tenant = models.ForeignKey(
        "compliance.Tenant",
        on_delete=models.PROTECT,
        related_name="dpias",
        verbose_name=_("tenant"),
    )
    purpose = models.ForeignKey(
        "compliance.Purpose",
        verbose_name=_("purpose"),
        on_delete=models.PROTECT,
        related_name="dpias",
    )
    necessity = bounded_text(
        limits.DPIA_TEXT,
        verbose_name=_("necessity"),
        help_text=_("Why recording calls is necessary for this purpose (Art. 35(7)(b))."),
    )
    proportionality = bounded_text(
        limits.DPIA_TEXT,
        verbose_name=_("proportionality"),
        blank=True,
        help_text=_(
            "Beyond what the summary states itself (retention, masked numbers): sampling, "
            "who listens, what callers are told."
        ),
    )
    dpo_name = models.CharField(_("data protection officer"), max_length=200, blank=True)
    dpo_opinion = bounded_text(limits.DPIA_TEXT, verbose_name=_("DPO's opinion"), blank=True)
    dpo_opinion_on = models.DateField(
        _("opinion given on"),
        null=True,
        blank=True,
        validators=[validate_in_date_window],
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("DPIA")
        verbose_name_plural = _("DPIAs")
        ordering = ("tenant__name", "purpose__name")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "purpose"), name="dpia_one_per_purpose")
        ]

    def __str__(self) -> str:
        return str(_("DPIA: %(purpose)s")) % {"purpose": self.purpose}
