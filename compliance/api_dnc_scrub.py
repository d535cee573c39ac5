"""POST /api/v1/dnc/scrub?campaign=<id>: a CSV file of numbers in the body, the callable rows
back; GET /api/v1/dnc/scrubs/<id>/removed: the removed rows with their reasons, while kept.

The body is read as it arrives, in any size (send its Content-Length: `curl --data-binary
@file.csv`). The answer, 200, is the callable rows as CSV (the file's own rows, header first),
and in its headers the summary:

    X-Scrub-Id: 6f1c...                 X-Scrub-Rows: 120000
    X-Scrub-Callable: 118200            X-Scrub-Removed: 1800
    X-Scrub-Removed-By: bloctel=1500, internal=290, invalid_number=10
    X-Scrub-Removed-Url: /api/v1/dnc/scrubs/6f1c.../removed
    X-Scrub-Removed-Expires: 2026-12-08T10:00:00+01:00

A bad file is a 400 naming `body` (nothing kept); a missing or malformed campaign a 400 naming
`campaign`, another tenant's a 404. The rules are compliance/services/dnc_scrubs.py's.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext

from kit.refusals import Refused

from .api import tenant_time
from .api_auth import api_actor, api_error, api_key_required
from .api_dnc_check import campaign_of
from .dnc_models import DncScrub
from .services.dnc_scrubs import callable_rows, dnc_scrub_removed_rows, dnc_scrub_run


def _only(request: HttpRequest, method: str) -> HttpResponse | None:
    if request.method == method:
        return None
    response = api_error(
        gettext("only %(method)s is allowed here") % {"method": method}, field="method", status=405
    )
    response["Allow"] = method
    return response


def _declared_bytes(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


@api_key_required(upload=True)
def dnc_scrub(request: HttpRequest) -> HttpResponse:
    if (refused := _only(request, "POST")) is not None:
        return refused
    try:
        campaign = campaign_of(request)
        result = dnc_scrub_run(
            actor=api_actor(request.api_key),
            tenant=request.tenant,
            campaign=campaign,
            stream=request,
            api_key=request.api_key.prefix,
            declared_bytes=_declared_bytes(request),
        )
    except Refused as refusal:
        return api_error(refusal.message, field=refusal.field, status=refusal.status)
    scrub = result.scrub
    response = StreamingHttpResponse(callable_rows(result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="callable-{scrub.pk}.csv"'
    response["X-Scrub-Id"] = str(scrub.pk)
    response["X-Scrub-Rows"] = str(scrub.rows_read)
    response["X-Scrub-Callable"] = str(scrub.callable_count)
    response["X-Scrub-Removed"] = str(scrub.removed_count)
    response["X-Scrub-Removed-By"] = ", ".join(
        f"{reason}={count}" for reason, count in scrub.removed_by_reason.items()
    )
    response["X-Scrub-Removed-Url"] = reverse("api_dnc_scrub_removed", args=[scrub.pk])
    response["X-Scrub-Removed-Expires"] = tenant_time(request.tenant, scrub.expires_at)
    return response


@api_key_required
def dnc_scrub_removed(request: HttpRequest, scrub_id: uuid.UUID) -> HttpResponse:
    if (refused := _only(request, "GET")) is not None:
        return refused
    scrub = (
        DncScrub.objects.select_related("campaign")
        .filter(pk=scrub_id, tenant=request.tenant)
        .first()
    )
    if scrub is None:
        return api_error(gettext("no such scrub"), field="scrub", status=404)
    try:
        rows = dnc_scrub_removed_rows(actor=api_actor(request.api_key), scrub=scrub)
    except Refused as refusal:
        return api_error(refusal.message, field=refusal.field, status=refusal.status)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="removed-{scrub.pk}.csv"'
    return response
