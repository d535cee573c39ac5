"""POST /api/v1/subject-requests: a tenant's front office files a data subject's request (access,
erasure, objection...) with its API key, and gets back the request's id and the day its answer is
due (GDPR Art. 12(3): one calendar month after receipt, in the tenant's days).

The body is a JSON object or a form. The view reads it and shapes the answer; authentication
and rate limits are compliance.api_auth's, every rule is `subject_request_receive`'s. What only
HTTP knows is checked here: the method, the body's size, type and syntax, the fields' types (a
list of numbers, or one `customer_number`), a NUL or a lone surrogate in any field, and reading
`received_at` (ISO 8601 with its offset). The key names the tenant: a body naming another tenant
is refused, and so is another tenant's purpose (found like an unknown one).

Nothing is looked up about the subject here: whether the tenant holds anything is told in the
answer, once the requester's identity is verified (Art. 12(6)); a subject with nothing found is
still a request to register and answer.

Every refusal names the field, registers nothing, and leaves a `subject_request.api_refused`
event on the trail in a transaction of its own, without the subject's numbers, name or address
(the trail is append-only: it must not keep what an erasure could not reach).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import event_record
from kit.null_characters import unstorable
from kit.refusals import Refused

from .api import FORM_TYPES, json_object_read, text_field
from .api_auth import api_error, api_key_required
from .models import ApiKey, SubjectRequest, Tenant
from .services.subject_requests import MAX_NUMBERS, subject_request_receive
from .subject_request_models import RequestChannel, RequestLanguage

# A request is a few short fields (10 numbers at most, a name, an address): 16 KiB is far above
# any real one and keeps a client from making the portal parse megabytes of JSON.
MAX_BODY_BYTES = 16 * 1024
TEXT_FIELDS = (
    "kind",
    "subject_reference",
    "received_at",
    "requester_name",
    "requester_contact",
    "language",
    "objection_purpose",
    "tenant",
)


def subject_request_refusal_record(
    *, tenant: Tenant, api_key: ApiKey | None, fields: Mapping[str, object], refusal: Refused
) -> None:
    """A refused request goes on the tenant's trail: the field, why (the refusal's wording for
    the trail, which quotes no number), the key; never the subject's numbers, name or address."""
    reason = refusal.for_trail
    kind = fields.get("kind")
    with transaction.atomic():
        event_record(
            action="subject_request.api_refused",
            tenant=tenant,
            outcome=Outcome.DENIED,
            target_type=SubjectRequest._meta.label_lower,
            extra={
                "field": refusal.field,
                "reason": reason[:500],
                "status": refusal.status,
                "api_key": api_key.prefix if api_key else "",
                "kind": kind[:20] if isinstance(kind, str) and unstorable(kind) is None else "",
            },
        )


def _checked_size(request: HttpRequest) -> None:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise Refused(
            format_lazy(
                _("the body is larger than {max_body_bytes} bytes ({declared})"),
                max_body_bytes=MAX_BODY_BYTES,
                declared=declared,
            ),
            field="body",
            status=413,
        )


def _read_body(request: HttpRequest) -> dict[str, object]:
    """The fields from a JSON object or a form (where customer_numbers may be repeated)."""
    _checked_size(request)
    try:
        if request.content_type == "application/json":
            if len(request.body) > MAX_BODY_BYTES:  # a body longer than it declared
                raise Refused(
                    format_lazy(
                        _("the body is larger than {max_body_bytes} bytes"),
                        max_body_bytes=MAX_BODY_BYTES,
                    ),
                    field="body",
                    status=413,
                )
            return json_object_read(request.body)
        if request.content_type in FORM_TYPES:
            fields: dict[str, object] = {name: request.POST[name] for name in request.POST}
            if "customer_numbers" in request.POST:
                fields["customer_numbers"] = request.POST.getlist("customer_numbers")
            return fields
    except RequestDataTooBig as error:
        raise Refused(_("the body is too large"), field="body", status=413) from error
    except (MultiPartParserError, SuspiciousOperation) as error:
        raise Refused(
            format_lazy(_("unreadable form body ({error})"), error=error), field="body"
        ) from error
    raise Refused(
        _("send the request as application/json or as a form (application/x-www-form-urlencoded)"),
        field="body",
        status=415,
    )


