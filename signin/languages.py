"""A person's language beyond their browser: the switcher's choice kept on their account
(LanguagePreference), brought to each browser they sign in on (portal/admin_site.py) and read
for the mail sent to them (kit/mail.py).

The browser's language cookie is one person's: signing in sets it to the account's choice, and
signing out (or a session ended for idleness) removes it, so that the next person at a shared
workstation starts from the browser's language, not from the last person's choice."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpResponse

from .models import LanguagePreference


def language_choose(user: AbstractBaseUser, language: str) -> None:
    """Keep `language` (one of LANGUAGES) as `user`'s; ValueError for any other."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"not a language of the portal: {language!r}")
    LanguagePreference.objects.update_or_create(user=user, defaults={"language": language})


def language_brought(response: HttpResponse, user: AbstractBaseUser) -> None:
    """Set this browser's language cookie to `user`'s kept choice, when they made one."""
    chosen = LanguagePreference.objects.filter(user=user).values_list("language", flat=True).first()
    if chosen:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            chosen,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )


def language_forgotten(response: HttpResponse) -> None:
    """Remove this browser's language cookie (the person has gone)."""
    response.delete_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
