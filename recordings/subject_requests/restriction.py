"""Restriction of processing (GDPR Art. 18): the subject's recordings stay stored, are not
deleted by the purge (recordings/models.py::RecordingQuerySet.not_restricted) nor erased for
another request, and are heard or downloaded only by the tenant's compliance officer for a legal
claim (recordings/services/access.py) until the restriction is lifted.

Applied by a restriction request (Art. 18(1)(a) to (c)), or by an objection while it is decided
(Art. 18(1)(d): the objection's acceptance ends it). It covers the subject's active recordings at
the time it is applied; recordings that arrive later are not restricted by it. Lifting needs a
reason, and the subject must have been told beforehand (Art. 18(3)); it may be lifted after the
request is closed, since a restriction outlives the answer to the request."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from compliance.models import RequestKind, SubjectRequest
from kit import limits, locks
from kit.refusals import Refused
from kit.times import in_tenant_zone

from ..models import Status
from .checks import clean_text, locked, require_handler, require_request
from .finder import subject_data_find

RESTRICTING_KINDS = (RequestKind.RESTRICTION, RequestKind.OBJECTION)


@names_its_actor
@transaction.atomic
def restriction_apply(*, actor, request: SubjectRequest) -> SubjectRequest:
    """Restrict the subject's active recordings from now on."""
    request = locked(request)
    require_request(actor, request, RESTRICTING_KINDS, _("restrict the subject's recordings"))
    if request.restriction_in_force:
        raise Refused(
            format_lazy(
                _("the restriction is in force since {value}"),
                value=in_tenant_zone(request.restricted_at, request.tenant),
            ),
            field="restricted_at",
            status=409,
        )
    # As a legal hold's placement: deletions in flight in the tenant finish first, and those
    # that start later see the restriction (kit/locks.py::hold_placement_lock).
    locks.hold_placement_lock(request.tenant_id)
    recordings = list(
        subject_data_find(request)
        .recordings.filter(status=Status.ACTIVE)
        .values_list("pk", flat=True)
    )
    if not recordings:
        raise Refused(
            _("the subject has no recording to restrict (none of their numbers or reference)"),
            field="restricted_recordings",
        )
    request.restricted_recordings.set(recordings)
    request.restricted_at = timezone.now()
    request.restriction_lifted_at = None
    request.save(update_fields=["restricted_at", "restriction_lifted_at"])
    event_record(
        action="subject_request.restricted",
        tenant=request.tenant_id,
        target=request,
        extra={"recordings": recordings},
    )
    return request


def restriction_end(request: SubjectRequest, reason: str) -> None:
    """End the request's restriction now, in the caller's transaction, on the trail with why.
    The request's row is the caller's, locked."""
    request.restriction_lifted_at = timezone.now()
    request.save(update_fields=["restriction_lifted_at"])
    event_record(
        action="subject_request.restriction_lifted",
        tenant=request.tenant_id,
        target=request,
        justification=reason,
        extra={"recordings": sorted(request.restricted_recordings.values_list("pk", flat=True))},
    )


@names_its_actor
@transaction.atomic
def restriction_lift(*, actor, request: SubjectRequest, reason: str) -> SubjectRequest:
    """Lift the request's restriction, with the reason (the subject told beforehand, Art. 18(3)).
    Its recordings are then processed, and purged when their retention has ended, as before."""
    request = locked(request)
    require_handler(actor, request, _("lift a restriction"))
    if not request.restriction_in_force:
        raise Refused(_("no restriction of this request is in force"), field="restricted_at")
    reason = clean_text(reason, field="reason", limit=limits.SUBJECT_REQUEST_TEXT, required=True)
    restriction_end(request, reason)
    return request