def _numbers(fields: Mapping[str, object]) -> list[str]:
    """customer_numbers (a list, or one number) and customer_number (one), as text."""
    given = fields.get("customer_numbers")
    if given is None:
        given = []
    elif isinstance(given, str | int) and not isinstance(given, bool):
        given = [given]
    elif not isinstance(given, list):
        raise Refused(
            _("customer_numbers must be a list of phone numbers"), field="customer_numbers"
        )
    # Refused before each item is read: a 16 KiB body holds thousands.
    if len(given) > MAX_NUMBERS:
        raise Refused(
            format_lazy(
                _("at most {max_numbers} numbers per request ({value} given)"),
                max_numbers=MAX_NUMBERS,
                value=len(given),
            ),
            field="customer_numbers",
        )
    numbers = []
    for position, number in enumerate(given):
        if isinstance(number, bool) or not isinstance(number, str | int):
            raise Refused(
                format_lazy(
                    _("customer_numbers[{position}] must be a phone number as a string"),
                    position=position,
                ),
                field="customer_numbers",
            )
        problem = unstorable(number)
        if problem is not None:
            raise Refused(
                format_lazy(
                    _("customer_numbers[{position}] must not contain {problem}"),
                    position=position,
                    problem=problem,
                ),
                field="customer_numbers",
            )
        numbers.append(str(number))
    single = text_field(fields, "customer_number")
    if single:
        numbers.append(single)
    return numbers


def _received_at(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Refused(
            _(
                "received_at must be an ISO 8601 date-time with its offset, "
                "e.g. 2026-11-28T09:15:00+01:00"
            ),
            field="received_at",
        )
    return value


def _own_tenant_only(tenant: Tenant, named: str) -> None:
    """A key files requests for its own tenant; naming any other (or one that does not exist: the
    answer is the same) is refused."""
    if named and named not in (tenant.slug, str(tenant.pk)):
        raise Refused(
            _("an API key files requests for its own tenant only: leave tenant out"),
            field="tenant",
            status=403,
        )


def subject_request_body(request: SubjectRequest) -> dict[str, object]:
    return {
        "id": request.pk,
        "kind": request.kind,
        "status": request.status,
        "due_on": request.due_on.isoformat(),
        "duplicate_of": request.duplicate_of_id,
    }


@api_key_required
def subject_requests_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = api_error("only POST is allowed here", field="method", status=405)
        response["Allow"] = "POST"
        return response
    fields: dict[str, object] = {}
    try:
        fields = _read_body(request)
        values = {name: text_field(fields, name) for name in TEXT_FIELDS}
        _own_tenant_only(request.tenant, values["tenant"])
        if not values["kind"]:
            raise Refused(_("kind is required"), field="kind")
        subject_request = subject_request_receive(
            actor=None,
            api_key=request.api_key,
            tenant=request.tenant,
            kind=values["kind"],
            customer_numbers=_numbers(fields),
            subject_reference=values["subject_reference"],
            channel=RequestChannel.API,
            received_at=_received_at(values["received_at"]),
            requester_name=values["requester_name"],
            requester_contact=values["requester_contact"],
            language=values["language"] or RequestLanguage.ENGLISH,
            objection_purpose=values["objection_purpose"] or None,
        )
    except Refused as refusal:
        subject_request_refusal_record(
            tenant=request.tenant, api_key=request.api_key, fields=fields, refusal=refusal
        )
        return api_error(refusal.message, field=refusal.field, status=refusal.status)
    return JsonResponse(subject_request_body(subject_request), status=201)
