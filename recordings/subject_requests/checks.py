"""What every step that acts on a subject's recordings checks first, the same way each time: a
person whose role in the request's tenant may handle requests, the request of the right kind,
still open, and the requester's identity verified (GDPR Art. 12(6): nothing is disclosed, deleted,
restricted or corrected before). Each refusal names the field at fault."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.text import format_lazy, get_text_list
from django.utils.translation import gettext_lazy as _

from compliance.models import RequestKind, RequestStatus, SubjectRequest
from compliance.roles import tenant_permits
from kit.limits import refuse_longer_than
from kit.null_characters import unstorable
from kit.refusals import Refused

HANDLE = "compliance.change_subjectrequest"


def require_handler(actor, request: SubjectRequest, doing: str) -> None:
    """A person (these steps act on personal data for good: no task or key does them) whose role
    in the request's tenant handles data-subject requests."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Refused(
            format_lazy(_("a person handling the request must {doing}"), doing=doing),
            field="actor",
            status=403,
        )
    if not tenant_permits(actor, request.tenant_id, HANDLE):
        raise Refused(
            format_lazy(_("you may not {doing} for this tenant"), doing=doing),
            field="actor",
            status=403,
        )


def require_kind(request: SubjectRequest, kinds: Iterable[RequestKind], doing: str) -> None:
    kinds = tuple(kinds)
    if request.kind not in kinds:
        # "access or portability", in the reader's language when the message is read.
        wanted = get_text_list([RequestKind(kind).label for kind in kinds], _("or"))
        raise Refused(
            format_lazy(
                _("only a request for {wanted} may {doing}; this one is a request for {kind}"),
                wanted=wanted,
                doing=doing,
                kind=RequestKind(request.kind).label,
            ),
            field="kind",
        )


def require_open(request: SubjectRequest) -> None:
    if not request.is_open:
        raise Refused(
            format_lazy(
                _("the request is already closed ({status})"),
                status=RequestStatus(request.status).label,
            ),
            field="status",
        )


def require_identity(request: SubjectRequest) -> None:
    if not request.identity_verified:
        raise Refused(
            _(
                "verify the requester's identity first: nothing is disclosed, deleted, restricted "
                "or corrected before (GDPR Art. 12(6))"
            ),
            field="identity_method",
        )


def require_request(
    actor, request: SubjectRequest, kinds: Iterable[RequestKind], doing: str
) -> None:
    """All four, in the order a handler can act on."""
    require_handler(actor, request, doing)
    require_kind(request, kinds, doing)
    require_open(request)
    require_identity(request)


def locked(request: SubjectRequest) -> SubjectRequest:
    """The request's row, locked for the rest of the transaction (two handlers acting at once
    take turns)."""
    return SubjectRequest.objects.select_for_update().select_related("tenant").get(pk=request.pk)


def clean_text(value: object, *, field: str, limit: int, required: bool = False) -> str:
    """Free text a handler typed: storable, within its ceiling, present when required."""
    problem = unstorable(value)
    if problem is not None:
        raise Refused(
            format_lazy(_("{field} must not contain {problem}"), field=field, problem=problem),
            field=field,
        )
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise Refused(format_lazy(_("{field} is required"), field=field), field=field)
    refuse_longer_than(text, limit, field=field)
    return text
