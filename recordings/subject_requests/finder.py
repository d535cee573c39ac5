"""One selector for everything a tenant holds about a data subject: the recordings of the
subject's numbers or reference (any status), the consent decisions, the legal holds naming them,
and the trail's events about those recordings (who accessed them, when, why). Every step of a
request (its page's counts, the export, the erasure's preview) reads the subject's data here.

Each query is an index scan: recordings by (tenant, customer_number) and (tenant,
subject_reference), consents likewise, the holds naming the recordings by the holds' table's
recording index, events by (target_type, target_id)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from compliance.models import Consent, LegalHold, SubjectRequest

from ..models import Recording

RECORDING_TARGET = Recording._meta.label_lower


def _subject(request: SubjectRequest) -> Q:
    """On Recording or Consent: of the request's subject (a number or the reference)."""
    condition = Q(pk__in=[])
    if request.customer_numbers:
        condition |= Q(customer_number__in=request.customer_numbers)
    if request.subject_reference:
        condition |= Q(subject_reference=request.subject_reference)
    return condition


@dataclass
class SubjectData:
    """What the tenant holds about the subject of one request. Querysets, read when used."""

    request: SubjectRequest

    @cached_property
    def recordings(self) -> QuerySet[Recording]:
        return (
            Recording.objects.filter(tenant_id=self.request.tenant_id)
            .filter(_subject(self.request))
            .select_related("purpose")
            .order_by("started_at", "pk")
        )

    @cached_property
    def recording_ids(self) -> list[int]:
        return list(self.recordings.values_list("pk", flat=True))

    @cached_property
    def consents(self) -> QuerySet[Consent]:
        return (
            Consent.objects.filter(tenant_id=self.request.tenant_id)
            .filter(_subject(self.request))
            .select_related("purpose")
            .order_by("decided_at", "pk")
        )

    @cached_property
    def holds(self) -> QuerySet[LegalHold]:
        """Holds naming one of the recordings, or the subject's number (in force or released).
        The holds naming the recordings are found from the recordings' side of the holds'
        table (its recording index), not by joining every hold to all it names: a hold by
        campaign names tens of thousands of recordings, which a join would read on every
        lookup (benchmarks/subject_lookup.py, figure 5c)."""
        naming = LegalHold.recordings.through.objects.filter(recording_id__in=self.recording_ids)
        names = Q(pk__in=naming.values("legalhold_id"))
        if self.request.customer_numbers:
            names |= Q(customer_number__in=self.request.customer_numbers)
        return (
            LegalHold.objects.filter(tenant_id=self.request.tenant_id)
            .filter(names)
            .order_by("placed_at", "pk")
        )

    @cached_property
    def access_events(self) -> QuerySet[AuditEvent]:
        """The trail's events about the recordings: who accessed them (or was refused), when,
        for which purpose and why."""
        return AuditEvent.objects.filter(
            target_type=RECORDING_TARGET, target_id__in=[str(pk) for pk in self.recording_ids]
        ).order_by("sequence")

    def counts(self) -> dict[str, int]:
        """What the request's page shows before anything is done."""
        return {
            "recordings": len(self.recording_ids),
            "active_recordings": self.recordings.filter(status="active").count(),
            "consents": self.consents.count(),
            "holds": self.holds.count(),
            "active_holds": self.holds.filter(released_at__isnull=True).count(),
            "access_events": self.access_events.count(),
        }


def subject_data_find(request: SubjectRequest) -> SubjectData:
    return SubjectData(request)
