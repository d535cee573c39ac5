"""Data-subject requests: received, identity verified, extended, closed, each step checked and on
the trail (GDPR Art. 12). What fulfilling one does to recordings is recordings/subject_requests/'s.

The clock: the answer is due one calendar month after receipt, counted in the tenant's days
(`one_month_after`); it may be extended by up to two more months, with the reason told to the
requester within the first month (Art. 12(3)). Nothing is disclosed or deleted before the
requester's identity is verified (Art. 12(6)): recordings' services check
`SubjectRequest.identity_verified` before they export or erase.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits
from kit.limits import refuse_longer_than
from kit.refusals import Refused
from kit.times import tenant_day

from ..models import LegalBasis, Purpose, Tenant
from ..phone import InvalidNumber, normalise_number
from ..refusals import refuse_outside_date_window
from ..roles import tenant_permits
from ..subject_request_models import (
    OPEN_STATUSES,
    RequestChannel,
    RequestKind,
    RequestLanguage,
    RequestStatus,
    SubjectRequest,
    VerificationMethod,
    deadline_expression,
    one_month_after,
)

# A request names a handful of numbers (a caller's mobile and landline, an old number).
MAX_NUMBERS = 10
# Clocks drift: a receipt stamped a few minutes ahead of the server is not "in the future".
_CLOCK_SKEW = timedelta(minutes=5)


def _require_permission(actor, tenant_id: int, permission: str, doing: str) -> None:
    # The API (a tenant's key) and tasks act with no person: their caller has checked the key.
    if actor is not None and not tenant_permits(actor, tenant_id, permission):
        raise Refused(
            format_lazy(_("you may not {doing} for this tenant"), doing=doing),
            field="actor",
            status=403,
        )


def subject_numbers_normalise(tenant: Tenant, numbers: list[str]) -> list[str]:
    """The subject's numbers in E.164 (the form recordings and consents store), read in the
    tenant's country when written nationally; duplicates dropped, order kept."""
    raw = [str(number).strip() for number in numbers if str(number).strip()]
    if len(raw) > MAX_NUMBERS:
        raise Refused(
            format_lazy(_("at most {max_numbers} numbers per request"), max_numbers=MAX_NUMBERS),
            field="customer_numbers",
        )
    normalised = []
    for number in raw:
        try:
            normalised.append(normalise_number(number, default_region=tenant.country_code))
        except InvalidNumber as error:
            raise Refused(
                format_lazy(_("{value}: {error}"), value=repr(number[:40]), error=error),
                field="customer_numbers",
                for_trail=str(error),
            ) from error
    return list(dict.fromkeys(normalised))


def due_on_for(tenant: Tenant, received_at: datetime) -> date:
    """The first month's last day: one calendar month after the day of receipt (tenant time)."""
    return one_month_after(tenant_day(received_at, tenant))


def open_duplicate(
    *, tenant: Tenant, kind: str, numbers: list[str], subject_reference: str
) -> SubjectRequest | None:
    """An open request of the same kind for the same subject (a number in common, or the same
    reference), the oldest first."""
    same_subject = Q(customer_numbers__overlap=numbers) if numbers else Q(pk__in=[])
    if subject_reference:
        same_subject |= Q(subject_reference=subject_reference)
    return (
        SubjectRequest.objects.filter(tenant=tenant, kind=kind, status__in=OPEN_STATUSES)
        .filter(same_subject)
        .order_by("received_at", "pk")
        .first()
    )


def _objection_purpose(tenant: Tenant, kind: str, purpose: Purpose | str | None) -> Purpose | None:
    if kind != RequestKind.OBJECTION:
        if purpose:
            raise Refused(_("only an objection names a purpose"), field="objection_purpose")
        return None
    if not purpose:
        raise Refused(
            _("an objection names the legitimate-interest purpose objected to"),
            field="objection_purpose",
        )
    if isinstance(purpose, str):
        found = Purpose.objects.by_code(tenant, purpose)
        if found is None:
            raise Refused(
                format_lazy(_("unknown purpose {value}"), value=repr(purpose[:60])),
                field="objection_purpose",
            )
        purpose = found
    if purpose.tenant_id not in (None, tenant.pk):
        raise Refused(_("a purpose of another tenant"), field="objection_purpose")
    if purpose.legal_basis != LegalBasis.LEGITIMATE_INTEREST:
        raise Refused(
            format_lazy(
                _(
                    "{name} does not rest on legitimate interest: Art. 21 objection "
                    "applies to legitimate-interest processing (consent is withdrawn "
                    "instead)"
                ),
                name=purpose.name,
            ),
            field="objection_purpose",
        )
    return purpose


