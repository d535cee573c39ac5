"""The risk analysis (GDPR Art. 32, 35(7)): risks and their measures checked and saved with their
old and new values on the trail, the shipped defaults adopted by a tenant, and what needs the
compliance officer's attention (a review date passed, a planned measure past its due date)."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits
from kit.limits import refuse_longer_than
from kit.refusals import Refused

from ..models import Measure, Risk, Tenant
from ..risk_defaults import DEFAULT_RISKS
from ..risk_models import MeasureStatus

RISK_FIELDS = (
    "threat",
    "likelihood",
    "severity",
    "residual_likelihood",
    "residual_severity",
    "owner",
    "review_on",
)
MEASURE_FIELDS = ("risk_id", "done_by", "status", "due_on", "evidence_link")
LATEST_REVIEW = date(2100, 12, 31)


def _refuse_scale(value, *, field: str, required: bool) -> None:
    if value is None or value == "":
        if required:
            raise Refused(_("Give a value from 1 to 4."), field=field)
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4:
        raise Refused(
            _("%(value)s is not on the CNIL scale: give a value from 1 to 4.") % {"value": value},
            field=field,
        )


def risk_check(*, risk: Risk) -> None:
    """Every rule on one risk, as a Refused naming the field."""
    if not (risk.threat or "").strip():
        raise Refused(_("Name the threat."), field="threat")
    refuse_longer_than(risk.description, limits.RISK_TEXT, field="description")
    _refuse_scale(risk.likelihood, field="likelihood", required=True)
    _refuse_scale(risk.severity, field="severity", required=True)
    _refuse_scale(risk.residual_likelihood, field="residual_likelihood", required=False)
    _refuse_scale(risk.residual_severity, field="residual_severity", required=False)
    if (risk.residual_likelihood is None) != (risk.residual_severity is None):
        field = "residual_severity" if risk.residual_severity is None else "residual_likelihood"
        raise Refused(_("Assess the residual risk on both axes, or on neither."), field=field)
    if not (risk.owner or "").strip():
        raise Refused(_("Name who answers for this risk."), field="owner")
    if risk.review_on is None or not date(2000, 1, 1) <= risk.review_on <= LATEST_REVIEW:
        raise Refused(
            _("Give a review date between 2000-01-01 and %(latest)s.") % {"latest": LATEST_REVIEW},
            field="review_on",
        )


def measure_check(*, measure: Measure) -> None:
    if not (measure.action or "").strip():
        raise Refused(_("Say what is done."), field="action")
    if len(measure.action) > limits.RISK_TEXT or len(measure.evidence or "") > limits.RISK_TEXT:
        raise Refused(
            format_lazy(
                gettext_lazy("longer than {risk_text} characters"), risk_text=limits.RISK_TEXT
            ),
            field="action",
        )
    if not (measure.done_by or "").strip():
        raise Refused(_("Say who carries it out."), field="done_by")
    if measure.status == MeasureStatus.PLANNED and measure.due_on is None:
        raise Refused(_("A planned measure needs its due date."), field="due_on")
    if measure.due_on is not None and not date(2000, 1, 1) <= measure.due_on <= LATEST_REVIEW:
        raise Refused(
            _("Give a date between 2000-01-01 and %(latest)s.") % {"latest": LATEST_REVIEW},
            field="due_on",
        )


def _values(instance, fields) -> dict:
    return {name: getattr(instance, name) for name in fields}


@names_its_actor
@transaction.atomic
def risk_save(*, actor, risk: Risk, created: bool) -> Risk:
    """Create or change a risk, audited with old and new values (its description named, not
    copied)."""
    risk_check(risk=risk)
    old = None
    if not created:
        old = _values(Risk.objects.select_for_update().get(pk=risk.pk), RISK_FIELDS)
    risk.save()
    event_record(
        action="risk.created" if created else "risk.changed",
        tenant=risk.tenant_id,
        target=risk,
        extra={"old": old, "new": _values(risk, RISK_FIELDS)},
    )
    return risk


@names_its_actor
@transaction.atomic
def measure_save(*, actor, measure: Measure, created: bool) -> Measure:
    measure_check(measure=measure)
    old = None
    if not created:
        old = _values(Measure.objects.select_for_update().get(pk=measure.pk), MEASURE_FIELDS)
    measure.save()
    event_record(
        action="risk.measure_saved",
        tenant=measure.risk.tenant_id,
        target=measure.risk,
        extra={"measure": measure.pk, "old": old, "new": _values(measure, MEASURE_FIELDS)},
    )
    return measure


@names_its_actor
@transaction.atomic
def measure_delete(*, actor, measure: Measure) -> None:
    risk = measure.risk
    event_record(
        action="risk.measure_removed",
        tenant=risk.tenant_id,
        target=risk,
        extra={"measure": measure.pk, "old": _values(measure, MEASURE_FIELDS)},
    )
    measure.delete()


@names_its_actor
@transaction.atomic
def risk_defaults_adopt(*, actor, tenant: Tenant) -> list[Risk]:
    """Copy the shipped risks and their measures into the tenant's analysis, those it has not
    adopted yet (idempotent); the tenant then adapts its copies. Each risk is reviewed a year
    on; a planned measure is due in three months."""
    today = tenant.today()
    adopted = set(
        Risk.objects.filter(tenant=tenant)
        .exclude(default_code="")
        .values_list("default_code", flat=True)
    )
    created = []
    for default in DEFAULT_RISKS:
        if default.code in adopted:
            continue
        risk = Risk.objects.create(
            tenant=tenant,
            default_code=default.code,
            threat=default.threat,
            description=default.description,
            likelihood=default.likelihood,
            severity=default.severity,
            residual_likelihood=default.residual_likelihood,
            residual_severity=default.residual_severity,
            owner=default.owner,
            review_on=today + relativedelta(years=1),
        )
        Measure.objects.bulk_create(
            Measure(
                risk=risk,
                action=measure.action,
                done_by=measure.done_by,
                status=measure.status,
                due_on=today + relativedelta(months=3)
                if measure.status == MeasureStatus.PLANNED
                else None,
                evidence=measure.evidence,
                evidence_link=measure.evidence_link,
            )
            for measure in default.measures
        )
        created.append(risk)
    event_record(
        action="risk.defaults_adopted",
        tenant=tenant.pk,
        target=tenant,
        extra={"adopted": [risk.default_code for risk in created]},
    )
    return created


def risk_flags(risk: Risk, today: date) -> list[str]:
    """Why a risk needs attention on `today`: its review date passed, a measure planned past its
    due date (its measures read from the prefetched relation)."""
    found = []
    if risk.review_overdue(today):
        found.append(str(_("Review date passed (%(date)s)")) % {"date": risk.review_on})
    late = [measure for measure in risk.measures.all() if measure.overdue(today)]
    if late:
        found.append(
            str(_("%(count)d planned measure(s) past their due date")) % {"count": len(late)}
        )
    return found


def risks_flagged(queryset) -> list[tuple[Risk, list[str]]]:
    """The risks of `queryset` needing attention, each with why, on its tenant's date."""
    # A first cut on the latest date anywhere (a day ahead of the server's); then each tenant's
    # own date decides.
    cut = timezone.localdate() + timedelta(days=1)
    due = Q(review_on__lt=cut) | Q(measures__status=MeasureStatus.PLANNED, measures__due_on__lt=cut)
    rows = queryset.filter(due).distinct().select_related("tenant").prefetch_related("measures")
    found = []
    for risk in rows:
        flags = risk_flags(risk, risk.tenant.today())
        if flags:
            found.append((risk, flags))
    return found
