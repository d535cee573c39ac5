"""The purge preview: what a run would delete, per tenant, purpose and reason, what legal holds
keep back, and what restrictions (GDPR Art. 18) keep back besides, counted exactly in one
statement (one snapshot)."""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction

from compliance import holds as hold_scope
from compliance.models import LegalHold, Purpose, Tenant
from compliance.purpose_names import PurposeNames

from ...models import DeletionReason, Recording, Status
from .deletion import jit_off
from .schedule import next_run_date

# The preview, every tenant in one statement (one snapshot: what holds keep back is counted
# among the very rows counted as expired). Per tenant, its expired recordings per purpose and
# reason: what RecordingQuerySet.expired(on=...) selects (active, retain_until before the tenant's
# date), read from the partial index recording_tenant_expiry alone, which carries the purpose and
# the reason for this.
_EXPIRED_TOTALS_PART = (
    "SELECT %s AS tenant_id, purpose_id, deletion_reason, count(*) AS total FROM {recording}"
    " WHERE tenant_id = %s AND status = %s AND retain_until < %s"
    " GROUP BY purpose_id, deletion_reason"
)
# Of those, the ones an active hold holds (RecordingQuerySet.on_hold(), the purge's own test),
# found from the holds rather than by testing every expired recording against every hold: the
# expired recordings a hold names, and for each hold with criteria the expired recordings
# matching them all (each an index lookup: number, campaign, start time), counted once (UNION).
# Holds are few and hold few recordings; the semi-join of every expired recording with them
# took seconds at 200,000 expired rows.
_HELD_TOTALS_PART = (
    "SELECT %s AS tenant_id, purpose_id, deletion_reason, count(*) AS total"
    " FROM ({held}) AS held_rows GROUP BY purpose_id, deletion_reason"
)
# Of the rest, the ones a restriction in force keeps (RecordingQuerySet.not_restricted(), the
# purge's other test), found from the restrictions' side (few rows) and counted apart: a
# recording both held and restricted is counted once, as held.
_RESTRICTED_TOTALS_PART = (
    "SELECT %s AS tenant_id, purpose_id, deletion_reason, count(*) AS total"
    " FROM ({restricted}) AS restricted_rows GROUP BY purpose_id, deletion_reason"
)
# The holds in force as the statement sees them: they must be those the statement was built
# from (a hold's scope never changes once placed; placing and releasing change this list).
# Restrictions need no such check: their rows are read by the statement itself.
_PREVIEW = (
    "SELECT totals.tenant_id, purpose.code, totals.deletion_reason, totals.total,"
    " coalesce(held.total, 0), coalesce(restricted.total, 0),"
    " (SELECT array_agg(id ORDER BY id) FROM {legal_hold} WHERE released_at IS NULL)"
    " FROM ({totals}) AS totals JOIN {purpose} AS purpose ON purpose.id = totals.purpose_id"
    " LEFT JOIN ({held}) AS held ON held.tenant_id = totals.tenant_id"
    " AND held.purpose_id = totals.purpose_id AND held.deletion_reason = totals.deletion_reason"
    " LEFT JOIN ({restricted}) AS restricted ON restricted.tenant_id = totals.tenant_id"
    " AND restricted.purpose_id = totals.purpose_id"
    " AND restricted.deletion_reason = totals.deletion_reason"
    " ORDER BY purpose.code, totals.deletion_reason"
)
# Attempts at a preview while holds are being placed or released, before giving up.
_PREVIEW_ATTEMPTS = 5


def _held_rows_sql(tenant_id: int, on: date, holds: list[LegalHold]) -> tuple[str, tuple]:
    """SQL selecting (id, purpose, reason) of the tenant's recordings expired before `on` that
    `holds` (its active holds) hold, each once: those named, and those matching every criterion
    of a hold that gives criteria, as compliance.holds states the rule."""
    expired = (
        Recording.objects.expired(on=on)
        .filter(tenant_id=tenant_id)
        .order_by()
        .values_list("id", "purpose_id", "deletion_reason")
    )
    named = expired.filter(hold_scope.named_by(hold.pk for hold in holds))
    matching = [
        expired.filter(criteria)
        for hold in holds
        if (criteria := hold_scope.matching_criteria(hold)) is not None
    ]
    held = named.union(*matching) if matching else named
    return held.query.sql_with_params()


def _restricted_rows_sql(
    tenant_id: int, on: date, held: tuple[str, tuple] | None
) -> tuple[str, tuple]:
    """SQL selecting (id, purpose, reason) of the tenant's recordings expired before `on` that a
    restriction in force keeps, less the `held` rows (those a hold keeps already)."""
    restricted = (
        Recording.objects.expired(on=on)
        .filter(tenant_id=tenant_id)
        .restricted()
        .order_by()
        .values_list("id", "purpose_id", "deletion_reason")
    )
    sql, params = restricted.query.sql_with_params()
    if held is None:
        return sql, params
    return f"({sql}) EXCEPT ({held[0]})", (*params, *held[1])