@names_its_actor
@transaction.atomic
def subject_request_receive(
    *,
    actor,
    tenant: Tenant,
    kind: str,
    customer_numbers: list[str] = (),
    subject_reference: str = "",
    channel: str,
    received_at: datetime | None = None,
    requester_name: str = "",
    requester_contact: str = "",
    language: str = RequestLanguage.ENGLISH,
    objection_purpose: Purpose | str | None = None,
    api_key=None,
) -> SubjectRequest:
    """Register a request as received, with its due date; flagged when an open request of the
    same kind for the same subject exists (it is still registered: the requester asked again)."""
    _require_permission(actor, tenant.pk, "compliance.add_subjectrequest", _("receive requests"))
    if kind not in RequestKind.values:
        raise Refused(
            format_lazy(_("kind must be one of {value}"), value=", ".join(RequestKind.values)),
            field="kind",
        )
    if channel not in RequestChannel.values:
        raise Refused(
            format_lazy(
                _("channel must be one of {value}"), value=", ".join(RequestChannel.values)
            ),
            field="channel",
        )
    if language not in RequestLanguage.values:
        raise Refused(
            format_lazy(
                _("language must be one of {value}"), value=", ".join(RequestLanguage.values)
            ),
            field="language",
        )
    numbers = subject_numbers_normalise(tenant, list(customer_numbers))
    subject_reference = subject_reference.strip()
    refuse_longer_than(subject_reference, 128, field="subject_reference")
    refuse_longer_than(requester_name.strip(), 200, field="requester_name")
    refuse_longer_than(requester_contact.strip(), 300, field="requester_contact")
    if not numbers and not subject_reference:
        raise Refused(
            _("name the subject: one or more customer numbers, or a subject reference"),
            field="customer_numbers",
        )
    now = timezone.now()
    received_at = received_at or now
    refuse_outside_date_window(received_at, field="received_at")
    if received_at > now + _CLOCK_SKEW:
        raise Refused(_("received_at is in the future"), field="received_at")
    purpose = _objection_purpose(tenant, kind, objection_purpose)
    duplicate = open_duplicate(
        tenant=tenant, kind=kind, numbers=numbers, subject_reference=subject_reference
    )
    request = SubjectRequest.objects.create(
        tenant=tenant,
        kind=kind,
        customer_numbers=numbers,
        subject_reference=subject_reference,
        requester_name=requester_name.strip(),
        requester_contact=requester_contact.strip(),
        language=language,
        channel=channel,
        received_at=received_at,
        due_on=due_on_for(tenant, received_at),
        objection_purpose=purpose,
        api_key=api_key,
        duplicate_of=duplicate,
        handled_by=actor,
    )
    event_record(
        action="subject_request.received",
        tenant=tenant,
        target=request,
        extra={
            "kind": kind,
            "channel": channel,
            "due_on": request.due_on.isoformat(),
            "numbers": len(numbers),
            "subject_reference": bool(subject_reference),
            "duplicate_of": duplicate.pk if duplicate else None,
            "objection_purpose": purpose.code if purpose else "",
            "api_key": api_key.prefix if api_key else "",
        },
    )
    return request


def subject_request_view_record(*, user, request: SubjectRequest) -> None:
    """Someone opened the request (it names the subject: personal data)."""
    with transaction.atomic():
        event_record(action="subject_request.viewed", tenant=request.tenant_id, target=request)


def _locked(request: SubjectRequest) -> SubjectRequest:
    return SubjectRequest.objects.select_for_update().select_related("tenant").get(pk=request.pk)


def _require_open(request: SubjectRequest) -> None:
    if not request.is_open:
        raise Refused(
            format_lazy(
                _("the request is already closed ({status})"),
                status=RequestStatus(request.status).label,
            ),
            field="status",
        )


