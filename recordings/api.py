"""POST /api/v1/recordings: the recorder pushes one call, as multipart/form-data with the audio in
the part named `audio` and the call's metadata in the other parts.

The view only reads the request and shapes the answer: authentication is compliance.api_auth's and
every rule is `recording_ingest`'s. What it checks itself is what only HTTP knows: the method, a
body too large to read, a body that is not a form, a missing audio part; and a field holding a
NUL character or a lone surrogate, which PostgreSQL cannot store (kit.null_characters).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from compliance.api_auth import api_error, api_key_required
from kit.null_characters import first_unstorable_field, storable_values
from kit.refusals import Refused

from .services.ingest import IngestResult, recording_ingest, recording_ingest_refusal_record

METADATA_FIELDS = (
    "call_id",
    "direction",
    "started_at",
    "customer_number",
    "purpose",
    "agent_code",
    "subject_reference",
    "campaign",
)
# Room in the body for the metadata parts and the multipart boundaries around the audio: every
# metadata value is a few hundred bytes at most, so this is generous, yet it lets a body that is
# clearly too large be refused from its Content-Length, before a byte of it is read.
MULTIPART_ALLOWANCE = 64 * 1024


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _refuse(request: HttpRequest, refusal: Refused, fields: dict[str, object]) -> JsonResponse:
    """A refusal decided here, before the service is called: on the trail like the service's
    (with no value the trail could not store)."""
    recording_ingest_refusal_record(
        tenant=request.tenant,
        api_key=request.api_key,
        fields=storable_values(fields),
        refusal=refusal,
    )
    return api_error(refusal.message, field=refusal.field, status=refusal.status)


def _too_large(limit: int) -> Refused:
    return Refused(
        format_lazy(_("the audio is larger than {limit} bytes"), limit=limit),
        field="audio",
        status=413,
    )


def recording_body(result: IngestResult) -> dict[str, object]:
    recording = result.recording
    return {
        "id": recording.pk,
        "call_id": recording.call_id,
        "status": recording.status,
        "retain_until": recording.retain_until.isoformat(),
        "sha256": recording.audio_sha256,
        "duration_seconds": float(recording.duration_seconds),
        "content_type": recording.content_type,
        # What the recorder should know, e.g. that the next purge deletes the call (see
        # recordings.services.ingest.ingest_warnings); empty as a rule.
        "warnings": list(result.warnings),
    }


@api_key_required(upload=True)
def recordings_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = api_error("only POST is allowed here", field="method", status=405)
        response["Allow"] = "POST"
        return response
    limit = settings.RECORDINGS_MAX_UPLOAD_BYTES
    if _declared_length(request) > limit + MULTIPART_ALLOWANCE:
        return _refuse(request, _too_large(limit), {})
    try:
        upload = request.FILES.get("audio")
        fields: dict[str, object] = {
            name: request.POST[name] for name in METADATA_FIELDS if name in request.POST
        }
    except RequestDataTooBig:
        # Non-file parts beyond DATA_UPLOAD_MAX_MEMORY_SIZE.
        refusal = Refused(_("the metadata parts are too large"), field="body", status=413)
        return _refuse(request, refusal, {})
    except (MultiPartParserError, SuspiciousOperation) as error:
        refusal = Refused(
            format_lazy(_("unreadable multipart/form-data body ({error})"), error=error),
            field="body",
        )
        return _refuse(request, refusal, {})
    # PostgreSQL cannot store a NUL or a lone surrogate: refused here, naming the field, rather
    # than a 500 later.
    unstorable = first_unstorable_field(fields, METADATA_FIELDS)
    if unstorable is not None:
        field, problem = unstorable
        refusal = Refused(
            format_lazy(_("{field} must not contain {problem}"), field=field, problem=problem),
            field=field,
        )
        return _refuse(request, refusal, fields)
    if upload is None:
        refusal = Refused(
            _("the audio file is required, in the multipart/form-data part named audio"),
            field="audio",
        )
        return _refuse(request, refusal, fields)
    # The parser has spooled the file to disk when larger than FILE_UPLOAD_MAX_MEMORY_SIZE; the
    # service reads it from there in pieces, so no upload is ever whole in memory.
    if upload.size > limit:
        return _refuse(request, _too_large(limit), fields)
    try:
        result = recording_ingest(
            tenant=request.tenant, api_key=request.api_key, audio=upload, fields=fields
        )
    except Refused as refusal:
        return api_error(refusal.message, field=refusal.field, status=refusal.status)
    return JsonResponse(recording_body(result), status=201 if result.created else 200)
