"""Insurance telesales (Code des assurances, art. R.112-7): a recording is kept two years from the
contract's signature, and destroyed if no contract follows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from compliance.retention import retain_until_for
from compliance.roles import tenant_permits
from kit.refusals import Refused

from ..models import DeletionReason, Recording, Status

TELESALES_PURPOSE = "insurance_telesales"


@names_its_actor
@transaction.atomic
def telesales_outcome_record(
    *, actor, recordings: Iterable[Recording], signed_on: date | None
) -> int:
    """`signed_on` None: no contract followed, so the recordings are destroyed at the next purge
    (certificate reason "no contract") unless a legal hold applies. A date: they are kept for the
    policy's period from that signature. Returns how many recordings changed. Refused (nothing
    changed) when the actor's role in a recording's tenant does not record contract outcomes, or
    a recording is not insurance telesales."""
    ids = [recording.pk for recording in recordings]
    locked = list(
        Recording.objects.select_for_update()
        .select_related("purpose", "tenant")
        .filter(pk__in=ids, status=Status.ACTIVE)
        .order_by("pk")
    )
    refused = [
        r.call_id
        for r in locked
        if not tenant_permits(actor, r.tenant_id, "recordings.record_contract_outcome")
    ]
    if refused:
        raise Refused(
            format_lazy(
                _("your role in their tenant does not record contract outcomes: {calls}"),
                calls=", ".join(refused[:5]),
            ),
            field="actor",
            status=403,
        )
    wrong = [r.call_id for r in locked if r.purpose.code != TELESALES_PURPOSE]
    if wrong:
        raise Refused(
            format_lazy(
                _("not insurance telesales recordings: {value}"), value=", ".join(wrong[:5])
            ),
            field="recordings",
        )
    changes: dict[int, list[dict]] = {}
    for recording in locked:
        old = recording.retain_until
        if signed_on is None:
            recording.retain_until = recording.tenant.today() - timedelta(days=1)
            recording.deletion_reason = DeletionReason.NO_CONTRACT
        else:
            recording.retain_until = retain_until_for(
                tenant=recording.tenant,
                purpose=recording.purpose,
                started_at=recording.started_at,
                starts_on=signed_on,
            ).retain_until
            recording.retention_starts_on = signed_on
            recording.deletion_reason = DeletionReason.EXPIRED
        changes.setdefault(recording.tenant_id, []).append(
            {"id": recording.pk, "old": old.isoformat(), "new": recording.retain_until.isoformat()}
        )
    Recording.objects.bulk_update(
        locked, ["retain_until", "retention_starts_on", "deletion_reason"]
    )
    for tenant_id, values in changes.items():
        event_record(
            action="recording.contract_outcome",
            tenant=tenant_id,
            target_type="recordings.recording",
            target_label=f"{len(values)} insurance telesales recording(s)",
            extra={
                "contract_signed_on": signed_on.isoformat() if signed_on else None,
                "recordings": values,
            },
        )
    return len(locked)
