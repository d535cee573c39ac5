"""Objection (GDPR Art. 21) to a purpose resting on legitimate interest.

From its acceptance, ingestion refuses a new recording of any of the request's numbers for the
objected purpose with a 409 naming the objection, as it refuses a caller's refused consent
(recordings/services/ingest.py::_refuse_objected, one part of the upload's single lookup). The
subject's existing recordings of that purpose are erased through the erasure's own machinery
(recordings/subject_requests/erasure.py::erasure_execute), unless the handler records compelling
legitimate grounds that override the subject's interests (Art. 21(1)): they are then kept, and
the report says so. A restriction the objection applied while it was decided (Art. 18(1)(d)) ends
with the decision."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from compliance.models import LegalBasis, RequestKind, SubjectRequest
from kit import limits
from kit.refusals import Refused
from kit.times import in_tenant_zone

from .checks import clean_text, locked, require_request
from .erasure import erasure_execute
from .restriction import restriction_end


@transaction.atomic
def _accept(*, actor, request: SubjectRequest, compelling_ground: str) -> SubjectRequest:
    request = locked(request)
    require_request(actor, request, [RequestKind.OBJECTION], _("accept an objection"))
    if request.objection_accepted_at is not None:
        raise Refused(
            format_lazy(
                _("the objection was accepted on {value}"),
                value=in_tenant_zone(request.objection_accepted_at, request.tenant),
            ),
            field="objection_accepted_at",
            status=409,
        )
    purpose = request.objection_purpose
    if purpose is None or purpose.legal_basis != LegalBasis.LEGITIMATE_INTEREST:
        # Art. 21(1): the right to object is to processing resting on Art. 6(1)(e) or (f).
        raise Refused(
            _("only a purpose resting on legitimate interest can be objected to"),
            field="objection_purpose",
        )
    ground = clean_text(
        compelling_ground, field="compelling_ground", limit=limits.SUBJECT_REQUEST_TEXT
    )
    request.objection_accepted_at = timezone.now()
    request.compelling_ground = ground
    request.save(update_fields=["objection_accepted_at", "compelling_ground"])
    event_record(
        action="subject_request.objection_accepted",
        tenant=request.tenant_id,
        target=request,
        purpose=purpose.code,
        extra={
            "purpose": purpose.code,
            "numbers": len(request.customer_numbers),
            # The ground is free text on the request; the trail says only that there is one.
            "compelling_ground": bool(ground),
        },
    )
    if request.restriction_in_force:
        restriction_end(request, "the objection was decided (GDPR Art. 18(1)(d))")
    return request


@names_its_actor
def objection_accept(
    *,
    actor,
    request: SubjectRequest,
    compelling_ground: str = "",
    claims: Mapping | None = None,
) -> SubjectRequest:
    """Accept the objection: from its commit, new recordings of the numbers for the purpose are
    refused at ingest; then the existing ones are erased (or, with a compelling ground, kept),
    and the report attached (see erasure_execute; `claims` as there). If the erasure is
    interrupted, the acceptance stands and erasure_execute on the request resumes it."""
    accepted = _accept(actor=actor, request=request, compelling_ground=compelling_ground)
    erasure_execute(actor=actor, request=accepted, claims=claims)
    accepted.refresh_from_db()
    return accepted
