"""POST /api/v1/dnc/opt-outs: the dialer adds a number to its tenant's internal do-not-call
opt-outs (a person asked on the phone never to be called for marketing again).

The body is a JSON object: `number` (required; a national number is read in the tenant's
country), `note` (optional). `201` with the opt-out when it is new, `200` with the one already
there (adding it again changes nothing: an opt-out never expires). The key names the tenant. The
view reads the request and shapes the answer; every rule is
compliance/services/dnc_opt_outs.py::dnc_opt_out_add's. Every refusal names the field, adds
nothing, and leaves a `dnc_opt_out.refused` event without the number.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import event_record
from kit.refusals import Refused

from .api import json_object_read, tenant_time, text_field
from .api_auth import api_actor, api_error, api_key_required
from .dnc_models import DncOptOut, OptOutChannel
from .services.dnc_opt_outs import dnc_opt_out_add

# A number and a note (at most 2,000 characters): 16 KiB is far above any real body.
MAX_BODY_BYTES = 16 * 1024


def _refuse(request: HttpRequest, refusal: Refused) -> JsonResponse:
    with transaction.atomic():
        event_record(
            action="dnc_opt_out.refused",
            tenant=request.tenant,
            outcome=Outcome.DENIED,
            target_type=DncOptOut._meta.label_lower,
            extra={
                "field": refusal.field,
                "reason": refusal.for_trail[:500],
                "status": refusal.status,
                "api_key": request.api_key.prefix,
            },
        )
    return api_error(refusal.message, field=refusal.field, status=refusal.status)


def _read_body(request: HttpRequest) -> Mapping[str, object]:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise Refused(
            format_lazy(
                _("the body is larger than {max_body_bytes} bytes"), max_body_bytes=MAX_BODY_BYTES
            ),
            field="body",
            status=413,
        )
    if request.content_type != "application/json":
        raise Refused(_("send the opt-out as application/json"), field="body", status=415)
    try:
        body = request.body
    except RequestDataTooBig as error:
        raise Refused(_("the body is too large"), field="body", status=413) from error
    if len(body) > MAX_BODY_BYTES:
        raise Refused(
            format_lazy(
                _("the body is larger than {max_body_bytes} bytes"), max_body_bytes=MAX_BODY_BYTES
            ),
            field="body",
            status=413,
        )
    return json_object_read(body)


def opt_out_body(opt_out: DncOptOut, created: bool) -> dict[str, object]:
    return {
        "number": opt_out.number,
        "channel": opt_out.channel,
        "added_at": tenant_time(opt_out.tenant, opt_out.added_at),
        "created": created,
    }


@api_key_required
def dnc_opt_outs_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = api_error("only POST is allowed here", field="method", status=405)
        response["Allow"] = "POST"
        return response
    try:
        fields = _read_body(request)
        number = text_field(fields, "number")
        if not number:
            raise Refused(_("number is required"), field="number")
        opt_out, created = dnc_opt_out_add(
            actor=api_actor(request.api_key),
            tenant=request.tenant,
            number=number,
            channel=OptOutChannel.API,
            note=text_field(fields, "note"),
        )
    except Refused as refusal:
        return _refuse(request, refusal)
    return JsonResponse(opt_out_body(opt_out, created), status=201 if created else 200)
