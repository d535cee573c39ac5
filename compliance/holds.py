"""Which recordings a legal hold holds: the one statement of the rule.

A hold holds the recordings of its tenant that it names and, when it gives any criterion, every
recording of its tenant that matches all the criteria it gives (recordings arriving later too).
The criteria are listed once, in CRITERIA. Everything that asks the question is built from here:

- `holds_holding`: the active holds holding one recording (values, or OuterRefs for an Exists()
  subquery): the purge's batches, erasure and ingestion, through RecordingQuerySet.on_hold() and
  Recording.active_holds();
- `held_by`, `named_by` and `matching_criteria`: the recordings a hold holds, as conditions on
  Recording: the count of what a hold holds
  (compliance.services.legal_holds.legal_hold_effect) and the purge preview's statement
  (recordings.services.purge.preview).

tests/compliance/test_hold_scope.py checks all of them against a plain statement of the rule over
random holds and recordings.

The conditions name the recording's fields as strings: compliance does not import recordings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from .models import LegalHold


@dataclass(frozen=True)
class Criterion:
    """A criterion a hold may give: when given, the recording's `recording_field` compares with
    the hold's `hold_field` by `lookup` (recording `lookup` hold)."""

    hold_field: str
    recording_field: str
    lookup: str  # "exact", "gte" or "lte"


CRITERIA = (
    Criterion("customer_number", "customer_number", "exact"),
    Criterion("started_from", "started_at", "gte"),
    Criterion("started_until", "started_at", "lte"),
    Criterion("campaign", "campaign", "exact"),
)
# A recording's fields the criteria read (besides its tenant and id): what `holds_holding` needs.
RECORDING_FIELDS = tuple(dict.fromkeys(criterion.recording_field for criterion in CRITERIA))
# The same comparison seen from the hold's side: recording >= hold is hold <= recording.
_FROM_THE_HOLD = {"exact": "exact", "gte": "lte", "lte": "gte"}


def _not_given(criterion: Criterion) -> Q:
    """On LegalHold: the hold does not give this criterion (a blank text or no date)."""
    if LegalHold._meta.get_field(criterion.hold_field).null:
        return Q(**{f"{criterion.hold_field}__isnull": True})
    return Q(**{criterion.hold_field: ""})


def given_criteria(hold: LegalHold) -> list[tuple[Criterion, Any]]:
    """The criteria this hold gives, with its values."""
    return [
        (criterion, value)
        for criterion in CRITERIA
        if (value := getattr(hold, criterion.hold_field)) not in (None, "")
    ]


def _hold_matches(criterion: Criterion, value) -> Q:
    """On LegalHold: the hold does not give this criterion, or a recording's `value` meets it."""
    lookup = f"{criterion.hold_field}__{_FROM_THE_HOLD[criterion.lookup]}"
    return _not_given(criterion) | Q(**{lookup: value})


def holds_holding(*, tenant, pk, **recording):
    """The active holds of a tenant that hold a recording: explicitly, or because it matches
    every criterion the hold gives. The recording is given by its tenant, its pk and its
    RECORDING_FIELDS, as values or as OuterRefs for a subquery."""
    no_criteria = Q(*(_not_given(criterion) for criterion in CRITERIA))
    matches_criteria = (
        _hold_matches(criterion, recording[criterion.recording_field]) for criterion in CRITERIA
    )
    return LegalHold.objects.filter(tenant=tenant, released_at__isnull=True).filter(
        Q(recordings=pk) | Q(~no_criteria, *matches_criteria)
    )


def named_by(hold_ids: Iterable[int]) -> Q:
    """On Recording: named by one of these holds. A subquery rather than a join, so that a
    recording named by several holds is still one row."""
    named = LegalHold.recordings.through.objects.filter(legalhold_id__in=list(hold_ids))
    return Q(pk__in=named.values("recording_id"))


def matching_criteria(hold: LegalHold) -> Q | None:
    """On Recording: matching every criterion this hold gives; None when it gives none (it then
    holds only the recordings it names)."""
    given = given_criteria(hold)
    if not given:
        return None
    return Q(
        *(
            Q(**{f"{criterion.recording_field}__{criterion.lookup}": value})
            for criterion, value in given
        )
    )


def held_by(hold: LegalHold) -> Q:
    """On Recording: the recordings this hold holds (whatever their status, and whether or not
    the hold is still in force)."""
    scope = named_by([hold.pk])
    criteria = matching_criteria(hold)
    if criteria is not None:
        scope |= criteria
    return Q(tenant_id=hold.tenant_id) & scope
