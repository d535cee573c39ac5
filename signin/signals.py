"""Failed sign-ins and lockouts go on the trail, bounded (signin.failures).

Django and django-axes report these only through their signals; the events are written in the
request's audit context.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver

from audit.context import current_context
from audit.models import Outcome
from audit.services import event_record, home_tenant_id

from . import failures


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    user = get_user_model().objects.filter(username=username).first()
    tenant_id = home_tenant_id(user)
    # What was typed is kept only when it names an account: people type passwords into the
    # username box, and this table can never be edited.
    label = username if user else "(unknown account)"
    account_id = user.pk if user else 0
    with transaction.atomic():
        count, window = failures.sign_in_failure_count(
            account_id=account_id,
            label=label,
            tenant_id=tenant_id,
            client_ip=current_context().client_ip,
            refused=bool(getattr(request, "axes_locked_out", False)),
        )
        if count > 1 or not failures.sign_in_failure_first_of_window(
            account_id=account_id, window=window
        ):
            return
        failures.sign_in_failures_summarise(account_id=account_id)
        event_record(
            action="auth.login_failed",
            outcome=Outcome.DENIED,
            tenant=tenant_id,
            target_type="auth.user",
            target_id=str(user.pk) if user else "",
            target_label=label,
            # Further failures of this account in the window are counted, not recorded one by one.
            extra={"window_seconds": settings.SIGNIN_FAILURE_WINDOW_SECONDS},
            context=current_context(),
        )


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def record_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """The sign-in that locks an account or an address, once: django-axes signals again at every
    refused try, each of which is counted with the failed sign-ins."""
    counts = getattr(request, "signin_failures", {})
    if counts.get("account") == settings.AXES_FAILURE_LIMIT:
        tier, limit = "account", settings.AXES_FAILURE_LIMIT
    elif counts.get("address") == settings.SIGNIN_ADDRESS_FAILURE_LIMIT:
        tier, limit = "address", settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    else:
        return
    user = get_user_model().objects.filter(username=str(username or "")).first()
    event_record(
        action="auth.locked_out",
        outcome=Outcome.DENIED,
        tenant=home_tenant_id(user) if tier == "account" else None,
        target_type="auth.user" if tier == "account" else "",
        target_id=str(user.pk) if user and tier == "account" else "",
        target_label=(str(username) if user else "(unknown account)") if tier == "account" else "",
        extra={
            "tier": tier,
            "failures": limit,
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        context=current_context(),
    )
