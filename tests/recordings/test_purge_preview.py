"""The purge preview is a legal statement: its counts are exactly what the run deletes and what
legal holds keep back, per tenant, purpose and reason — with holds of every kind."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from compliance.services.consents import consent_record
from compliance.services.legal_holds import legal_hold_place, legal_hold_release
from recordings.models import DeletionCertificate, Recording
from recordings.services.purge.preview import purge_preview
from recordings.services.purge.run import purge_expired_recordings

from .helpers import ingest

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _days_ago(days: int):
    return NOW - timedelta(days=days)


def _by_group(rows) -> dict[tuple, tuple[int, int]]:
    return {
        (row["tenant_id"], row["purpose"], row["reason"]): (row["to_delete"], row["held_back"])
        for row in rows
    }


def test_preview_counts_are_what_the_run_deletes_and_what_holds_keep_back(cast):
    # Acme, expired: quality and training calls of three callers over three months.
    named = ingest(cast.acme, started_at=_days_ago(400), number="+33611111111")
    by_number = [
        ingest(cast.acme, started_at=_days_ago(days), number="+33622222222", purpose=purpose)
        for days, purpose in ((420, "quality"), (430, "training"))
    ]
    in_range = [
        ingest(cast.acme, started_at=_days_ago(days), number="+33633333333") for days in (500, 505)
    ]
    in_campaign = ingest(
        cast.acme, started_at=_days_ago(450), number="+33644444444", campaign="renewals"
    )
    free = [
        ingest(cast.acme, started_at=_days_ago(days), number="+33655555555", purpose=purpose)
        for days, purpose in ((440, "quality"), (460, "training"), (510, "quality"))
    ]
    # Named by one hold and matching another: held once.
    both = ingest(cast.acme, started_at=_days_ago(503), number="+33622222222")
    # Matches only the released hold's campaign.
    released_campaign = ingest(
        cast.acme, started_at=_days_ago(470), number="+33666666666", campaign="winback"
    )
    # A telemarketing call whose caller withdrew: expired now, reason "consent_withdrawn".
    consent_record(
        recorded_by="ivr",
        tenant=cast.acme,
        customer_number="+33677777777",
        purpose_code="telemarketing",
        decision="granted",
        decided_at=_days_ago(3),
        channel="ivr",
    )
    withdrawn = ingest(
        cast.acme, started_at=_days_ago(2), number="+33677777777", purpose="telemarketing"
    )
    consent_record(
        recorded_by="web",
        tenant=cast.acme,
        customer_number="+33677777777",
        purpose_code="telemarketing",
        decision="withdrawn",
        decided_at=_days_ago(1),
        channel="web_form",
    )
    # Acme, live: named and matching holds too, but not expired (neither deleted nor counted).
    live_named = ingest(cast.acme, started_at=_days_ago(10), number="+33622222222")
    # Globex, expired, with the number Acme's hold names: another tenant's hold holds nothing here.
    globex = [
        ingest(cast.globex, started_at=_days_ago(400), number="+33622222222") for _ in range(2)
    ]

    hold = {"actor": cast.alice, "tenant": cast.acme, "reason": "Litigation"}
    legal_hold_place(**hold, reference="Named", recordings=[named, both, live_named])
    legal_hold_place(**hold, reference="Caller", customer_number="06 22 22 22 22")
    legal_hold_place(
        **hold,
        reference="Period",
        started_from=_days_ago(506),
        started_until=_days_ago(499),
    )
    legal_hold_place(
        **hold,
        reference="Campaign",
        campaign="renewals",
        started_from=_days_ago(460),
        started_until=_days_ago(440),
    )
    released = legal_hold_place(**hold, reference="Old", campaign="winback")
    legal_hold_release(actor=cast.alice, hold=released, release_reason="settled")

    preview = purge_preview(for_next_run=False)
    held = {named, *by_number, *in_range, in_campaign, both}
    deleted = {*free, released_campaign, withdrawn, *globex}
    assert _by_group(preview) == {
        (cast.acme.pk, "quality", "expired"): (3, 6),
        (cast.acme.pk, "training", "expired"): (1, 1),
        (cast.acme.pk, "telemarketing", "consent_withdrawn"): (1, 0),
        (cast.globex.pk, "quality", "expired"): (2, 0),
    }
    assert sum(row["held_back"] for row in preview) == len(held)

    run = purge_expired_recordings()

    certificates = Counter(
        (tenant_id, purpose, reason)
        for tenant_id, purpose, reason in DeletionCertificate.objects.filter(
            purge_run=run
        ).values_list("tenant_id", "purpose_code", "reason")
    )
    remaining = Counter(
        (tenant_id, purpose, reason)
        for tenant_id, purpose, reason in Recording.objects.filter(
            retain_until__lt=timezone.localdate()
        ).values_list("tenant_id", "purpose__code", "deletion_reason")
    )
    for group, (to_delete, held_back) in _by_group(preview).items():
        assert certificates[group] == to_delete, group
        assert remaining[group] == held_back, group
    assert run.purged == sum(row["to_delete"] for row in preview) == len(deleted)
    assert set(Recording.objects.values_list("pk", flat=True)) == {
        recording.pk for recording in (*held, live_named)
    }


def test_preview_with_no_holds_and_nothing_expired(cast):
    ingest(cast.acme)
    assert purge_preview() == []
    ingest(cast.globex, started_at=_days_ago(400), number="+34612345678")
    assert _by_group(purge_preview(for_next_run=False)) == {
        (cast.globex.pk, "quality", "expired"): (1, 0)
    }


@pytest.mark.django_db(transaction=True)
def test_expired_counts_are_read_from_the_expiry_index_alone(cast):
    """At 10 million recordings the counts must not visit the table's rows: the partial index
    recording_tenant_expiry carries the purpose and the reason they are grouped by. With the
    table vacuumed (as autovacuum keeps it) and scans of the whole table or of a bitmap switched
    off, the planner reads the counts from that index alone."""
    for days in (400, 401, 402):
        ingest(cast.acme, started_at=_days_ago(days))
    statements = []

    def capture(execute, sql, params, many, context):
        if "AS totals" in sql:
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        purge_preview(for_next_run=False)
    assert len(statements) == 1
    sql, params = statements[0]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) recordings_recording")
        with transaction.atomic():
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using recording_tenant_expiry" in plan, plan


# --- property: the preview agrees with the purge's own test, whatever the holds ----------------

NUMBERS = ("+33611111111", "+33622222222", "+33633333333")
CAMPAIGNS = ("", "renewals", "winback")
AGES = (400, 410, 420, 430, 10)  # days; the last is not expired

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    # The recordings are made once per test; each example's holds are rolled back (a savepoint).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

holds = st.lists(
    st.fixed_dictionaries(
        {
            "tenant": st.sampled_from(("acme", "globex")),
            "named": st.lists(st.integers(0, 40), max_size=3),
            "number": st.sampled_from(("", *NUMBERS)),
            "campaign": st.sampled_from(CAMPAIGNS),
            "started_from": st.sampled_from((None, *AGES)),
            "started_until": st.sampled_from((None, *AGES)),
            "released": st.booleans(),
        }
    ),
    max_size=5,
)


@pytest.fixture
def population(cast):
    """Recordings of both tenants over every number, campaign and age."""
    recordings = {"acme": [], "globex": []}
    for index, age in enumerate(AGES):
        for tenant_name in recordings:
            tenant = getattr(cast, tenant_name)
            recordings[tenant_name].append(
                ingest(
                    tenant,
                    started_at=_days_ago(age) + timedelta(minutes=index),
                    number=NUMBERS[index % len(NUMBERS)],
                    campaign=CAMPAIGNS[index % len(CAMPAIGNS)],
                    purpose=("quality", "training")[index % 2],
                )
            )
    return recordings


@PROPERTY_SETTINGS
@given(specs=holds)
def test_preview_agrees_with_the_purges_own_selection(cast, population, specs):
    with transaction.atomic():
        for spec in specs:
            tenant = getattr(cast, spec["tenant"])
            own = population[spec["tenant"]]
            named = [own[index % len(own)] for index in spec["named"]]
            start, end = spec["started_from"], spec["started_until"]
            if start is not None and end is not None and start < end:
                start, end = end, start  # "from" is the older instant
            criteria = {
                "customer_number": spec["number"],
                "campaign": spec["campaign"],
                "started_from": _days_ago(start) if start is not None else None,
                "started_until": _days_ago(end) if end is not None else None,
            }
            if not (named or any(criteria.values())):
                continue
            hold = legal_hold_place(
                actor=cast.root,
                tenant=tenant,
                reference="Case",
                reason="Property",
                recordings=named,
                **criteria,
            )
            if spec["released"]:
                legal_hold_release(actor=cast.root, hold=hold, release_reason="done")

        expected = {}
        for tenant in (cast.acme, cast.globex):
            expired = Recording.objects.expired(on=tenant.today()).filter(tenant=tenant)
            for name, queryset in (
                ("to_delete", expired.not_on_hold()),
                ("held_back", expired.on_hold()),
            ):
                counted = queryset.values("purpose__code", "deletion_reason").annotate(
                    n=Count("pk")
                )
                for row in counted:
                    group = (tenant.pk, row["purpose__code"], row["deletion_reason"])
                    expected.setdefault(group, {"to_delete": 0, "held_back": 0})[name] = row["n"]
        held_back = sum(counts["held_back"] for counts in expected.values())
        event("some held back" if held_back else "none held back")
        assert _by_group(purge_preview(for_next_run=False)) == {
            group: (counts["to_delete"], counts["held_back"]) for group, counts in expected.items()
        }
        transaction.set_rollback(True)


def test_counts_read_against_holds_that_changed_meanwhile_are_not_used(cast):
    """The statement checks that the holds in force are those it was built from: a hold placed
    (or released) between reading the holds and counting would otherwise go uncounted."""
    from compliance.models import Tenant
    from recordings.services.purge.preview import _preview_counts

    recording = ingest(cast.acme, started_at=_days_ago(400))
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case", reason="x", recordings=[recording]
    )
    tenants = list(Tenant.objects.order_by("name"))
    days = {tenant.pk: tenant.today() for tenant in tenants}
    assert _preview_counts(tenants, days, holds=[]) is None
    assert _by_group(purge_preview(for_next_run=False)) == {
        (cast.acme.pk, "quality", "expired"): (0, 1)
    }


def test_a_recording_named_by_two_holds_is_held_back_once(cast):
    """With only holds that name recordings (no hold by criteria, so no UNION in the statement),
    a recording two holds name is still one recording kept back."""
    held = ingest(cast.acme, started_at=_days_ago(400))
    ingest(cast.acme, started_at=_days_ago(410))
    for reference in ("Case 1", "Case 2"):
        legal_hold_place(
            actor=cast.alice,
            tenant=cast.acme,
            reference=reference,
            reason="Litigation",
            recordings=[held],
        )
    preview = _by_group(purge_preview(for_next_run=False))
    assert preview[(cast.acme.pk, "quality", "expired")] == (1, 1)
    run = purge_expired_recordings(triggered_by="test")
    assert (run.purged, run.skipped_held) == (1, 1)
    assert Recording.objects.filter(pk=held.pk, status="active").exists()


def test_a_preview_that_cannot_settle_does_not_stop_the_nights_deletions(cast, monkeypatch):
    """Holds placed or released during every attempt at the preview: the run still deletes what
    has expired (and keeps what holds hold), and says that it could not count beforehand."""
    from recordings.services.purge import preview as preview_module

    expired = ingest(cast.acme, started_at=_days_ago(400))
    held = ingest(cast.acme, started_at=_days_ago(410))
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 9",
        reason="Litigation",
        recordings=[held],
    )
    monkeypatch.setattr(preview_module, "_preview_counts", lambda *arguments: None)
    run = purge_expired_recordings(triggered_by="test")
    assert run.status == "finished"
    assert run.purged == 1 and run.preview == []
    assert any("not counted" in error for error in run.errors)
    assert not Recording.objects.filter(pk=expired.pk, status="active").exists()
    assert Recording.objects.filter(pk=held.pk, status="active").exists()


def test_the_purge_page_says_when_the_preview_cannot_settle(cast, login, monkeypatch):
    from django.urls import reverse

    from recordings.services.purge import preview as preview_module

    monkeypatch.setattr(preview_module, "_preview_counts", lambda *arguments: None)
    page = login(cast.alice).get(reverse("admin:recordings_purgerun_changelist"))
    assert page.status_code == 200
    assert b"reload the page for tonight" in page.content
