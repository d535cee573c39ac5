"""Recompute `retain_until` of active recordings after a retention policy changed."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from audit.services import event_record
from compliance.models import Purpose, RetentionPolicy, Tenant
from compliance.retention import decide

from ..models import DeletionReason, Recording
from .purge.schedule import next_run_date


@dataclass
class RecomputeSummary:
    checked: int = 0
    changed: int = 0


def recordings_retention_recompute(
    *, purpose_id: int, tenant_id: int | None, batch_size: int = 2000
) -> RecomputeSummary:
    """Active recordings of the purpose (in the tenant, or in every tenant for a platform policy)
    get the retention that the policies now decide. Each batch commits with one audit event
    holding every changed recording's old and new date. Shortening never deletes anything here:
    the purge does, after its preview has shown it."""
    purpose = Purpose.objects.get(pk=purpose_id)
    policies = RetentionPolicy.objects.filter(purpose_id=purpose_id, active=True)
    if tenant_id:
        policies = policies.filter(Q(tenant_id=tenant_id) | Q(tenant__isnull=True))
    policies = list(policies)
    tenants = {tenant.pk: tenant for tenant in Tenant.objects.all()}
    # A shortened policy never makes the next scheduled run delete anything: the earliest last
    # day it may set is that run's date, so a preview lists the recording before any run does.
    floors = {tenant_id: next_run_date(tenant) for tenant_id, tenant in tenants.items()}
    # Dates set by a consent withdrawal or a telesales outcome are not the policy's to change.
    recordings = Recording.objects.active().filter(
        purpose_id=purpose_id, deletion_reason=DeletionReason.EXPIRED
    )
    if tenant_id:
        recordings = recordings.filter(tenant_id=tenant_id)
    summary = RecomputeSummary()
    last_id = 0
    while True:
        with transaction.atomic():
            batch = list(
                recordings.filter(pk__gt=last_id)
                .order_by("pk")
                # Wait for rows another transaction holds: skipping them would keep a stale date.
                .select_for_update(no_key=True)
                .only(
                    "pk",
                    "tenant_id",
                    "started_at",
                    "retention_starts_on",
                    "retain_until",
                    "retention_policy_id",
                )[:batch_size]
            )
            if not batch:
                return summary
            last_id = batch[-1].pk
            changed = []
            for recording in batch:
                decision = decide(
                    policies,
                    purpose=purpose,
                    tenant=tenants[recording.tenant_id],
                    started_at=recording.started_at,
                    starts_on=recording.retention_starts_on,
                )
                new_date = decision.retain_until
                if new_date < recording.retain_until:
                    new_date = max(new_date, floors[recording.tenant_id])
                if (recording.retain_until, recording.retention_policy_id) != (
                    new_date,
                    decision.policy_id,
                ):
                    changed.append((recording, recording.retain_until.isoformat(), new_date))
                    recording.retain_until = new_date
                    recording.retention_policy_id = decision.policy_id
            summary.checked += len(batch)
            if changed:
                Recording.objects.bulk_update(
                    [recording for recording, _, _ in changed],
                    ["retain_until", "retention_policy"],
                )
                summary.changed += len(changed)
                by_tenant: dict[int, list] = {}
                for recording, old, new_date in changed:
                    by_tenant.setdefault(recording.tenant_id, []).append(
                        {"id": recording.pk, "old": old, "new": new_date.isoformat()}
                    )
                for changed_tenant, values in by_tenant.items():
                    event_record(
                        action="recording.retention_recomputed",
                        tenant=changed_tenant,
                        target_type="compliance.purpose",
                        target_id=str(purpose_id),
                        target_label=purpose.name,
                        extra={"recordings": values},
                    )