class PreviewUnsettled(RuntimeError):
    """Holds were placed or released during every attempt at the preview."""


def purge_preview(*, for_next_run: bool = True) -> list[dict]:
    """What a run would delete, per tenant and purpose, and what holds keep back: by default the
    next scheduled run; with for_next_run=False, a run started now. Exact: the counts are those
    of the run's own selection (expired, and on hold or not) at one instant."""
    tenants = list(Tenant.objects.order_by("name"))
    if not tenants:
        return []
    days = {
        tenant.pk: next_run_date(tenant) if for_next_run else tenant.today() for tenant in tenants
    }
    for _ in range(_PREVIEW_ATTEMPTS):
        holds = list(LegalHold.objects.active().order_by("pk"))
        found = _preview_counts(tenants, days, holds)
        if found is not None:
            break
    else:
        raise PreviewUnsettled("legal holds kept changing during the purge preview; try again")
    rows = []
    for tenant in tenants:
        for purpose, reason, total, held_back, restricted in found[tenant.pk]:
            rows.append(
                {
                    "tenant": tenant.name,
                    "tenant_id": tenant.pk,
                    "purpose": purpose,
                    "reason": reason,
                    "to_delete": total - held_back - restricted,
                    "held_back": held_back,
                    "restricted": restricted,
                }
            )
    return rows


def preview_named(rows: list[dict]) -> list[dict]:
    """Preview rows as people read them (the admin's preview, the command's dry run): the
    purpose by its name and the reason by its label, instead of the codes the rows keep."""
    names = PurposeNames((row["tenant_id"], row["purpose"]) for row in rows)
    return [
        {
            **row,
            "purpose": names(row["tenant_id"], row["purpose"]),
            "reason": (
                DeletionReason(row["reason"]).label
                if row["reason"] in DeletionReason.values
                else row["reason"]
            ),
        }
        for row in rows
    ]


def _preview_counts(
    tenants: list[Tenant], days: dict[int, date], holds: list[LegalHold]
) -> dict[int, list[tuple]] | None:
    """Per tenant id, (purpose code, reason, expired, held back, restricted) in one statement;
    None when the holds in force changed since `holds` was read (the counts would not be those
    holds')."""
    by_tenant: dict[int, list[LegalHold]] = {}
    for hold in holds:
        by_tenant.setdefault(hold.tenant_id, []).append(hold)
    recording = connection.ops.quote_name(Recording._meta.db_table)
    totals_sql, totals_params, held_sql, held_params = [], [], [], []
    restricted_sql, restricted_params = [], []
    for tenant in tenants:
        expired = [tenant.pk, tenant.pk, Status.ACTIVE.value, days[tenant.pk]]
        totals_sql.append(_EXPIRED_TOTALS_PART.format(recording=recording))
        totals_params += expired
        held = None
        if tenant.pk in by_tenant:
            held = _held_rows_sql(tenant.pk, days[tenant.pk], by_tenant[tenant.pk])
            held_sql.append(_HELD_TOTALS_PART.format(held=held[0]))
            held_params += [tenant.pk, *held[1]]
        restricted, params = _restricted_rows_sql(tenant.pk, days[tenant.pk], held)
        restricted_sql.append(_RESTRICTED_TOTALS_PART.format(restricted=restricted))
        restricted_params += [tenant.pk, *params]
    if not held_sql:  # no active hold anywhere: an empty relation of the same columns
        held_sql.append(
            "SELECT 0::bigint AS tenant_id, 0::bigint AS purpose_id,"
            " ''::varchar AS deletion_reason, 0::bigint AS total WHERE false"
        )
    sql = _PREVIEW.format(
        totals=" UNION ALL ".join(totals_sql),
        held=" UNION ALL ".join(held_sql),
        restricted=" UNION ALL ".join(restricted_sql),
        purpose=connection.ops.quote_name(Purpose._meta.db_table),
        legal_hold=connection.ops.quote_name(LegalHold._meta.db_table),
    )
    found: dict[int, list[tuple]] = {tenant.pk: [] for tenant in tenants}
    expected_holds = [hold.pk for hold in holds] or None  # array_agg of no row is NULL
    with transaction.atomic():
        jit_off()
        with connection.cursor() as cursor:
            cursor.execute(sql, [*totals_params, *held_params, *restricted_params])
            for row in cursor.fetchall():
                tenant_id, purpose, reason, total, held_back, restricted, holds_now = row
                if holds_now != expected_holds:
                    return None
                found[tenant_id].append((purpose, reason, total, held_back, restricted))
    return found
