"""Authentication of the HTTP API under /api/v1/: `Authorization: Bearer <tenant API key>`.

Every API view is wrapped in `api_key_required`. A request without a usable key gets a 401 in the
API's error shape; the first such failure of a window with one key prefix (from any address)
leaves an `api.auth_failed` event on the trail (the key's prefix at most, never the token), the
others are counted per address (an IPv6 address as its /64) and their count goes on the trail
when the window has closed. Past API_AUTH_FAILURE_LIMIT failures in the window, that prefix from
that address gets a 429 before any key check (past it in the shared bucket of unknown keys, any
token from that address that is not a usable key's). A request with a usable key runs with
`request.api_key` and `request.tenant` set and with the key as the audit actor, so everything
the call records says which key did it; past its rate limit, or (for an upload) past its uploads
in flight, it gets a 429 with Retry-After.
The limits are compliance.api_limits'.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial, wraps

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.csrf import csrf_exempt

from audit.context import bound_context, current_context
from audit.models import Outcome
from audit.services import event_record

from . import api_limits
from .models import ApiKey
from .services.api_keys import API_KEY_PREFIX, api_key_authenticate

View = Callable[..., HttpResponse]

logger = logging.getLogger(__name__)

# A Custodia token is `cst_<prefix>_<secret>`; the prefix is short hex (ApiKey.prefix holds 12 at
# most) and the secret printable ASCII. Anything else in its place is not logged: it could be a
# mistyped secret.
_TOKEN = re.compile(rf"^{API_KEY_PREFIX}_(?P<prefix>[0-9a-f]{{1,12}})_[!-~]+$")


def api_error(message: str, *, field: str, status: int) -> JsonResponse:
    """The API's error answer: `{"error": "...", "field": "..."}` with a 4xx status. `field` names
    the part of the request at fault: a form field, a header (Authorization), `method` or `body`.
    The message is in the language of the request's Accept-Language (LocaleMiddleware), English
    when it names none of LANGUAGES; `field` is never translated: clients act on it."""
    return JsonResponse({"error": message, "field": field}, status=status)


def api_actor(api_key: ApiKey) -> str:
    """How an API key appears as the actor on the audit trail."""
    return f"api_key:{api_key.prefix}"


class _Refusal(Exception):
    def __init__(self, reason: str, message: str, *, prefix: str = "", api_key=None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.prefix = prefix
        self.api_key = api_key


def _bearer_token(request: HttpRequest) -> tuple[str, str]:
    """(token, key prefix) of a well-formed Custodia bearer token, read without the database."""
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise _Refusal(
            "missing", gettext("an API key is required: Authorization: Bearer <API key>")
        )
    parts = header.split()
    # The scheme is case-insensitive (RFC 7235 section 2.1).
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise _Refusal("malformed", gettext("the Authorization header must be: Bearer <API key>"))
    token = parts[1]
    shape = _TOKEN.match(token)
    if shape is None:
        raise _Refusal("malformed", gettext("this is not a Custodia API key"))
    return token, shape["prefix"]


def _authenticate(token: str, prefix: str, candidate: ApiKey | None) -> ApiKey:
    api_key = api_key_authenticate(token, candidate=candidate)
    if api_key is not None:
        return api_key
    known = ApiKey.objects.filter(prefix=prefix).first()
    reason = "unknown" if known is None else "revoked" if known.revoked_at else "wrong_secret"
    raise _Refusal(reason, gettext("unknown or revoked API key"), prefix=prefix, api_key=known)


def _record_failure(request: HttpRequest, refusal: _Refusal, *, client_ip: str) -> None:
    """Count the failure in its window; the window's first of its key prefix goes on the trail
    (with the count of that prefix's closed windows that no one has written yet)."""
    known = refusal.api_key
    # A key that exists has a bucket of its own; the rest share one per address.
    bucket = refusal.prefix if known else api_limits.NO_KEY
    with transaction.atomic():
        count, window = api_limits.api_auth_failure_count(
            prefix=bucket,
            client_ip=client_ip,
            tenant_id=known.tenant_id if known else None,
            throttled=False,
        )
        if count > 1 or not api_limits.api_auth_failure_first_of_window(
            prefix=bucket, window=window
        ):
            return
        api_limits.api_auth_failures_summarise(prefix=bucket)
        event_record(
            action="api.auth_failed",
            # The tenant whose key was tried, so that its compliance officer sees the attempts.
            tenant=known.tenant_id if known else None,
            outcome=Outcome.DENIED,
            target_type="compliance.apikey",
            target_id=known.pk if known else "",
            target_label=f"API key {refusal.prefix}" if refusal.prefix else "",
            extra={
                "field": "Authorization",
                "reason": refusal.reason,
                "api_key": refusal.prefix,
                "method": request.method,
                "path": request.path[:200],
                # Further failures of this window are counted, not recorded one by one.
                "window_start": window.isoformat(),
                "window_seconds": settings.API_AUTH_FAILURE_WINDOW_SECONDS,
            },
        )


def _unauthorized(refusal: _Refusal) -> JsonResponse:
    response = api_error(refusal.message, field="Authorization", status=401)
    challenge = 'Bearer realm="Custodia API"'
    if refusal.reason != "missing":
        challenge += ', error="invalid_token"'  # RFC 6750 section 3
    response["WWW-Authenticate"] = challenge
    return response


def _too_many(message: str, retry_after: int) -> JsonResponse:
    response = api_error(message, field="Authorization", status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _throttled_bucket(admission: api_limits.Admission, prefix: str) -> str | None:
    """The full bucket that refuses this call before its key check, if any. The shared bucket of
    unknown keys never refuses a usable key: only its own prefix's failures do."""
    limit = settings.API_AUTH_FAILURE_LIMIT
    if admission.failures >= limit:
        return prefix
    if admission.shared_failures >= limit and admission.api_key is None:
        return api_limits.NO_KEY
    return None


def _throttled(bucket: str, *, client_ip: str) -> JsonResponse:
    """Past the failure limit: refused before any key check, and counted with the failures."""
    with transaction.atomic():
        _, window = api_limits.api_auth_failure_count(
            prefix=bucket, client_ip=client_ip, tenant_id=None, throttled=True
        )
    seconds = settings.API_AUTH_FAILURE_WINDOW_SECONDS
    return _too_many(
        gettext(
            "too many failed authentications from this address; retry after the time given in "
            "Retry-After"
        ),
        api_limits.seconds_left(timezone.now(), window, seconds),
    )


def _release(admission: api_limits.Admission) -> None:
    try:
        api_limits.upload_slot_release(admission.api_key_id, admission.upload_slot)
    except DatabaseError:
        # The session is unusable; ending it is what frees its advisory locks.
        logger.exception("could not release upload slot %s", admission.upload_slot)
        if not connection.in_atomic_block:
            connection.close()


def api_key_required(view: View | None = None, *, upload: bool = False):
    """Run `view` for a usable tenant API key only, within its limits. `upload=True` also holds
    one of the key's API_UPLOADS_IN_FLIGHT_PER_KEY slots for the whole request (its body is read
    inside the view). Bearer tokens are not sent by browsers on their own, so the API needs no
    CSRF token."""
    if view is None:
        return partial(api_key_required, upload=upload)

    @csrf_exempt
    @wraps(view)
    def authenticated_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        now = timezone.now()
        client_ip = current_context().client_ip
        try:
            token, prefix = _bearer_token(request)
            unreadable = None
        except _Refusal as refusal:
            token, prefix, unreadable = "", "", refusal
        admission = api_limits.api_call_admit(
            prefix=prefix, token=token, client_ip=client_ip, upload=upload, now=now
        )
        try:
            bucket = _throttled_bucket(admission, prefix)
            if bucket is not None:
                return _throttled(bucket, client_ip=client_ip)
            try:
                if unreadable is not None:
                    raise unreadable
                api_key = _authenticate(token, prefix, admission.api_key)
            except _Refusal as refusal:
                _record_failure(request, refusal, client_ip=client_ip)
                return _unauthorized(refusal)
            limit = settings.API_RATE_LIMIT_PER_MINUTE
            if limit and (admission.calls or 0) > limit:
                return _too_many(
                    ngettext(
                        "this API key made more than %(limit)d call in this minute; retry after "
                        "the time given in Retry-After",
                        "this API key made more than %(limit)d calls in this minute; retry after "
                        "the time given in Retry-After",
                        limit,
                    )
                    % {"limit": limit},
                    api_limits.seconds_left(now, api_limits.window_start(now, 60), 60),
                )
            if upload and admission.upload_slot is None:
                # Answered at once rather than queued: the recorder retries, the worker is free.
                in_flight = settings.API_UPLOADS_IN_FLIGHT_PER_KEY
                return _too_many(
                    ngettext(
                        "this API key already has %(count)d upload in flight; retry after the "
                        "time given in Retry-After",
                        "this API key already has %(count)d uploads in flight; retry after the "
                        "time given in Retry-After",
                        in_flight,
                    )
                    % {"count": in_flight},
                    1,
                )
            request.api_key = api_key
            request.tenant = api_key.tenant
            context = replace(current_context(), actor_id=None, actor_username=api_actor(api_key))
            with bound_context(context):
                return view(request, *args, **kwargs)
        finally:
            if admission.upload_slot is not None:
                _release(admission)

    return authenticated_view