def _changed(request: SubjectRequest, action: str, **extra) -> None:
    event_record(action=action, tenant=request.tenant_id, target=request, extra=extra)


@names_its_actor
@transaction.atomic
def subject_request_take(*, actor, request: SubjectRequest) -> SubjectRequest:
    """The actor handles the request from now on."""
    locked = _locked(request)
    _require_permission(actor, locked.tenant_id, "compliance.change_subjectrequest", _("handle it"))
    _require_open(locked)
    previous = locked.handled_by
    locked.handled_by = actor
    locked.save(update_fields=["handled_by"])
    _changed(
        locked,
        "subject_request.assigned",
        handler=actor.get_username(),
        previous=previous.get_username() if previous else "",
    )
    return locked


@names_its_actor
@transaction.atomic
def subject_request_start_verification(*, actor, request: SubjectRequest) -> SubjectRequest:
    """Received → verifying identity (the requester is asked for proof)."""
    locked = _locked(request)
    _require_permission(actor, locked.tenant_id, "compliance.change_subjectrequest", _("handle it"))
    if locked.status != RequestStatus.RECEIVED:
        raise Refused(
            format_lazy(
                _("identity verification starts from Received, not {status}"),
                status=RequestStatus(locked.status).label,
            ),
            field="status",
        )
    locked.status = RequestStatus.VERIFYING
    locked.handled_by = locked.handled_by or actor
    locked.save(update_fields=["status", "handled_by"])
    _changed(locked, "subject_request.status_changed", old="received", new="verifying")
    return locked


@names_its_actor
@transaction.atomic
def subject_request_verify_identity(
    *, actor, request: SubjectRequest, method: str, note: str = ""
) -> SubjectRequest:
    """The requester is who they say: how it was checked, by whom, when. The request is then in
    progress; nothing is disclosed or deleted before this."""
    locked = _locked(request)
    _require_permission(
        actor, locked.tenant_id, "compliance.change_subjectrequest", _("verify identities")
    )
    _require_open(locked)
    if locked.identity_verified:
        raise Refused(_("the identity is already verified"), field="identity_method")
    if method not in VerificationMethod.values:
        raise Refused(_("choose how the identity was verified"), field="identity_method")
    note = note.strip()
    refuse_longer_than(note, limits.SUBJECT_REQUEST_TEXT, field="identity_note")
    if method == VerificationMethod.OTHER and not note:
        raise Refused(_("describe how the identity was verified"), field="identity_note")
    old = locked.status
    locked.identity_method = method
    locked.identity_note = note
    locked.identity_verified_at = timezone.now()
    locked.identity_verified_by = actor
    locked.status = RequestStatus.IN_PROGRESS
    locked.handled_by = locked.handled_by or actor
    locked.save()
    _changed(locked, "subject_request.identity_verified", method=method, old=old, new="in_progress")
    return locked


@names_its_actor
@transaction.atomic
def subject_request_extend(
    *, actor, request: SubjectRequest, months: int, reason: str, told_on: date
) -> SubjectRequest:
    """Extend the answer's deadline by one or two months (two at most in all), with the reason
    the requester was told, within the first month (Art. 12(3))."""
    locked = _locked(request)
    _require_permission(actor, locked.tenant_id, "compliance.change_subjectrequest", _("extend it"))
    _require_open(locked)
    today = locked.tenant.today()
    if today > locked.due_on:
        raise Refused(
            format_lazy(
                _(
                    "the first month ended on {isoformat}: an extension must be "
                    "decided and told to the requester within it (GDPR Art. 12(3))"
                ),
                isoformat=locked.due_on.isoformat(),
            ),
            field="months",
        )
    if months not in (1, 2) or locked.extended_months + months > 2:
        raise Refused(
            format_lazy(
                _("an answer may be extended by two months at most (already {extended_months})"),
                extended_months=locked.extended_months,
            ),
            field="months",
        )
    reason = reason.strip()
    if not reason:
        raise Refused(_("the requester must be told why: give the reason"), field="reason")
    refuse_longer_than(reason, limits.SUBJECT_REQUEST_TEXT, field="reason")
    if told_on is None:
        raise Refused(_("the date the requester was told is required"), field="told_on")
    received = tenant_day(locked.received_at, locked.tenant)
    if not received <= told_on <= min(today, locked.due_on):
        raise Refused(
            format_lazy(
                _(
                    "the requester must be told between the receipt ({isoformat}) "
                    "and the end of the first month ({isoformat2}), and not in the "
                    "future"
                ),
                isoformat=received.isoformat(),
                isoformat2=locked.due_on.isoformat(),
            ),
            field="told_on",
        )
    # A second extension's reason is added to the first's: together within the ceiling.
    combined = f"{locked.extension_reason}\n{reason}" if locked.extension_reason else reason
    if len(combined) > limits.SUBJECT_REQUEST_TEXT:
        room = max(limits.SUBJECT_REQUEST_TEXT - len(locked.extension_reason) - 1, 0)
        raise Refused(
            format_lazy(
                _(
                    "reason: with the first extension's, the reasons would be longer "
                    "than {subject_request_text} characters; {room} remain for this "
                    "one"
                ),
                subject_request_text=limits.SUBJECT_REQUEST_TEXT,
                room=room,
            ),
            field="reason",
        )
    old_deadline = locked.deadline
    locked.extended_months += months
    locked.extension_reason = combined
    locked.requester_told_on = told_on
    locked.save(update_fields=["extended_months", "extension_reason", "requester_told_on"])
    _changed(
        locked,
        "subject_request.extended",
        months=months,
        old_deadline=old_deadline.isoformat(),
        new_deadline=locked.deadline.isoformat(),
        told_on=told_on.isoformat(),
    )
    return locked


