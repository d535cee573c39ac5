"""Rectification (GDPR Art. 16) of the metadata of a subject's recording or consent decision.

What may be corrected, and what never is:

- a recording: the caller's number, the subject reference, the campaign, the agent code and the
  direction, as the recorder may have got them wrong. Never the audio, its hashes, its storage or
  key (the audio is never edited: recordings/services/ingest.py::_existing), the call id (the
  call's identity, by which an erasure sticks), the start and duration (facts of the audio, and
  the start of its retention), the purpose, legal basis or retention (not the subject's data:
  the tenant's decisions, with their own audited services). A recording under a legal hold keeps
  the fields a hold's criteria read (compliance/holds.py::CRITERIA): correcting them could take it
  out of the hold's scope, and evidence under a hold is not changed;
- a consent decision: the subject reference, the operator and the call id it was given on.
  Never the decision, its time, channel, purpose, number or prompt: a decision is recorded anew
  (compliance/services/consents.py::consent_record), never edited.

Each correction is kept with its old and new values in the row's history (django-simple-history,
its change reason naming the request) and on the trail (`subject_request.rectified`, numbers
and subject references masked: the trail is append-only and keeps neither whole)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from compliance.holds import RECORDING_FIELDS as HOLD_CRITERIA_FIELDS
from compliance.models import Consent, RequestKind, SubjectRequest
from compliance.phone import InvalidNumber, normalise_number
from compliance.services.consents import consent_target
from kit.masking import mask_number
from kit.refusals import Refused

from ..models import Direction, Recording, Status
from .checks import clean_text, locked, require_request
from .finder import subject_data_find

# Field: its ceiling (characters). The number and the direction are checked on their own.
RECORDING_FIELDS = {
    "customer_number": 40,
    "subject_reference": 128,
    "campaign": 128,
    "agent_code": 64,
    "direction": 8,
}
CONSENT_FIELDS = {"subject_reference": 128, "operator": 64, "call_id": 128}
NUMBER_FIELDS = frozenset({"customer_number"})
# What names the subject, masked on the trail (append-only, out of an erasure's reach): their
# number, and their reference (which receipt puts on the trail only as "given or not").
MASKED_FIELDS = NUMBER_FIELDS | {"subject_reference"}


def change_reason(request: SubjectRequest) -> str:
    """The history rows' change reason: the request that caused the correction."""
    return f"Rectification: data-subject request #{request.pk}"


def _target(request: SubjectRequest, target) -> tuple[Recording | Consent, dict[str, int]]:
    """The target, locked, if it is one of the subject's recordings (active) or decisions."""
    found = subject_data_find(request)
    if isinstance(target, Recording):
        rows, allowed = found.recordings.filter(status=Status.ACTIVE), RECORDING_FIELDS
    elif isinstance(target, Consent):
        rows, allowed = found.consents, CONSENT_FIELDS
    else:
        raise Refused(
            _("only the metadata of a recording or of a consent decision is rectified"),
            field="target",
        )
    row = rows.select_for_update(of=("self",)).filter(pk=target.pk).first()
    if row is None:
        raise Refused(
            format_lazy(
                _("{verbose_name} {pk} is not one of the subject's (or is deleted)"),
                verbose_name=target._meta.verbose_name,
                pk=target.pk,
            ),
            field="target",
        )
    return row, allowed


def _new_value(row, name: str, value: object, limit: int) -> str:
    text = clean_text(value, field=name, limit=limit)
    if name in NUMBER_FIELDS:
        try:
            return normalise_number(text, default_region=row.tenant.country_code)
        except InvalidNumber as error:
            raise Refused(
                format_lazy(_("{name}: {error}"), name=name, error=error), field=name
            ) from error
    if name == "direction" and text not in Direction.values:
        raise Refused(_("direction must be inbound or outbound"), field=name)
    return text


def _shown(name: str, value: str) -> str:
    return mask_number(value) if name in MASKED_FIELDS and value else value


@names_its_actor
@transaction.atomic
def rectification_apply(
    *, actor, request: SubjectRequest, target: Recording | Consent, changes: Mapping[str, object]
) -> dict[str, tuple[str, str]]:
    """Correct `changes` ({field: new value}) of `target`, one of the subject's recordings or
    consent decisions, for this rectification request. Returns {field: (old, new)} of what
    changed; a value equal to the current one is no change, and no change at all is refused."""
    request = locked(request)
    require_request(actor, request, [RequestKind.RECTIFICATION], _("rectify the subject's data"))
    row, allowed = _target(request, target)
    if not changes:
        raise Refused(_("give at least one corrected value"), field="changes")
    changed: dict[str, tuple[str, str]] = {}
    for name, value in changes.items():
        if name not in allowed:
            raise Refused(
                format_lazy(
                    _(
                        "{name} of a {verbose_name} is not corrected by a rectification "
                        "(correctable: {value})"
                    ),
                    name=name,
                    verbose_name=row._meta.verbose_name,
                    value=", ".join(allowed),
                ),
                field=name,
            )
        new = _new_value(row, name, value, allowed[name])
        old = getattr(row, name)
        if new != old:
            changed[name] = (old, new)
    if not changed:
        raise Refused(
            _("nothing to correct: the values given are the current ones"), field="changes"
        )
    if isinstance(row, Recording):
        held = set(changed) & set(HOLD_CRITERIA_FIELDS)
        holds = list(row.active_holds()) if held else []
        if holds:
            references = ", ".join(hold.reference for hold in holds)
            raise Refused(
                format_lazy(
                    _(
                        "the recording is under legal hold ({references}): its {value} "
                        "cannot be corrected while the hold is in force"
                    ),
                    references=references,
                    value=", ".join(sorted(held)),
                ),
                field=sorted(held)[0],
                status=409,
            )
    for name, (_old, new) in changed.items():
        setattr(row, name, new)
    row._change_reason = change_reason(request)
    row._history_user = actor
    row.save(update_fields=list(changed))
    target_fields = {"target": row} if isinstance(row, Recording) else consent_target(row.pk)
    event_record(
        action="subject_request.rectified",
        tenant=request.tenant_id,
        **target_fields,
        extra={
            "request": request.pk,
            "changes": {
                name: {"old": _shown(name, old), "new": _shown(name, new)}
                for name, (old, new) in changed.items()
            },
        },
    )
    return changed
