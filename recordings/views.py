"""Purpose-bound listening in the browser: the purpose form, the player, the audio stream and the
download. Every view is an admin view (signed-in staff only, never cached, CSRF-protected); a
recording outside the viewer's tenants is a 404, never a 403 that would reveal it exists.

The decisions (who may listen, for which purpose, with which grant) are the services'
(recordings/services/access.py); these views translate them to HTTP.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from compliance.access_rules import AccessNeed, may_download, may_listen
from compliance.tenancy import cross_tenant_refusal_record
from kit.refusals import Refused, as_form_error

from .audio import extension_for
from .crypto import DecryptionFailed
from .listening import AudioUnplayable, ListeningAudio, listening_audio
from .models import Recording
from .services.access import (
    AccessRefused,
    access_grant_request,
    active_grant,
    listening_purposes,
    playback_authorise,
    recording_download_record,
    recording_not_found_record,
    recording_play_record,
)
from .storage import plain_audio_chunks

logger = logging.getLogger(__name__)


def _visible_recording(request: HttpRequest, recording_id: int, view: str) -> Recording:
    """The recording if it belongs to one of the viewer's tenants; a 404 otherwise, whether it
    exists in another tenant or not at all. Another tenant's goes on that tenant's trail as a
    cross-tenant refusal naming `view`; an id that does not exist on the platform's."""
    recording = (
        Recording.objects.for_user(request.user)
        .select_related("purpose", "tenant")
        .filter(pk=recording_id)
        .first()
    )
    if recording is None:
        if not cross_tenant_refusal_record(request, Recording, recording_id, view=view):
            recording_not_found_record(recording_id=recording_id)
        raise Http404("No such recording.")
    return recording


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200):
    """Pages extend the admin's base template: the admin site's context gives them its header,
    navigation and user tools."""
    return render(request, template, {**admin.site.each_context(request), **context}, status=status)


def _need_label(code: str) -> str:
    return AccessNeed(code).label if code in AccessNeed.values else code


# --- the purpose form --------------------------------------------------------------------------


class ListenForm(forms.Form):
    """Nothing is validated here on purpose: the service decides. It records on the audit trail
    a denial of what the role may not ask (a purpose outside the offered choices, a download),
    and answers a request left incomplete (no purpose chosen, a justification too short or too
    long) with a form error to correct, recorded nowhere."""

    purpose = forms.CharField(required=False, widget=forms.RadioSelect)
    justification = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "required": True}),
        help_text=_(
            "Why you need to hear this call: a case, a complaint, a sampling plan. "
            "Kept on the audit trail with your workstation."
        ),
    )
    download = forms.BooleanField(
        required=False,
        label=_("Also download the audio file"),
        help_text=_(
            "Only when the audio must leave Custodia (e.g. for a court or the data subject)."
        ),
    )

    def __init__(self, *args, purposes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].widget.choices = [(need.value, need.label) for need in purposes]
        if len(purposes) == 1:
            self.initial.setdefault("purpose", purposes[0].value)


@require_http_methods(["GET", "POST"])
def listen(request: HttpRequest, recording_id: int) -> HttpResponse:
    recording = _visible_recording(request, recording_id, "listening")
    context = {
        "recording": recording,
        "title": gettext("Listen to %(recording)s") % {"recording": recording},
    }
    try:
        purposes = listening_purposes(user=request.user, recording=recording)
    except AccessRefused as refusal:
        return _page(
            request, "recordings/listen_refused.html", {**context, "refusal": refusal}, status=403
        )
    form = ListenForm(request.POST or None, purposes=purposes)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            access_grant_request(
                user=request.user,
                recording=recording,
                purpose=form.cleaned_data["purpose"],
                justification=form.cleaned_data["justification"],
                download=form.cleaned_data["download"],
            )
        except Refused as incomplete:
            # A slip to correct, not a denial: the form again, with the field to fix.
            form.add_error(None, as_form_error(incomplete, form))
        except AccessRefused as refusal:
            field = refusal.reason if refusal.reason in ListenForm.base_fields else None
            form.add_error(field, refusal.message)
            status = 403  # asked for what the role may not do: on the trail as a denial
        else:
            return redirect("recordings:player", recording_id=recording.pk)
    grant = active_grant(user=request.user, recording=recording)
    context.update(
        form=form,
        may_download=may_download(user=request.user, recording=recording),
        grant=grant,
        grant_purpose_label=_need_label(grant.purpose) if grant else "",
        grant_minutes=settings.LISTENING_GRANT_MINUTES,
    )
    return _page(request, "recordings/listen.html", context, status=status)


# --- the player -------------------------------------------------------------------------------


@require_GET
def player(request: HttpRequest, recording_id: int) -> HttpResponse:
    recording = _visible_recording(request, recording_id, "player")
    grant = active_grant(user=request.user, recording=recording)
    if grant is None or not may_listen(user=request.user, recording=recording):
        messages.info(request, _("State why you need to hear this call first."))
        return redirect("recordings:listen", recording_id=recording.pk)
    download_allowed = grant.allows_download and may_download(
        user=request.user, recording=recording
    )
    return _page(
        request,
        "recordings/player.html",
        {
            "recording": recording,
            "grant": grant,
            "grant_purpose_label": _need_label(grant.purpose),
            "title": gettext("Listening to %(recording)s") % {"recording": recording},
            "stream_url": reverse("recordings:stream", args=[recording.pk]),
            "download_url": (
                reverse("recordings:download", args=[recording.pk]) if download_allowed else ""
            ),
        },
    )


