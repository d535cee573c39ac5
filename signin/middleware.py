"""Two checks on every signed-in request: the session has not been idle too long, and the
person has given their second factor."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from audit.context import with_user
from audit.services import event_record, home_tenant_id

from .languages import language_forgotten
from .services import has_second_factor

LAST_ACTIVITY = "signin_last_activity"
# The last activity is written at most this often, not on every request: a session write per
# page (and per autocomplete call) for a precision nobody needs.
_TOUCH_SECONDS = 60


class IdleSessionMiddleware:
    """A session unused for SESSION_IDLE_MINUTES ends: the person signs in again, and the end is
    on the trail as `auth.session_expired`. Where PCI DSS applies (callers reading out card
    numbers), its requirement 8.2.8 asks for 15 minutes at most."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_ACTIVITY)
            idle_seconds = settings.SESSION_IDLE_MINUTES * 60
            if last is not None and now - last > idle_seconds:
                event_record(
                    action="auth.session_expired",
                    tenant=home_tenant_id(user),
                    target=user,
                    context=with_user(user),
                    extra={"idle_minutes": (now - last) // 60},
                )
                request.session.flush()
                request.user = AnonymousUser()
                response = self.get_response(request)
                language_forgotten(response)
                return response
            elif last is None or now - last >= _TOUCH_SECONDS:
                request.session[LAST_ACTIVITY] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """After the password, every page waits for the second factor: a person with an
    authenticator gives a code from it (or a recovery code); one without is sent to enrol when
    OTP_REQUIRED is on. Checked here rather than in the admin site so that every page — the
    admin's, those libraries add to it, the player, receipts — is behind it. The API
    authenticates with keys, not sessions, and is left alone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not request.path_info.startswith("/api/")
            and request.path_info not in _open_paths()
        ):
            page = _second_factor_page(user)
            if page is not None:
                return _to(request, page)
        return self.get_response(request)


def _second_factor_page(user) -> str | None:
    """Where a person signed in with a password only must go before anything else: the code
    page when they have an authenticator, enrolment when OTP_REQUIRED, else nowhere."""
    if has_second_factor(user):
        return "signin:verify"
    if settings.OTP_REQUIRED:
        return "signin:enrol"
    return None


def fully_signed_in(user) -> bool:
    """Signed in with every factor the account needs (False for nobody signed in): the
    middleware's rule, for the views it lets through between the factors."""
    if not user.is_authenticated:
        return False
    return user.is_verified() or _second_factor_page(user) is None


def _open_paths() -> set[str]:
    """Pages a person between the two factors may see: the second-factor pages themselves, the
    admin's sign-in and sign-out to start again or leave, and the language switcher's, which
    those pages show: between the factors it changes the cookie only, not the account's choice
    (signin/views.py::language_set)."""
    return {
        reverse("signin:verify"),
        reverse("signin:enrol"),
        reverse("admin:login"),
        reverse("admin:logout"),
        reverse("set_language"),
    }


def _to(request, name: str):
    return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
