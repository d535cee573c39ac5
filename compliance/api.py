"""POST /api/v1/consents: the IVR or dialer pushes one caller's decision about one purpose.

The body is JSON (`application/json`) or a form (`application/x-www-form-urlencoded`, or
`multipart/form-data`). The view only reads the request and shapes the answer: authentication is
compliance.api_auth's and every rule is `consent_record`'s. What it checks itself is what only HTTP
knows: the method, the body's type and syntax (JSON nested too deep to read included), required
fields, a field holding a NUL character or a lone surrogate (which PostgreSQL cannot store), and
reading `decided_at` (ISO 8601 with its offset) into a date-time.

Every refusal names the field, writes no decision, and leaves a `consent.refused` event on the
trail in a transaction of its own (the refused work left nothing to roll back with it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import event_record
from kit.null_characters import storable_values, unstorable
from kit.refusals import Refused

from .api_auth import api_actor, api_error, api_key_required
from .models import ApiKey, Consent, Tenant
from .services.consents import consent_in_force, consent_record

REQUIRED_FIELDS = ("customer_number", "purpose", "decision", "decided_at", "channel")
EVIDENCE_FIELDS = (
    "subject_reference",
    "ivr_prompt_id",
    "ivr_prompt_version",
    "call_id",
    "operator",
)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def consent_refusal_record(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    fields: Mapping[str, object],
    refusal: Refused,
) -> None:
    """A refused decision goes on the tenant's trail. No customer number in it: the trail is
    append-only and must not keep personal data that an erasure could not reach. Nor a value
    holding what it could not store, a NUL or a lone surrogate (the refusal names that field)."""
    fields = storable_values(fields)
    call_id = str(fields.get("call_id", "") or "")[:128]
    with transaction.atomic():
        event_record(
            action="consent.refused",
            tenant=tenant,
            outcome=Outcome.DENIED,
            target_type="compliance.consent",
            target_label=f"decision of call {call_id}" if call_id else "",
            extra={
                "field": refusal.field,
                "reason": refusal.for_trail,
                "status": refusal.status,
                "api_key": api_key.prefix if api_key else "",
                "purpose": str(fields.get("purpose", "") or "")[:60],
                "decision": str(fields.get("decision", "") or "")[:20],
                "channel": str(fields.get("channel", "") or "")[:20],
            },
        )


def _refuse(request: HttpRequest, refusal: Refused, fields: Mapping[str, object]) -> JsonResponse:
    consent_refusal_record(
        tenant=request.tenant, api_key=request.api_key, fields=fields, refusal=refusal
    )
    return api_error(refusal.message, field=refusal.field, status=refusal.status)


def json_object_read(raw: bytes) -> dict[str, object]:
    """A JSON body that must be an object; Refused naming `body` (shared by the API's views)."""
    try:
        body = json.loads(raw)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError both
        raise Refused(
            format_lazy(_("the body is not valid JSON ({error})"), error=error), field="body"
        ) from error
    except RecursionError as error:  # [[[[... within the size limit
        raise Refused(_("the body's JSON is nested too deep to read"), field="body") from error
    if not isinstance(body, dict):
        raise Refused(_("the body must be a JSON object"), field="body")
    return body


def _read_body(request: HttpRequest) -> dict[str, object]:
    """The request's fields, from a JSON object or a form; Refused naming `body`."""
    try:
        if request.content_type == "application/json":
            return json_object_read(request.body)
        if request.content_type in FORM_TYPES:
            return {name: request.POST[name] for name in request.POST}
    except RequestDataTooBig as error:
        raise Refused(_("the body is too large"), field="body", status=413) from error
    except (MultiPartParserError, SuspiciousOperation) as error:
        raise Refused(
            format_lazy(_("unreadable form body ({error})"), error=error), field="body"
        ) from error
    raise Refused(
        _("send the decision as application/json or as a form (application/x-www-form-urlencoded)"),
        field="body",
        status=415,
    )


def text_field(fields: Mapping[str, object], name: str) -> str:
    """The field's text, stripped ("" when absent); Refused naming it when it is no string or
    holds what PostgreSQL cannot store. Shared by the API's views."""
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        # A JSON number is read as its digits (a phone number, a prompt version); anything else
        # (true, a list, an object) is a client's mistake worth naming.
        raise Refused(format_lazy(_("{name} must be a string"), name=name), field=name)
    problem = unstorable(value)
    if problem is not None:  # PostgreSQL cannot store it: a 400 naming the field, not a 500
        raise Refused(
            format_lazy(_("{name} must not contain {problem}"), name=name, problem=problem),
            field=name,
        )
    return str(value).strip()


def _decided_at(raw: str) -> datetime | None:
    """The instant, or None when it is missing; naive instants are left to `consent_check`."""
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise Refused(
            _(
                "decided_at must be an ISO 8601 date-time with its offset, "
                "e.g. 2026-11-28T09:15:00+01:00"
            ),
            field="decided_at",
        )
    return value


def tenant_time(tenant: Tenant, instant: datetime) -> str:
    """An instant as the tenant (the data controller) reads it: its own time zone, with offset."""
    return timezone.localtime(instant, ZoneInfo(tenant.time_zone)).isoformat()


def consent_body(request: HttpRequest, consent: Consent) -> dict[str, object]:
    in_force = consent_in_force(
        tenant=consent.tenant, customer_number=consent.customer_number, purpose=consent.purpose
    )
    return {
        "id": consent.pk,
        "customer_number": consent.customer_number,
        "purpose": consent.purpose.code,
        "decision": consent.decision,
        "decided_at": tenant_time(consent.tenant, consent.decided_at),
        "decision_in_force": in_force.decision if in_force else None,
        "receipt_url": request.build_absolute_uri(reverse("consent_receipt", args=[consent.pk])),
    }


@api_key_required
def consents_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = api_error("only POST is allowed here", field="method", status=405)
        response["Allow"] = "POST"
        return response
    fields: dict[str, object] = {}
    try:
        fields = _read_body(request)
        values = {name: text_field(fields, name) for name in (*REQUIRED_FIELDS, *EVIDENCE_FIELDS)}
        for name in REQUIRED_FIELDS:
            if not values[name]:
                raise Refused(format_lazy(_("{name} is required"), name=name), field=name)
        consent = consent_record(
            recorded_by=api_actor(request.api_key),
            tenant=request.tenant,
            customer_number=values["customer_number"],
            purpose_code=values["purpose"],
            decision=values["decision"],
            decided_at=_decided_at(values["decided_at"]),
            channel=values["channel"],
            **{name: values[name] for name in EVIDENCE_FIELDS},
        )
    except Refused as refusal:
        return _refuse(request, refusal, fields)
    return JsonResponse(consent_body(request, consent), status=201)
