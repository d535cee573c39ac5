"""A person's language beyond their browser: the switcher's choice kept on their account
(LanguagePreference), brought to each browser they sign in on (portal/admin_site.py) and read
for the mail sent to them (kit/mail.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from .models import LanguagePreference


def language_choose(user: AbstractBaseUser, language: str) -> None:
    """Keep `language` (one of LANGUAGES) as `user`'s; ValueError for any other."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"not a language of the portal: {language!r}")
    LanguagePreference.objects.update_or_create(user=user, defaults={"language": language})
