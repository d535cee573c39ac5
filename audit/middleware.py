"""Captures each HTTP request's audit context: actor, IP, user agent, workstation, request id."""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings

from .context import AuditContext, bound_context, new_request_id

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def client_ip(request) -> str:
    """The client's address, trusting exactly AUDIT_TRUSTED_PROXY_COUNT proxies in front of us.

    Each trusted proxy appends the address it received the request from to X-Forwarded-For, so the
    client is the entry that many places from the right; anything further left is client-supplied
    and could be forged.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.AUDIT_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def _header(request, name: str) -> str:
    # PostgreSQL cannot store a NUL: one in a header the trail keeps (user agent, workstation)
    # would fail every event of the request. It is kept visible as U+FFFD instead.
    return request.headers.get(name, "").replace("\x00", "\ufffd")


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied_id = _header(request, "X-Request-Id")
        request_id = supplied_id if _REQUEST_ID.match(supplied_id) else new_request_id()
        user = getattr(request, "user", None)
        authenticated = user is not None and user.is_authenticated
        context = AuditContext(
            actor_id=user.pk if authenticated else None,
            actor_username=user.get_username() if authenticated else "",
            client_ip=client_ip(request),
            user_agent=_header(request, "User-Agent")[:512],
            workstation_id=_header(request, settings.AUDIT_WORKSTATION_HEADER)[:128],
            request_id=request_id,
        )
        request.audit_request_id = request_id
        with bound_context(context):
            response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response
