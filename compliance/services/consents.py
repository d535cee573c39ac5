"""A caller's consent decisions: checked, recorded (never edited), viewed, and the retention a
refusal or withdrawal ends."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.services import event_record
from kit.limits import refuse_longer_than
from kit.locks import consent_lock
from kit.refusals import Refused

from ..dnc_models import OptOutChannel
from ..dnc_sources import DIRECT_MARKETING_PURPOSES
from ..models import Consent, ConsentChannel, ConsentDecision, Purpose, Tenant
from ..phone import InvalidNumber, normalise_number
from ..refusals import refuse_outside_date_window
from .dnc_opt_outs import dnc_opt_out_add

# Clocks of IVRs and dialers drift; a decision this far ahead of our clock is still "now".
DECISION_CLOCK_SKEW = timedelta(seconds=120)


def consent_in_force(*, tenant: Tenant, customer_number: str, purpose: Purpose) -> Consent | None:
    return (
        Consent.objects.for_subject(tenant=tenant, customer_number=customer_number, purpose=purpose)
        .latest_first()
        .first()
    )


def _purpose_for(tenant: Tenant, code: str) -> Purpose:
    purpose = Purpose.objects.by_code(tenant, code)
    if purpose is None:
        raise Refused(
            format_lazy(_("unknown or inactive purpose {code}"), code=repr(code)), field="purpose"
        )
    return purpose


def consent_check(
    *,
    tenant: Tenant,
    customer_number: str,
    purpose_code: str,
    decision: str,
    decided_at: datetime | None,
    channel: str,
    evidence: dict[str, str],
) -> tuple[Purpose, str]:
    """Validate a decision before it is recorded (the admin form uses it too): returns the
    purpose and the number in E.164, or raises Refused naming the field."""
    if decision not in ConsentDecision.values:
        raise Refused(_("decision must be granted, refused or withdrawn"), field="decision")
    if channel not in ConsentChannel.values:
        raise Refused(
            format_lazy(
                _("channel must be one of {value}"), value=", ".join(ConsentChannel.values)
            ),
            field="channel",
        )
    purpose = _purpose_for(tenant, purpose_code)
    if not purpose.requires_consent:
        # Nothing would read the decision: ingestion asks for consent only where the purpose
        # requires it, and a refusal or withdrawal ends no retention elsewhere. Kept silently, it
        # would look like a caller's choice that was honoured. (An objection to a purpose of
        # legitimate interest, GDPR Art. 21, is another right, not a consent decision.) A purpose
        # resting on consent always requires it (Purpose's constraint), so it is never this one.
        raise Refused(
            format_lazy(
                _(
                    "purpose {code} does not rest on consent (legal basis: "
                    "{legal_basis}): no consent decision is recorded for it"
                ),
                code=purpose.code,
                legal_basis=purpose.get_legal_basis_display(),
            ),
            field="purpose",
        )
    try:
        number = normalise_number(customer_number, default_region=tenant.country_code)
    except InvalidNumber as error:
        raise Refused(
            format_lazy(_("customer_number: {error}"), error=error), field="customer_number"
        ) from error
    if decided_at is None or timezone.is_naive(decided_at):
        raise Refused(_("decided_at must be a date-time with its offset"), field="decided_at")
    refuse_outside_date_window(decided_at, field="decided_at")
    if decided_at > timezone.now() + DECISION_CLOCK_SKEW:
        raise Refused(_("decided_at is in the future"), field="decided_at")
    evidence_limits = {
        "subject_reference": 128,
        "ivr_prompt_id": 64,
        "ivr_prompt_version": 32,
        "call_id": 128,
        "operator": 64,
    }
    for name, value in evidence.items():
        refuse_longer_than(value, evidence_limits[name], field=name)
    return purpose, number


def consent_target(consent_id: object) -> dict[str, str]:
    """The target of an event about a consent decision. Not the consent's str(), which holds the
    caller's number (masked): the trail is append-only and must not keep personal data that an
    erasure could not reach."""
    return {
        "target_type": "compliance.consent",
        "target_id": str(consent_id)[:64],
        "target_label": f"consent {consent_id}"[:200],
    }


@transaction.atomic
def consent_view_record(*, user, consent: Consent) -> None:
    """The consent's detail page shows the caller's full number and the evidence of the
    decision: personal metadata access (docs/architecture.md, invariant 4), as a recording's
    page is (recording.viewed). No purpose is asked for browsing; the access is still traced."""
    event_record(
        action="consent.viewed",
        tenant=consent.tenant_id,
        purpose="",
        extra={
            "user": user.get_username(),
            "fields": ["customer_number", "subject_reference", "call_id", "operator"],
        },
        **consent_target(consent.pk),
    )


@transaction.atomic
def consent_record(
    *,
    recorded_by: str,
    tenant: Tenant,
    customer_number: str,
    purpose_code: str,
    decision: str,
    decided_at: datetime,
    channel: str,
    subject_reference: str = "",
    ivr_prompt_id: str = "",
    ivr_prompt_version: str = "",
    call_id: str = "",
    operator: str = "",
) -> Consent:
    """Record a caller's decision. A refusal or withdrawal that is now the decision in force
    ends the retention of that caller's recordings for the purpose: the next purge deletes them
    (reason "consent withdrawn") unless a legal hold applies; for a direct-marketing purpose
    (compliance/dnc_sources.py::DIRECT_MARKETING_PURPOSES) it also adds the number to the
    tenant's internal do-not-call opt-outs."""
    purpose, number = consent_check(
        tenant=tenant,
        customer_number=customer_number,
        purpose_code=purpose_code,
        decision=decision,
        decided_at=decided_at,
        channel=channel,
        evidence={
            "subject_reference": subject_reference,
            "ivr_prompt_id": ivr_prompt_id,
            "ivr_prompt_version": ivr_prompt_version,
            "call_id": call_id,
            "operator": operator,
        },
    )
    # An upload resting on this caller's consent waits for the decision, and the decision for
    # an upload in flight: a withdrawal never misses a recording registered meanwhile.
    consent_lock(tenant.pk, number, purpose.pk)
    consent = Consent.objects.create(
        tenant=tenant,
        customer_number=number,
        subject_reference=subject_reference,
        purpose=purpose,
        decision=decision,
        decided_at=decided_at,
        channel=channel,
        ivr_prompt_id=ivr_prompt_id,
        ivr_prompt_version=ivr_prompt_version,
        call_id=call_id,
        operator=operator,
        recorded_by=recorded_by[:150],
    )
    # Recording rows before the audit events: every transaction takes row locks first and the
    # chain head's lock last (as the purge does), so the two never deadlock.
    in_force = consent_in_force(tenant=tenant, customer_number=number, purpose=purpose)
    withdrawn = []
    if in_force.pk == consent.pk and decision != ConsentDecision.GRANTED:
        withdrawn = _end_retention_after_withdrawal(consent)
        if purpose.code in DIRECT_MARKETING_PURPOSES:
            # Refusing marketing is an objection to it, for good: the number joins the tenant's
            # internal do-not-call opt-outs (its own event), in this transaction.
            dnc_opt_out_add(
                actor=recorded_by,
                tenant=tenant,
                number=number,
                channel=OptOutChannel.CONSENT,
                consent=consent,
            )
    event_record(
        action="consent.recorded",
        tenant=tenant,
        **consent_target(consent.pk),
        purpose=purpose.code,
        extra={"decision": decision, "channel": channel, "decided_at": decided_at},
    )
    if withdrawn:
        event_record(
            action="recording.consent_withdrawn",
            tenant=tenant,
            **consent_target(consent.pk),
            purpose=purpose.code,
            extra={"recordings": withdrawn},
        )
    return consent


def _end_retention_after_withdrawal(consent: Consent) -> list[dict]:
    """Recordings that rested on this caller's consent may no longer be kept: their last day of
    retention becomes yesterday (tenant time), so the next purge deletes them. Returns the
    changes (id, old and new last day)."""
    if not consent.purpose.requires_consent:
        return []
    # By name: the deliberate seam towards recordings (docs/architecture.md).
    recording_model = apps.get_model("recordings", "Recording")
    yesterday = consent.tenant.today() - timedelta(days=1)
    affected = recording_model.objects.filter(
        tenant=consent.tenant,
        customer_number=consent.customer_number,
        purpose=consent.purpose,
        status="active",
    )
    changes = list(affected.values_list("pk", "retain_until"))
    if changes:
        affected.update(retain_until=yesterday, deletion_reason="consent_withdrawn")
    return [{"id": pk, "old": old.isoformat(), "new": yesterday.isoformat()} for pk, old in changes]
