"""Mail to people, each in their own language: what the worker sends (alerts, deadlines,
reminders) has no browser to ask, so each recipient's copy is composed in the language kept on
their account by the header's switcher (the reverse accessor `language_preference` that
signin.LanguagePreference gives a user; kit imports no app), else LANGUAGE_CODE. The
recipients of one language share one message."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import translation


def language_of(user) -> str:
    """The language `user` chose, else the portal's (LANGUAGE_CODE). Reads the preference once
    per user unless the caller's query selected it (`select_related("language_preference")`)."""
    # A missing one-to-one row raises an AttributeError subclass: getattr's default applies.
    preference = getattr(user, "language_preference", None)
    if preference is None or preference.language not in dict(settings.LANGUAGES):
        return settings.LANGUAGE_CODE
    return preference.language


def mail_in_their_languages(recipients: Iterable, compose: Callable[[], tuple[str, str]]) -> int:
    """Send `compose()`'s (subject, body) to the recipients with an address, composed in each
    recipient's language: one message per language, over one connection. Returns the number of
    addresses. A failure raises and the callers' tasks retry the whole sending: the copies of
    the languages sent before the failure go again on each retry (duplicates, never a loss)."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for user in recipients:
        if user.email:
            by_language[language_of(user)].append(user.email)
    messages = []
    for language, addresses in sorted(by_language.items()):
        with translation.override(language):
            subject, body = compose()
        messages.append(EmailMessage(subject, body, None, addresses))
    if messages:
        get_connection().send_messages(messages)
    return sum(len(addresses) for addresses in by_language.values())
