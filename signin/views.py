"""The second step of signing in: enrolling an authenticator app, and giving a code from it."""

from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.i18n import set_language
from django_otp import login as otp_login

from . import languages, services
from .forms import EnrolForm, VerifyForm
from .middleware import fully_signed_in


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _render(request, template: str, context: dict, status: int = 200):
    """Pages extend the admin's base template, with the admin site's header and links."""
    return render(
        request,
        template,
        {**admin.site.each_context(request), "next": _next_url(request), **context},
        status=status,
    )


def _qr_svg(url: str) -> str:
    """The otpauth:// URL as an inline SVG (no image request, nothing for CSP to allow)."""
    return segno.make(url, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


@never_cache
@sensitive_post_parameters("token")
@login_required(login_url="admin:login")
def enrol(request):
    """Set up an authenticator app: scan the QR code (or type the secret), confirm with a first
    code, and receive ten recovery codes, shown on this one page only."""
    user = request.user
    if user.is_verified() or services.has_second_factor(user):
        return redirect(_next_url(request))
    device = services.totp_device_pending(user=user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = services.two_factor_enrol(
                actor=user, user=user, token=form.cleaned_data["token"]
            )
        except services.WrongCode:
            form.add_error("token", _("This is not the code the app shows now. Try the next one."))
        else:
            otp_login(request, device)
            return _render(
                request,
                "signin/recovery_codes.html",
                {"title": _("Your recovery codes"), "codes": codes},
            )
    return _render(
        request,
        "signin/enrol.html",
        {
            "title": _("Set up two-factor sign-in"),
            "form": form,
            "qr_code": _qr_svg(device.config_url),
            "secret": base64.b32encode(device.bin_key).decode(),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@sensitive_post_parameters("token")
@login_required(login_url="admin:login")
def verify(request):
    """The second factor: a code from the authenticator app, or a recovery code."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not services.has_second_factor(user):
        return redirect(f"{reverse('signin:enrol')}?{urlencode({'next': _next_url(request)})}")
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_verify(actor=user, user=user, token=form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error(
            "token",
            _(
                "This code is not valid. Use the code your app shows now, or a recovery code "
                "you have not used yet; after several wrong codes, wait a little between tries."
            ),
        )
    return _render(
        request,
        "signin/verify.html",
        {"title": _("Two-factor sign-in"), "form": form},
        status=400 if form.errors else 200,
    )


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in of a locked account (AXES_LOCKOUT_CALLABLE): 429, with
    when to try again and who can unlock it."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return _render(
        request,
        "signin/locked_out.html",
        {"title": _("Sign-in refused"), "cooloff_minutes": minutes},
        status=429,
    )


def language_set(request):
    """The language switcher's POST: Django's set_language (the cookie, the redirect back), and
    for a person signed in with every factor the choice kept on their account for the mail sent
    to them. Between the password and the second factor only the cookie changes: the password
    alone must not choose the language of an officer's breach alerts."""
    response = set_language(request)
    language = request.POST.get("language", "") if request.method == "POST" else ""
    if fully_signed_in(request.user) and language in dict(settings.LANGUAGES):
        languages.language_choose(request.user, language)
    return response
