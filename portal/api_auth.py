"""Authentication of the HTTP API under /api/v1/: `Authorization: Bearer <tenant API key>`.

Every API view is wrapped in `api_key_required`. A request without a usable key gets a 401 in the
API's error shape and leaves an `api.auth_failed` event on the trail (the key's prefix at most,
never the token). A request with one runs with `request.api_key` and `request.tenant` set and with
the key as the audit actor, so everything the call records says which key did it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import wraps

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from audit.context import bound_context, current_context
from audit.models import Outcome
from audit.services import event_record
from compliance.models import ApiKey
from compliance.services import API_KEY_PREFIX, api_key_authenticate

View = Callable[..., HttpResponse]

# A Custodia token is `cst_<prefix>_<secret>`; the prefix is short hex (ApiKey.prefix holds 12 at
# most). Anything else in its place is not logged: it could be a mistyped secret.
_TOKEN = re.compile(rf"^{API_KEY_PREFIX}_(?P<prefix>[0-9a-f]{{1,12}})_\S+$")


def api_error(message: str, *, field: str, status: int) -> JsonResponse:
    """The API's error answer: `{"error": "...", "field": "..."}` with a 4xx status. `field` names
    the part of the request at fault: a form field, a header (Authorization), `method` or `body`."""
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


def _authenticate(request: HttpRequest) -> ApiKey:
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise _Refusal("missing", "an API key is required: Authorization: Bearer <API key>")
    parts = header.split()
    # The scheme is case-insensitive (RFC 7235 section 2.1).
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise _Refusal("malformed", "the Authorization header must be: Bearer <API key>")
    token = parts[1]
    shape = _TOKEN.match(token)
    if shape is None:
        raise _Refusal("malformed", "this is not a Custodia API key")
    api_key = api_key_authenticate(token)
    if api_key is not None:
        return api_key
    prefix = shape["prefix"]
    known = ApiKey.objects.filter(prefix=prefix).first()
    reason = "unknown" if known is None else "revoked" if known.revoked_at else "wrong_secret"
    raise _Refusal(reason, "unknown or revoked API key", prefix=prefix, api_key=known)


def _record_failure(request: HttpRequest, refusal: _Refusal) -> None:
    known = refusal.api_key
    with transaction.atomic():
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
            },
        )


def api_key_required(view: View) -> View:
    """Run `view` for a usable tenant API key only. Bearer tokens are not sent by browsers on
    their own, so the API needs no CSRF token."""

    @csrf_exempt
    @wraps(view)
    def authenticated_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            api_key = _authenticate(request)
        except _Refusal as refusal:
            _record_failure(request, refusal)
            response = api_error(refusal.message, field="Authorization", status=401)
            challenge = 'Bearer realm="Custodia API"'
            if refusal.reason != "missing":
                challenge += ', error="invalid_token"'  # RFC 6750 section 3
            response["WWW-Authenticate"] = challenge
            return response
        request.api_key = api_key
        request.tenant = api_key.tenant
        context = replace(current_context(), actor_id=None, actor_username=api_actor(api_key))
        with bound_context(context):
            return view(request, *args, **kwargs)

    return authenticated_view
