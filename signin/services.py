"""Second-factor enrolment and verification, and lockout resets: each writes its audit event in
its transaction."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import Outcome
from audit.services import event_record, home_tenant_id

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
# An authenticator shows six digits; recovery codes are eight letters and digits
# (StaticToken.random_token), so the shape of what was typed says which device to ask. Asking
# both would count a recovery code as a failed TOTP attempt and slow the next one down.
_TOTP_SHAPE = re.compile(r"^\d{6}$")


class WrongCode(ValueError):
    """The code typed is not the one the authenticator app shows now."""


def _compact(token: str) -> str:
    return re.sub(r"\s+", "", token).lower()


def totp_device_pending(*, user: AbstractBaseUser) -> TOTPDevice:
    """The authenticator `user` is enrolling: one unconfirmed device, kept until it is confirmed,
    so that a QR code already scanned stays valid when the page is reloaded."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def has_second_factor(user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def two_factor_enrol(*, actor, user: AbstractBaseUser, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator of `user` with a first code from it, and give them
    RECOVERY_CODE_COUNT new single-use recovery codes (returned once, never shown again). Any
    earlier authenticator and recovery codes are replaced. Raises WrongCode if the code is not
    the authenticator's."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None or not device.verify_token(_compact(token)):
        raise WrongCode("the code is not the one the authenticator app shows now")
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    recovery = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    event_record(
        action="auth.two_factor_enrolled",
        tenant=home_tenant_id(user),
        target=user,
        extra={"recovery_codes": RECOVERY_CODE_COUNT},
    )
    return device, codes


@transaction.atomic
def two_factor_verify(*, actor, user: AbstractBaseUser, token: str) -> Device | None:
    """The device that accepts `token` as the second factor of `user` (their authenticator for
    six digits, else their recovery codes, each of which works once), or None. Both outcomes
    are on the trail; django-otp slows down repeated failures on each device."""
    token = _compact(token)
    model = TOTPDevice if _TOTP_SHAPE.match(token) else StaticDevice
    device = None
    for candidate in model.objects.select_for_update().filter(user=user, confirmed=True):
        if candidate.verify_token(token):
            device = candidate
            break
    if device is None:
        event_record(
            action="auth.two_factor_failed",
            outcome=Outcome.DENIED,
            tenant=home_tenant_id(user),
            target=user,
            extra={"method": "authenticator" if model is TOTPDevice else "recovery_code"},
        )
        return None
    extra: dict = {"method": "authenticator"}
    if isinstance(device, StaticDevice):
        extra = {"method": "recovery_code", "recovery_codes_left": device.token_set.count()}
    event_record(
        action="auth.two_factor_verified", tenant=home_tenant_id(user), target=user, extra=extra
    )
    return device


@transaction.atomic
def two_factor_remove(*, actor, devices: Iterable[Device]) -> int:
    """A platform operator takes away a person's authenticator or recovery codes (a lost phone):
    they enrol again at their next sign-in."""
    removed = 0
    for device in devices:
        event_record(
            action="auth.two_factor_removed",
            tenant=home_tenant_id(device.user),
            target=device.user,
            extra={"device": device.name},
        )
        device.delete()
        removed += 1
    return removed


@transaction.atomic
def lockout_reset(*, actor, attempts: Iterable) -> int:
    """A platform operator unlocks accounts: the failed sign-ins django-axes counted for them
    are forgotten, and each unlocked account is named on the trail."""
    reset = 0
    for attempt in attempts:
        user = get_user_model().objects.filter(username=attempt.username).first()
        event_record(
            action="auth.lockout_reset",
            tenant=home_tenant_id(user),
            target_type="auth.user",
            target_id=str(user.pk) if user else "",
            target_label=attempt.username if user else "(unknown account)",
            extra={"failures": attempt.failures_since_start, "ip_address": attempt.ip_address},
        )
        attempt.delete()
        reset += 1
    return reset