# --- audio ------------------------------------------------------------------------------------

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range


class Unsatisfiable(Exception):
    pass


def _position(digits: str, size: int) -> int:
    """A byte position of the header, at most `size` (any position past the end is as good as
    the end). A client may send thousands of digits: Python refuses to read more than 4300 as an
    int, and no audio is that large, so a long number is read as "past the end" unread."""
    digits = digits.lstrip("0") or "0"
    return size if len(digits) > len(str(size)) else min(int(digits), size)


def _before(first: str, last: str) -> bool:
    """Whether the number `last` is below the number `first` (digit strings of any length)."""
    first, last = first.lstrip("0"), last.lstrip("0")
    return (len(last), last) < (len(first), first)


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for (RFC 9110 §14.1.2), None to send the whole body (no Range
    header, or one we may ignore: malformed, or several ranges), Unsatisfiable for a 416."""
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip())
    if match is None:
        return None  # several ranges, another unit or garbage: a server may ignore Range
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # bytes=-n: the last n bytes
        suffix = _position(last, size)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(size - suffix, size - 1)
    if last != "" and _before(first, last):
        return None  # an invalid range-spec: ignored, like a malformed header
    start = _position(first, size)
    end = size - 1 if last == "" else _position(last, size)
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size - 1))


def _audio_response(body: bytes, *, status: int, content_type: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    # Decrypted audio is never kept by a browser or proxy cache (admin_view adds the rest).
    response["Cache-Control"] = "no-store, private"
    return response


def _listening_audio(recording: Recording) -> ListeningAudio | HttpResponse:
    """What the player streams (recordings/listening.py), or the answer saying why nothing
    plays, in words the player page shows (recordings/static/recordings/player.js)."""
    try:
        return listening_audio(recording)
    except (DecryptionFailed, FileNotFoundError):
        logger.exception("recording %s: audio unavailable", recording.pk)
        return HttpResponse("The audio is unavailable.", status=410, content_type="text/plain")
    except AudioUnplayable as problem:
        logger.warning("recording %s: audio cannot be played: %s", recording.pk, problem)
        # 422: the recording and the grant are in order, but its audio turns into nothing a
        # browser plays; no playback happened, so none is recorded.
        return HttpResponse(
            f"The audio cannot be played: {problem}.", status=422, content_type="text/plain"
        )


@require_GET
def stream(request: HttpRequest, recording_id: int) -> HttpResponse:
    recording = _visible_recording(request, recording_id, "playback")
    try:
        grant = playback_authorise(user=request.user, recording=recording)
    except AccessRefused as refusal:
        return HttpResponse(str(refusal.message), status=403, content_type="text/plain")
    # The stored audio as it is when browsers play its codec, else its copy for listening (made
    # on the first request); either way before any playback is recorded.
    listening = _listening_audio(recording)
    if isinstance(listening, HttpResponse):
        return listening
    audio, content_type = listening.body, listening.content_type
    size = len(audio)
    try:
        byte_range = requested_range(request.headers.get("Range"), size)
    except Unsatisfiable:
        response = _audio_response(b"", status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        return response
    # Audio is served now, whichever range comes first (a player may resume or seek before it
    # asks for byte 0): the service records the grant's one `recording.played` event.
    recording_play_record(user=request.user, recording=recording, grant=grant)
    if byte_range is None:
        return _audio_response(audio, status=200, content_type=content_type)
    response = _audio_response(
        audio[byte_range.start : byte_range.end + 1], status=206, content_type=content_type
    )
    response["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    return response


@require_GET
def download(request: HttpRequest, recording_id: int) -> HttpResponse:
    recording = _visible_recording(request, recording_id, "download")
    try:
        grant = playback_authorise(user=request.user, recording=recording, download=True)
    except AccessRefused as refusal:
        return HttpResponse(str(refusal.message), status=403, content_type="text/plain")
    # Sent as it is decrypted, piece by piece (a 50 MB file is never whole in the web worker);
    # a shredded key or a missing file is known before the first piece, and an altered file
    # never arrives whole: its last piece is released only once its tag verifies.
    try:
        pieces = plain_audio_chunks(recording)
    except (DecryptionFailed, FileNotFoundError):
        logger.exception("recording %s: audio unavailable", recording.pk)
        return HttpResponse("The audio is unavailable.", status=410, content_type="text/plain")
    recording_download_record(user=request.user, recording=recording, grant=grant)
    response = StreamingHttpResponse(pieces, content_type=recording.content_type)
    response["Content-Length"] = str(recording.size_bytes)
    response["Cache-Control"] = "no-store, private"
    extension = extension_for(recording.content_type)
    safe_call_id = re.sub(r"[^A-Za-z0-9._-]", "_", recording.call_id)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{safe_call_id}{extension}"
    )
    return response
