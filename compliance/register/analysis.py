"""The risk analysis of a tenant (GDPR Art. 32, 35(7)(c),(d)) and the summary of a DPIA (Art.
35(7)), as their printable pages show them: each risk with its level, its measures with their
live evidence (compliance/evidence.py) and what is overdue; the DPIA's purpose with what Custodia
knows of its legal basis, retention and minimisation."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from ..evidence import Evidence, evidence_for
from ..models import Dpia, Measure, RetentionPolicy, Risk, Tenant
from ..services.risks import risk_flags
from .build import retention_of, retention_text


@dataclass
class MeasureShown:
    measure: Measure
    evidence: Evidence | None
    overdue: bool


@dataclass
class RiskShown:
    risk: Risk
    flags: list[str]
    measures: list[MeasureShown] = field(default_factory=list)


def risk_analysis(tenant: Tenant) -> list[RiskShown]:
    """The tenant's risks, highest level first, with their measures and flags (on the tenant's
    date); each kind of live evidence is read once."""
    today = tenant.today()
    evidence_read: dict[str, Evidence | None] = {}
    shown = []
    for risk in Risk.objects.filter(tenant=tenant).prefetch_related("measures"):
        entry = RiskShown(risk, risk_flags(risk, today))
        for measure in risk.measures.all():
            kind = measure.evidence_link
            if kind and kind not in evidence_read:
                evidence_read[kind] = evidence_for(kind, tenant)
            entry.measures.append(
                MeasureShown(measure, evidence_read.get(kind), measure.overdue(today))
            )
        shown.append(entry)
    shown.sort(
        key=lambda entry: (-(entry.risk.likelihood * entry.risk.severity), entry.risk.threat)
    )
    return shown


def dpia_retention(dpia: Dpia) -> dict:
    """The erasure time limit of the DPIA's purpose for its tenant, as the register states it."""
    policies = list(
        RetentionPolicy.objects.filter(purpose=dpia.purpose, active=True).filter(
            Q(tenant=dpia.tenant) | Q(tenant__isnull=True)
        )
    )
    retention = retention_of(dpia.purpose, policies, dpia.tenant)
    return {**retention, "text": retention_text(retention, "en")}
