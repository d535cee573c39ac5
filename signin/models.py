from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class SignInFailureWindow(models.Model):
    """Failed sign-ins of one account (0: a name that is no account's) from one client address
    (an IPv6 address as its /64) in one fixed window of SIGNIN_FAILURE_WINDOW_SECONDS.

    The account's first failure of the window, from whatever address, is on the audit trail at
    once (`auth.login_failed`); the others are only counted here, since the trail is append-only
    and one event per try would let anyone without an account fill it. Once the window has
    closed, its count goes on the trail in one `auth.login_failures_counted` event per account and
    the rows are deleted, in one transaction: a count is written exactly once, and a process that
    dies first leaves it here for the next writer."""

    account_id = models.PositiveIntegerField(default=0, verbose_name=_("account id"))
    client_ip = models.CharField(max_length=45, blank=True, verbose_name=_("client ip"))
    window_start = models.DateTimeField(verbose_name=_("window start"))
    # The account's home tenant, so that its compliance officer sees the attempts.
    tenant_id = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("tenant id"))
    account_label = models.CharField(max_length=150, blank=True, verbose_name=_("account label"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))
    # Of `count`, the tries refused unchecked because the account or address was locked.
    refused_locked = models.PositiveIntegerField(default=0, verbose_name=_("refused locked"))
    first_failed_at = models.DateTimeField(verbose_name=_("first failed at"))
    last_failed_at = models.DateTimeField(verbose_name=_("last failed at"))

    class Meta:
        verbose_name = _("failed sign-ins in a window")
        verbose_name_plural = _("failed sign-ins by window")
        constraints = [
            models.UniqueConstraint(
                fields=("account_id", "client_ip", "window_start"), name="signin_failure_window"
            )
        ]
        indexes = [models.Index(fields=("window_start",), name="signin_failure_closing")]

    def __str__(self) -> str:
        values = {"count": self.count, "address": self.client_ip or _("an unknown address")}
        return (
            ngettext(
                "%(count)d failed sign-in from %(address)s",
                "%(count)d failed sign-ins from %(address)s",
                self.count,
            )
            % values
        )


class LanguagePreference(models.Model):
    """The language a person chose with the switcher in the header: what the portal shows them
    (with the language cookie the switcher also sets) and what mail sent to them by the worker,
    which has no browser to ask, is written in. Without one, mail is in LANGUAGE_CODE."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="language_preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, verbose_name=_("language")
    )
    chosen_at = models.DateTimeField(auto_now=True, verbose_name=_("chosen at"))

    class Meta:
        verbose_name = _("language preference")
        verbose_name_plural = _("language preferences")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_language_display()})"
