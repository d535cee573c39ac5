"""Sign-ins and sign-outs go on the trail (failed sign-ins and lockouts: signin.signals, which
bounds them).

Django reports these only through its signals; the events are written in the request's audit
context.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .context import with_user
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
