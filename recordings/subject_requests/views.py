"""Downloading a data subject's export (/recordings/exports/<id>/download/), an admin view
(signed-in staff only, never cached). Only the request's handler who is still a compliance
officer of its tenant, or a platform operator, receives it; each download is an audit event, and
so is each refusal. Another tenant's export is the 404 an unknown id gets, and goes on that
tenant's trail.

The ZIP is decrypted piece by piece as it is sent (recordings/storage.py::decrypted_chunks): the
web worker holds a few megabytes whatever its size, and the last piece leaves only once the
file's tag has verified (an altered file gives a download cut short, never a whole one)."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from compliance.tenancy import cross_tenant_refusal_record, viewer_tenant_ids

from ..crypto import DecryptionFailed
from ..models import ExportStatus, SubjectExport
from .export import (
    may_handle_export,
    subject_export_chunks,
    subject_export_download_record,
    subject_export_download_refusal_record,
)

logger = logging.getLogger(__name__)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@require_GET
def subject_export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    user = request.user
    export = SubjectExport.objects.select_related("request").filter(pk=export_id).first()
    if export is None or not (user.is_superuser or export.tenant_id in viewer_tenant_ids(request)):
        if export is not None:
            cross_tenant_refusal_record(
                request, SubjectExport, export_id, view="data-subject export download"
            )
        raise Http404("No such export.")
    if not may_handle_export(user, export.request):
        subject_export_download_refusal_record(user=user, export=export, reason="not the handler")
        return _text(
            "Only the request's handler, a compliance officer of its organisation, may download "
            "its export.",
            403,
        )
    if export.status == ExportStatus.EXPIRED or (
        export.status == ExportStatus.READY and export.expires_at <= timezone.now()
    ):
        return _text(
            "This export has expired and is deleted: its download period is over. Build a new "
            "one from the request's page if the request is still open.",
            410,
        )
    if export.status != ExportStatus.READY:
        return _text(
            f"This export cannot be downloaded: {export.get_status_display().lower()}.", 409
        )
    try:
        pieces = subject_export_chunks(export)
    except (DecryptionFailed, FileNotFoundError):
        logger.exception("export %s: file unavailable", export.pk)
        return _text("The export's file is unavailable: build a new one.", 410)
    subject_export_download_record(user=user, export=export)
    response = StreamingHttpResponse(pieces, content_type="application/zip")
    response["Content-Length"] = str(export.size_bytes)
    response["Cache-Control"] = "no-store, private"
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True,
        filename=f"subject-request-{export.request_id}-export-{export.pk}.zip",
    )
    return response