@names_its_actor
@transaction.atomic
def subject_request_close(
    *, actor, request: SubjectRequest, status: str, outcome: str = "", refusal_reason: str = ""
) -> SubjectRequest:
    """Completed, refused or partially fulfilled: a refusal or a partial answer always has its
    reason (Art. 12(4)); completing needs the identity verified."""
    locked = _locked(request)
    _require_permission(actor, locked.tenant_id, "compliance.change_subjectrequest", _("close it"))
    _require_open(locked)
    if status not in (RequestStatus.COMPLETED, RequestStatus.REFUSED, RequestStatus.PARTIAL):
        raise Refused(_("close as completed, refused or partially fulfilled"), field="status")
    outcome, refusal_reason = outcome.strip(), refusal_reason.strip()
    refuse_longer_than(outcome, limits.SUBJECT_REQUEST_TEXT, field="outcome")
    refuse_longer_than(refusal_reason, limits.SUBJECT_REQUEST_TEXT, field="refusal_reason")
    if status in (RequestStatus.REFUSED, RequestStatus.PARTIAL) and not refusal_reason:
        raise Refused(
            _("a refusal, whole or partial, needs its reason (it is told to the requester)"),
            field="refusal_reason",
        )
    if status != RequestStatus.REFUSED and not locked.identity_verified:
        raise Refused(
            _("verify the requester's identity before answering the request"), field="status"
        )
    if status == RequestStatus.COMPLETED and refusal_reason:
        raise Refused(
            _("a completed request refuses nothing: close it as partially fulfilled"),
            field="refusal_reason",
        )
    old = locked.status
    locked.status = status
    locked.outcome = outcome
    locked.refusal_reason = refusal_reason
    locked.closed_at = timezone.now()
    locked.handled_by = locked.handled_by or actor
    locked.save()
    _changed(
        locked,
        "subject_request.closed",
        old=old,
        new=status,
        late=locked.tenant.today() > locked.deadline,
    )
    return locked


def subject_requests_nearly_due(*, within_days: int = 7):
    """Open requests whose deadline is within `within_days` days, or past, in their tenant's
    days: (request, days left) pairs, overdue ones with a negative count."""
    # No tenant's day is more than one ahead of the server's: the database keeps those that may
    # be due by then, and each is then counted on its own tenant's day.
    horizon = timezone.localdate() + timedelta(days=within_days + 1)
    candidates = (
        SubjectRequest.objects.filter(status__in=OPEN_STATUSES)
        .alias(deadline_on=deadline_expression())
        .filter(deadline_on__lte=horizon)
        .select_related("tenant", "handled_by")
        .order_by("deadline_on", "pk")
    )
    found = []
    for request in candidates.iterator(chunk_size=500):
        left = request.days_left()
        if left <= within_days:
            found.append((request, left))
    return found
