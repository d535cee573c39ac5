"""A tenant's internal do-not-call opt-outs, added one by one: by its staff in the admin, by its
dialer through the API, and by a caller refusing marketing in a consent decision
(compliance/services/consents.py::consent_record). An opt-out never expires and is never removed
(GDPR Art. 21(3): once a person objects to direct marketing, their data may no longer be
processed for it); adding a number already there changes nothing. A full import of the tenant's
internal list (compliance/services/dnc_lists.py) does not replace them."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits
from kit.limits import refuse_longer_than
from kit.masking import mask_number
from kit.refusals import Refused

from ..dnc_models import DncOptOut, OptOutChannel
from ..models import Consent, Tenant
from ..phone import InvalidNumber, normalise_number
from ..roles import tenant_permits


def dnc_opt_out_check(*, tenant: Tenant, number: str, note: str = "") -> str:
    """The number in E.164 (a national number read in the tenant's country), or Refused naming
    the field."""
    try:
        e164 = normalise_number(number, default_region=tenant.country_code)
    except InvalidNumber as error:
        # The reason, not the number: the refusal goes on the append-only trail.
        raise Refused(format_lazy(_("number: {error}"), error=error), field="number") from error
    refuse_longer_than(note, limits.DNC_NOTE, field="note")
    return e164


def opt_out_target(opt_out: DncOptOut) -> dict[str, str]:
    """The target of an event about an opt-out: the row, its number masked."""
    return {
        "target_type": "compliance.dncoptout",
        "target_id": str(opt_out.pk),
        "target_label": f"opt-out {mask_number(opt_out.number)}",
    }


@names_its_actor
@transaction.atomic
def dnc_opt_out_add(
    *,
    actor,
    tenant: Tenant,
    number: str,
    channel: str,
    consent: Consent | None = None,
    note: str = "",
) -> tuple[DncOptOut, bool]:
    """Add `number` to the tenant's opt-outs: (the opt-out, whether it is new). `actor` is the
    person (whose role in the tenant must allow it) or, for the API and a consent decision, the
    label of the key or of who recorded the decision (already authenticated for the tenant)."""
    if channel not in OptOutChannel.values:
        raise Refused(
            format_lazy(_("channel must be one of {value}"), value=", ".join(OptOutChannel.values)),
            field="channel",
        )
    if hasattr(actor, "get_username"):
        if not tenant_permits(actor, tenant.pk, "compliance.add_dncoptout"):
            raise Refused(
                format_lazy(_("you may not add opt-outs for {name}"), name=tenant.name),
                field="actor",
                status=403,
            )
        added_by = actor.get_username()
    else:
        added_by = str(actor or "")
    e164 = dnc_opt_out_check(tenant=tenant, number=number, note=note)
    opt_out, created = DncOptOut.objects.get_or_create(
        tenant=tenant,
        number=e164,
        defaults={
            "channel": channel,
            "consent": consent,
            "note": note.strip(),
            "added_by": added_by[:150],
        },
    )
    if created:
        event_record(
            action="dnc_opt_out.added",
            tenant=tenant,
            **opt_out_target(opt_out),
            extra={
                "channel": channel,
                "consent": consent.pk if consent is not None else None,
                "note": bool(note.strip()),
            },
        )
    return opt_out, created


@transaction.atomic
def dnc_opt_out_view_record(*, user, opt_out: DncOptOut) -> None:
    """An opt-out's page shows the full number: personal data access (docs/architecture.md,
    invariant 4), traced as a consent decision's page is."""
    event_record(
        action="dnc_opt_out.viewed",
        tenant=opt_out.tenant_id,
        **opt_out_target(opt_out),
        extra={"user": user.get_username(), "fields": ["number"]},
    )
