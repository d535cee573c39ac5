"""Sign-ins, sign-outs, failed sign-ins and lockouts go on the trail.

Django and django-axes report these only through their signals, so this is the one place where
the audit app listens to signals; the events are written in the request's audit context.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .context import current_context, with_user
from .models import Outcome
from .services import event_record, home_tenant_id


@receiver(user_logged_in, dispatch_uid="audit_login")
def record_login(sender, request, user, **kwargs) -> None:
    event_record(
        action="auth.login",
        tenant=home_tenant_id(user),
        target=user,
        context=with_user(user),
    )


@receiver(user_logged_out, dispatch_uid="audit_logout")
def record_logout(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    event_record(
        action="auth.logout",
        tenant=home_tenant_id(user),
        target=user,
        context=with_user(user),
    )


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    user = get_user_model().objects.filter(username=username).first()
    event_record(
        action="auth.login_failed",
        outcome=Outcome.DENIED,
        tenant=home_tenant_id(user),
        target_type="auth.user",
        target_id=str(user.pk) if user else "",
        # What was typed is kept only when it names an account: people type passwords into the
        # username box, and this table can never be edited.
        target_label=username if user else "(unknown account)",
        context=current_context(),
    )


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def record_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """The sign-in that locks an account, once: django-axes signals again at every refused try,
    each of which is on the trail already as a failed sign-in."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures != settings.AXES_FAILURE_LIMIT:
        return
    user = get_user_model().objects.filter(username=str(username or "")).first()
    event_record(
        action="auth.locked_out",
        outcome=Outcome.DENIED,
        tenant=home_tenant_id(user),
        target_type="auth.user",
        target_id=str(user.pk) if user else "",
        target_label=str(username) if user else "(unknown account)",
        extra={
            "failures": failures,
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        context=current_context(),
    )
