"""Erasure of a data subject's recordings (GDPR Art. 17), and of the recordings an accepted
objection (Art. 21) no longer lets the tenant keep: first a preview of what would be deleted and
what is kept and why, then the execution, one recording at a time, then a report of both sides
attached to the request.

What is kept, and why (each reason is named in the preview and the report):

- a legal hold holds it: the establishment, exercise or defence of legal claims
  (Art. 17(3)(e)); each hold by its reference;
- it is kept under a legal obligation (Art. 17(3)(b)): its purpose rests on Art. 6(1)(c) (the
  shipped presets: insurance telesales, Code des assurances art. R.112-7; investment services,
  MiFID II art. 16(7)) and its retention has not ended; named by its retention policy and that
  policy's legal reference. Consent, contract and legitimate interest oblige nobody to keep a
  recording: those are erased. A legal-obligation recording whose retention has ended (a
  telesales call no contract followed) is erased too;
- the handler marked it as needed for a pending claim (Art. 17(3)(e)), with the reason, in the
  erasure form: the claim is stored in the request's report and kept on a re-run;
- another request's restriction (Art. 18) is in force on it: it is kept until lifted;
- for an objection, a compelling legitimate ground was recorded (Art. 21(1)): every recording
  of the objected purpose is kept.

Everything else of the subject (active recordings of their numbers or reference: the finder's
selection) is deleted through recordings/services/purge/erasure.py::recording_erase with the
reason "erasure request": one transaction per recording, each leaving its certificate and its
`recording.erased` event. The plan is committed on the request before the first deletion, so an
execution killed mid-way leaves the completed deletions certified and the rest intact, and running
it again resumes: a recording erased already is found by its certificate and reported as erased,
never deleted (or certified) twice.

The caller's consent decisions are kept: they prove what the caller agreed to or refused
(Art. 7(1)), and a refusal or withdrawal kept on file is what goes on refusing new recordings.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from django.db import models, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from compliance.models import LegalBasis, RequestKind, SubjectRequest
from kit import limits
from kit.refusals import Refused

from ..models import DeletionCertificate, DeletionReason, Recording, Status
from ..services.purge.erasure import RecordingHeld, RecordingRestricted, recording_erase
from .checks import (
    clean_text,
    locked,
    require_identity,
    require_kind,
    require_open,
    require_request,
)
from .export import subject_exports_withdraw
from .finder import subject_data_find

ERASING_KINDS = (RequestKind.ERASURE, RequestKind.OBJECTION)


class KeptReason(models.TextChoices):
    LEGAL_HOLD = "legal_hold", _("Under a legal hold (GDPR Art. 17(3)(e))")
    LEGAL_RETENTION = "legal_retention", _("Kept under a legal obligation (GDPR Art. 17(3)(b))")
    PENDING_CLAIM = "pending_claim", _("Needed for a pending legal claim (GDPR Art. 17(3)(e))")
    RESTRICTED = "restricted", _("Restricted at the data subject's request (GDPR Art. 18)")
    COMPELLING_GROUND = "compelling_ground", _("Compelling legitimate grounds (GDPR Art. 21(1))")


CONSENTS_KEPT = _(
    "Consent decisions are kept: they prove what the caller agreed to or refused (GDPR Art. 7(1)), "
    "and a refusal or withdrawal on file goes on refusing new recordings."
)


def _reason(code: KeptReason, detail: str, **facts) -> dict:
    return {"code": code.value, "label": str(code.label), "detail": detail, **facts}


@dataclass
class RecordingLine:
    """One recording of the preview or the report, with the reasons it is kept (none: deleted)."""

    recording_id: int
    call_id: str
    # ISO 8601 with the tenant's offset: its first ten characters are the call's day there.
    started_at: str
    purpose: str
    reasons: list[dict] = field(default_factory=list)
    purpose_name: str = ""

    @classmethod
    def of(cls, recording: Recording, reasons: list[dict]) -> RecordingLine:
        return cls(
            recording_id=recording.pk,
            call_id=recording.call_id,
            started_at=timezone.localtime(
                recording.started_at, zoneinfo.ZoneInfo(recording.tenant.time_zone)
            ).isoformat(),
            purpose=recording.purpose.code,
            reasons=reasons,
            purpose_name=recording.purpose.name,
        )

    def as_dict(self) -> dict:
        return {
            "recording": self.recording_id,
            "call_id": self.call_id,
            "started_at": self.started_at,
            "purpose": self.purpose,
            "reasons": self.reasons,
        }


@dataclass
class ErasurePreview:
    request: SubjectRequest
    to_delete: list[RecordingLine]
    kept: list[RecordingLine]
    claims: dict[int, str]
    consents: int

    def as_dict(self) -> dict:
        return {
            "to_delete": [line.as_dict() for line in self.to_delete],
            "kept": [line.as_dict() for line in self.kept],
            "claims": {str(pk): reason for pk, reason in self.claims.items()},
            "consents": self.consents,
        }


def _scope(request: SubjectRequest):
    """The recordings the request would erase: the subject's active recordings; for an
    objection, those of the objected purpose (by its code, as ingestion refuses new ones)."""
    recordings = (
        subject_data_find(request)
        .recordings.filter(status=Status.ACTIVE)
        .select_related("purpose", "retention_policy", "tenant")
    )
    if request.kind == RequestKind.OBJECTION:
        recordings = recordings.filter(purpose__code=request.objection_purpose.code)
    return recordings


def _claims(given: Mapping | None, scope_ids: set[int], *, strict: bool) -> dict[int, str]:
    """Claims as {recording id: reason}; with `strict`, a recording outside the scope is refused
    (a claim stored by an earlier run whose recording is gone is dropped instead)."""
    claims = {}
    for key, reason in (given or {}).items():
        try:
            pk = int(key)
        except (TypeError, ValueError):
            raise Refused(
                format_lazy(_("{key} is not a recording id"), key=repr(key)), field="claims"
            ) from None
        if pk not in scope_ids:
            if strict:
                raise Refused(
                    format_lazy(
                        _(
                            "recording {pk} is not one of the subject's recordings this "
                            "request erases"
                        ),
                        pk=pk,
                    ),
                    field="claims",
                )
            continue
        claims[pk] = clean_text(
            reason, field="claims", limit=limits.SUBJECT_REQUEST_TEXT, required=True
        )
    return claims


def legal_retention(recording: Recording, today: date) -> dict | None:
    """Why a legal obligation keeps the recording now (Art. 17(3)(b)), or None: its purpose rests
    on Art. 6(1)(c) and its retention runs until today or later. Named by its policy and the
    policy's legal reference (the purpose's default period when no policy applied)."""
    if recording.legal_basis != LegalBasis.LEGAL_OBLIGATION or recording.retain_until < today:
        return None
    policy = recording.retention_policy
    until = recording.retain_until.isoformat()
    if policy is None:
        return _reason(
            KeptReason.LEGAL_RETENTION,
            f"{recording.purpose.name} rests on a legal obligation; kept until {until}",
            policy="",
            legal_reference="",
            until=until,
        )
    return _reason(
        KeptReason.LEGAL_RETENTION,
        f"{policy.name}: {policy.legal_reference} (kept until {until})",
        policy=policy.name,
        legal_reference=policy.legal_reference,
        until=until,
    )


def _kept_reasons(
    recording: Recording, request: SubjectRequest, claims: dict[int, str], today: date
) -> list[dict]:
    reasons = [
        _reason(KeptReason.LEGAL_HOLD, f"legal hold {hold.reference}", hold=hold.reference)
        for hold in recording.active_holds().order_by("placed_at", "pk")
    ]
    retention = legal_retention(recording, today)
    if retention is not None:
        reasons.append(retention)
    if recording.pk in claims:
        reasons.append(_reason(KeptReason.PENDING_CLAIM, claims[recording.pk]))
    reasons += [
        _reason(KeptReason.RESTRICTED, f"restricted by request #{other.pk}", request=other.pk)
        for other in recording.active_restrictions()
        if other.pk != request.pk
    ]
    if request.kind == RequestKind.OBJECTION and request.compelling_ground:
        reasons.append(_reason(KeptReason.COMPELLING_GROUND, request.compelling_ground))
    return reasons


def _preview(request: SubjectRequest, claims: Mapping | None, stored: Mapping) -> ErasurePreview:
    recordings = list(_scope(request))
    ids = {recording.pk for recording in recordings}
    merged = {**_claims(stored, ids, strict=False), **_claims(claims, ids, strict=True)}
    today = request.tenant.today()
    to_delete, kept = [], []
    for recording in recordings:
        reasons = _kept_reasons(recording, request, merged, today)
        (kept if reasons else to_delete).append(RecordingLine.of(recording, reasons))
    objection = request.kind == RequestKind.OBJECTION
    consents = 0 if objection else subject_data_find(request).consents.count()
    return ErasurePreview(
        request=request, to_delete=to_delete, kept=kept, claims=merged, consents=consents
    )


def _stored_claims(request: SubjectRequest) -> dict:
    return request.report.get("claims", {}) if request.report.get("kind") == request.kind else {}


def erasure_preview(request: SubjectRequest, *, claims: Mapping | None = None) -> ErasurePreview:
    """What executing the erasure would delete and what it keeps, each with its reasons; `claims`
    ({recording id: reason}) marks recordings needed for a pending claim, added to those an
    earlier run stored. Refused before the identity is verified, on a closed request, and for a
    request that erases nothing (only an erasure, or an objection, erases)."""
    request = SubjectRequest.objects.select_related("tenant", "objection_purpose").get(
        pk=request.pk
    )
    require_kind(request, ERASING_KINDS, _("erase the subject's recordings"))
    require_open(request)
    require_identity(request)
    return _preview(request, claims, _stored_claims(request))


@dataclass
class _Plan:
    request: SubjectRequest
    planned: list[dict]  # {"recording", "call_id"}: deleted already, or to delete now
    kept: list[RecordingLine]
    claims: dict[int, str]
    consents: int
    started_at: str


@transaction.atomic
def _erasure_start(*, actor, request: SubjectRequest, claims: Mapping | None) -> _Plan:
    """Checks, then the plan committed on the request before anything is deleted: what an
    earlier run planned (deleted since, or still to delete) and what is to delete now."""
    request = locked(request)
    require_request(actor, request, ERASING_KINDS, _("erase the subject's recordings"))
    if request.kind == RequestKind.OBJECTION and request.objection_accepted_at is None:
        raise Refused(
            _("accept the objection first: its recordings are erased from its acceptance"),
            field="objection_accepted_at",
        )
    previous = request.report if request.report.get("kind") == request.kind else {}
    preview = _preview(request, claims, previous.get("claims", {}))
    kept_ids = {line.recording_id for line in preview.kept}
    planned: dict[int, dict] = {}
    for entry in [*previous.get("deleted", []), *previous.get("planned", [])]:
        if entry["recording"] not in kept_ids:
            planned[entry["recording"]] = {
                "recording": entry["recording"],
                "call_id": entry["call_id"],
            }
    for line in preview.to_delete:
        planned.setdefault(
            line.recording_id, {"recording": line.recording_id, "call_id": line.call_id}
        )
    started_at = previous.get("started_at") or timezone.now().isoformat()
    request.report = {
        "kind": request.kind,
        "state": "in_progress",
        "started_at": started_at,
        "claims": {str(pk): reason for pk, reason in preview.claims.items()},
        "planned": list(planned.values()),
        "kept": [line.as_dict() for line in preview.kept],
    }
    request.save(update_fields=["report"])
    event_record(
        action="subject_request.erasure_started",
        tenant=request.tenant_id,
        target=request,
        extra={
            "to_delete": len(preview.to_delete),
            "kept": len(preview.kept),
            "claims": sorted(preview.claims),
            "resumed": previous.get("state") == "in_progress",
        },
    )
    return _Plan(
        request=request,
        planned=list(planned.values()),
        kept=preview.kept,
        claims=preview.claims,
        consents=preview.consents,
        started_at=started_at,
    )


def _certificate_id(recording_id: int) -> int | None:
    return (
        DeletionCertificate.objects.filter(recording_id=recording_id)
        .values_list("pk", flat=True)
        .first()
    )


def _erase_one(actor, request: SubjectRequest, entry: dict) -> int | RecordingLine | None:
    """The certificate id of the recording's deletion (now, or by an earlier run), or the line of
    a recording a hold or another restriction now keeps, or None if it has gone otherwise."""
    pk = entry["recording"]
    certificate = _certificate_id(pk)
    if certificate is not None:
        return certificate  # erased by an earlier, interrupted run: never a second certificate
    recording = (
        Recording.objects.select_related("purpose", "tenant")
        .filter(pk=pk, status=Status.ACTIVE)
        .first()
    )
    if recording is None:
        return _certificate_id(pk)
    try:
        recording_erase(
            actor=actor, recording=recording, reason=DeletionReason.ERASURE_REQUEST, serving=request
        )
    except RecordingHeld as held:
        # A hold placed since the plan: the recording stays, the refusal is on the trail.
        reasons = [
            _reason(KeptReason.LEGAL_HOLD, f"legal hold {hold.reference}", hold=hold.reference)
            for hold in held.holds
        ]
        return RecordingLine.of(recording, reasons)
    except RecordingRestricted as restricted:
        reasons = [
            _reason(KeptReason.RESTRICTED, f"restricted by request #{other.pk}", request=other.pk)
            for other in restricted.requests
        ]
        return RecordingLine.of(recording, reasons)
    except Recording.DoesNotExist:
        pass  # deleted meanwhile (the purge): its certificate says so
    return _certificate_id(pk)


@transaction.atomic
def _erasure_finish(*, plan: _Plan, deleted: list[dict], kept: list[RecordingLine]) -> dict:
    request = locked(plan.request)
    report = {
        "kind": request.kind,
        "state": "completed",
        "started_at": plan.started_at,
        "completed_at": timezone.now().isoformat(),
        "deleted": deleted,
        "kept": [line.as_dict() for line in kept],
        "claims": {str(pk): reason for pk, reason in plan.claims.items()},
    }
    if request.kind == RequestKind.ERASURE:
        report["consents_kept"] = {"count": plan.consents, "reason": str(CONSENTS_KEPT)}
    request.report = report
    request.save(update_fields=["report"])
    event_record(
        action="subject_request.erasure_completed",
        tenant=request.tenant_id,
        target=request,
        extra={
            "deleted": [
                {"recording": entry["recording"], "certificate": entry["certificate"]}
                for entry in deleted
            ],
            "kept": [
                {
                    "recording": line.recording_id,
                    "reasons": [reason["code"] for reason in line.reasons],
                }
                for line in kept
            ],
        },
    )
    return report


@names_its_actor
def erasure_execute(*, actor, request: SubjectRequest, claims: Mapping | None = None) -> dict:
    """Erase what the preview lists to delete, one recording per transaction, and attach the
    report (deleted: call id and certificate; kept: call id and each reason) to the request.
    Resumable: run again after an interruption, it finishes the plan, and reports the recordings
    erased before as erased, with their one certificate. Not atomic on purpose: each deletion
    commits on its own (inside a caller's transaction, each is a savepoint)."""
    plan = _erasure_start(actor=actor, request=request, claims=claims)
    deleted: list[dict] = []
    kept = list(plan.kept)
    for entry in plan.planned:
        outcome = _erase_one(actor, plan.request, entry)
        if isinstance(outcome, RecordingLine):
            kept.append(outcome)
        elif outcome is not None:
            deleted.append({**entry, "certificate": outcome})
    # A copy of the subject's audio made for an access request goes with the recordings.
    subject_exports_withdraw(request=plan.request)
    return _erasure_finish(plan=plan, deleted=deleted, kept=kept)
