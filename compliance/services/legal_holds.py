"""Legal holds: checked, placed and released, each with a reason, and what each holds now (the
scope rule itself is compliance/holds.py's)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.db.models import Count, Value
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits
from kit.limits import refuse_longer_than
from kit.locks import hold_placement_lock
from kit.refusals import Refused
from kit.times import in_tenant_zone

from ..holds import held_by
from ..models import LegalHold, Tenant
from ..phone import InvalidNumber, normalise_number
from ..refusals import refuse_outside_date_window
from ..roles import tenant_permits


def legal_hold_check(
    *,
    tenant: Tenant,
    reference: str,
    reason: str,
    recordings: list,
    customer_number: str = "",
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    campaign: str = "",
) -> str:
    """Validate a hold before it is placed (the admin form uses it too); returns the number in
    E.164. Raises Refused naming the field."""
    if not reference.strip():
        raise Refused(_("a hold needs a case or inquiry reference"), field="reference")
    if not reason.strip():
        raise Refused(_("a hold needs a reason"), field="reason")
    refuse_longer_than(
        reference.strip(), LegalHold._meta.get_field("reference").max_length, field="reference"
    )
    refuse_longer_than(reason.strip(), limits.LEGAL_HOLD_REASON, field="reason")
    refuse_longer_than(campaign, LegalHold._meta.get_field("campaign").max_length, field="campaign")
    refuse_outside_date_window(started_from, field="started_from")
    refuse_outside_date_window(started_until, field="started_until")
    if any(recording.tenant_id != tenant.pk for recording in recordings):
        raise Refused(_("a recording of another tenant"), field="recordings")
    number = ""
    if customer_number:
        try:
            number = normalise_number(customer_number, default_region=tenant.country_code)
        except InvalidNumber as error:
            raise Refused(
                format_lazy(_("customer_number: {error}"), error=error), field="customer_number"
            ) from error
    if started_from and started_until and started_from > started_until:
        raise Refused(_("the date range ends before it starts"), field="started_until")
    if not (recordings or number or started_from or started_until or campaign):
        raise Refused(
            _("the hold's scope is empty: name recordings, a number, a date range or a campaign"),
            field="scope",
        )
    return number


@names_its_actor
@transaction.atomic
def legal_hold_place(
    *,
    actor,
    tenant: Tenant,
    reference: str,
    reason: str,
    recordings=(),
    customer_number: str = "",
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    campaign: str = "",
) -> LegalHold:
    """Freeze recordings. Nothing deletes a held recording, and recordings arriving later that
    match the scope are held too."""
    if not tenant_permits(actor, tenant.pk, "compliance.place_legalhold"):
        raise Refused(
            format_lazy(_("you may not place legal holds for {name}"), name=tenant.name),
            field="actor",
            status=403,
        )
    recordings = list(recordings)
    number = legal_hold_check(
        tenant=tenant,
        reference=reference,
        reason=reason,
        recordings=recordings,
        customer_number=customer_number,
        started_from=started_from,
        started_until=started_until,
        campaign=campaign,
    )
    hold_placement_lock(tenant.pk)
    hold = LegalHold.objects.create(
        tenant=tenant,
        reference=reference.strip(),
        reason=reason.strip(),
        customer_number=number,
        started_from=started_from,
        started_until=started_until,
        campaign=campaign,
        placed_by=actor,
        placed_at=timezone.now(),
    )
    hold.recordings.set(recordings)
    event_record(
        action="legal_hold.placed",
        tenant=tenant,
        target=hold,
        justification=hold.reason,
        extra={
            "reference": hold.reference,
            "recordings": [recording.pk for recording in recordings],
            "customer_number": bool(number),
            "started_from": started_from,
            "started_until": started_until,
            "campaign": campaign,
            "holds_now": legal_hold_effect(hold),
        },
    )
    return hold


@names_its_actor
@transaction.atomic
def legal_hold_release(*, actor, hold: LegalHold, release_reason: str) -> LegalHold:
    locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if not tenant_permits(actor, locked.tenant_id, "compliance.release_legalhold"):
        raise Refused(_("you may not release this tenant's legal holds"), field="actor", status=403)
    if locked.released_at is not None:
        raise Refused(
            format_lazy(
                _("hold {reference} was already released on {value}"),
                reference=locked.reference,
                value=in_tenant_zone(locked.released_at, locked.tenant),
            ),
            field="hold",
            status=409,
        )
    if not release_reason.strip():
        raise Refused(_("releasing a hold needs a reason"), field="release_reason")
    refuse_longer_than(
        release_reason.strip(), limits.LEGAL_HOLD_RELEASE_REASON, field="release_reason"
    )
    held_before = legal_hold_effect(locked)
    locked.released_at = timezone.now()
    locked.released_by = actor
    locked.release_reason = release_reason.strip()
    locked.save(update_fields=["released_at", "released_by", "release_reason"])
    event_record(
        action="legal_hold.released",
        tenant=locked.tenant_id,
        target=locked,
        justification=locked.release_reason,
        extra={"reference": locked.reference, "held_until_now": held_before},
    )
    return locked


@transaction.atomic
def legal_hold_view_record(*, user, hold: LegalHold) -> None:
    """A hold's detail page shows the customer number it holds, in full: personal metadata
    access (docs/architecture.md, invariant 4), traced as a recording's page is
    (recording.viewed). A hold that names no number shows no personal data on its page, and its
    display is not an event."""
    if not hold.customer_number:
        return
    event_record(
        action="legal_hold.viewed",
        tenant=hold.tenant_id,
        target=hold,
        purpose="",
        extra={"user": user.get_username(), "fields": ["customer_number"]},
    )


def legal_hold_recordings(hold: LegalHold):
    """The active recordings this hold holds now, as a queryset on Recording (the hold's page
    lists them; released, it holds none)."""
    if hold.released_at is not None:
        return _held_now(hold).none()
    return _held_now(hold)


def _held_now(hold: LegalHold):
    """The active recordings this hold's scope takes in, as a queryset on Recording."""
    # By name: the deliberate seam towards recordings (docs/architecture.md).
    recording_model = apps.get_model("recordings", "Recording")
    return recording_model.objects.filter(held_by(hold), status="active")


def legal_hold_effects(holds: Iterable[LegalHold]) -> dict[int, int]:
    """How many active recordings each hold holds now, by hold id: one statement for all of
    them (the hold list shows a page of holds), each hold's count a part of its own, so that
    each still uses the indexes its criteria allow."""
    counts = [
        _held_now(hold)
        .order_by()
        .values(hold_id=Value(hold.pk))
        .annotate(held=Count("pk", distinct=True))
        .values_list("hold_id", "held")
        for hold in holds
    ]
    if not counts:
        return {}
    first, *rest = counts
    return dict(first.union(*rest, all=True) if rest else first)


def legal_hold_effect(hold: LegalHold) -> int:
    """How many active recordings this hold holds now."""
    return legal_hold_effects([hold])[hold.pk]
