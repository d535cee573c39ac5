"""Which recordings a legal hold holds, asked four ways, agrees with the rule as a person states
it, for random holds over recordings of two tenants: the holds a recording answers to (erasure,
the purge's batches), the recordings on hold, the count of what a hold holds (the legal hold
list, and the `holds_now` of the placement's audit event) and what the purge preview says holds
keep back.

The rule: a hold holds the recordings of its tenant that it names, and, when it gives any
criterion, every recording of its tenant matching all the criteria it gives: the customer
number, a call started from a given instant, up to a given instant (both inclusive), the campaign.
The explicit examples give each criterion alone, so that forgetting one anywhere fails here.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from compliance.models import LegalHold
from compliance.services.legal_holds import legal_hold_effect, legal_hold_place, legal_hold_release
from recordings.models import Recording
from recordings.services.purge.preview import purge_preview

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
NUMBERS = ("+33611111111", "+33622222222")
CAMPAIGNS = ("", "renewals", "winback")
# Days ago each recording started; the last is not expired. A hold's date range is drawn from the
# same instants, so that a range often starts or ends exactly at a call.
AGES = (430, 420, 410, 10)


def _instant(age: int):
    return NOW - timedelta(days=age)


@pytest.fixture
def population(cast):
    """Both tenants' recordings over every age and number, with campaigns varying."""
    recordings = {"acme": [], "globex": []}
    for tenant_name, own in recordings.items():
        tenant = getattr(cast, tenant_name)
        for index, age in enumerate(AGES):
            for offset, number in enumerate(NUMBERS):
                own.append(
                    ingest(
                        tenant,
                        started_at=_instant(age),
                        number=number,
                        campaign=CAMPAIGNS[(index + offset) % len(CAMPAIGNS)],
                        purpose=("quality", "training")[offset],
                    )
                )
    return recordings


def _spec(
    *,
    tenant="acme",
    named=(),
    number="",
    campaign="",
    started_from=None,
    started_until=None,
    released=False,
):
    return {
        "tenant": tenant,
        "named": list(named),
        "number": number,
        "campaign": campaign,
        "started_from": started_from,
        "started_until": started_until,
        "released": released,
    }


holds = st.lists(
    st.builds(
        _spec,
        tenant=st.sampled_from(("acme", "globex")),
        named=st.lists(st.integers(0, 20), max_size=2),
        number=st.sampled_from(("", *NUMBERS)),
        campaign=st.sampled_from(CAMPAIGNS),
        started_from=st.sampled_from((None, *AGES)),
        started_until=st.sampled_from((None, *AGES)),
        released=st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


def holds_the_recording(hold: LegalHold, named: set[int], recording: Recording) -> bool:
    """The rule, stated plainly."""
    if recording.tenant_id != hold.tenant_id:
        return False
    if recording.pk in named:
        return True
    criteria = (
        hold.customer_number,
        hold.started_from,
        hold.started_until,
        hold.campaign,
    )
    if not any(criteria):
        return False
    return (
        (not hold.customer_number or recording.customer_number == hold.customer_number)
        and (hold.started_from is None or recording.started_at >= hold.started_from)
        and (hold.started_until is None or recording.started_at <= hold.started_until)
        and (not hold.campaign or recording.campaign == hold.campaign)
    )


def _place(cast, population, spec) -> tuple[LegalHold, set[int]] | None:
    own = population[spec["tenant"]]
    named = [own[index % len(own)] for index in spec["named"]]
    start, end = spec["started_from"], spec["started_until"]
    if start is not None and end is not None and start < end:
        start, end = end, start  # "from" is the older instant
    criteria = {
        "customer_number": spec["number"],
        "campaign": spec["campaign"],
        "started_from": _instant(start) if start is not None else None,
        "started_until": _instant(end) if end is not None else None,
    }
    if not (named or any(criteria.values())):
        return None  # an empty scope is refused at placement
    hold = legal_hold_place(
        actor=cast.root,
        tenant=getattr(cast, spec["tenant"]),
        reference="Case",
        reason="Property",
        recordings=named,
        **criteria,
    )
    if spec["released"]:
        hold = legal_hold_release(actor=cast.root, hold=hold, release_reason="done")
    return hold, {recording.pk for recording in named}


@settings(
    max_examples=30,
    deadline=None,
    # The recordings are made once per test; each example's holds are rolled back (a savepoint).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=holds)
@example(specs=[_spec(named=[0, 3])])
@example(specs=[_spec(number=NUMBERS[0])])
@example(specs=[_spec(started_from=AGES[1])])
@example(specs=[_spec(started_until=AGES[1])])
@example(specs=[_spec(campaign="renewals")])
@example(specs=[_spec(tenant="globex", number=NUMBERS[1], campaign="winback")])
@example(specs=[_spec(started_from=AGES[0], started_until=AGES[2], campaign="winback")])
@example(specs=[_spec(number=NUMBERS[0], released=True), _spec(named=[1], campaign="renewals")])
def test_every_reading_of_a_holds_scope_follows_the_rule(cast, population, specs):
    with transaction.atomic():
        placed = [found for spec in specs if (found := _place(cast, population, spec))]
        recordings = list(Recording.objects.all())
        active = [(hold, named) for hold, named in placed if hold.released_at is None]

        def holding(recording: Recording) -> set[int]:
            return {
                hold.pk for hold, named in active if holds_the_recording(hold, named, recording)
            }

        # The holds a recording answers to: erasure refuses with them, the purge skips it.
        for recording in recordings:
            assert set(recording.active_holds().values_list("pk", flat=True)) == holding(
                recording
            ), recording
        held = {recording.pk for recording in recordings if holding(recording)}
        assert set(Recording.objects.on_hold().values_list("pk", flat=True)) == held
        assert set(Recording.objects.not_on_hold().values_list("pk", flat=True)) == (
            {recording.pk for recording in recordings} - held
        )

        # How many active recordings a hold holds: the list's count, and the placement's event.
        for hold, named in placed:
            expected = sum(
                1
                for recording in recordings
                if recording.status == "active" and holds_the_recording(hold, named, recording)
            )
            assert legal_hold_effect(hold) == expected, hold
            placement = AuditEvent.objects.get(action="legal_hold.placed", target_id=str(hold.pk))
            assert placement.extra["holds_now"] == expected

        # What the purge preview says the holds keep back, and what it will delete.
        expected_rows = Counter()
        for recording in recordings:
            if recording.retain_until < recording.tenant.today():
                key = (recording.tenant_id, recording.purpose.code, recording.deletion_reason)
                expected_rows[(*key, "held_back" if recording.pk in held else "to_delete")] += 1
        preview = Counter()
        for row in purge_preview(for_next_run=False):
            key = (row["tenant_id"], row["purpose"], row["reason"])
            preview[(*key, "held_back")] += row["held_back"]
            preview[(*key, "to_delete")] += row["to_delete"]
        assert +preview == expected_rows
        transaction.set_rollback(True)
