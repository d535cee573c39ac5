from __future__ import annotations

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(cast):
    cast.alice.set_password(PASSWORD)
    cast.alice.save()
    return cast.alice


def password_sign_in(client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        **extra,
    )


def current_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """What the person's authenticator app shows now (RFC 6238), computed from the secret."""
    code = totp(
        device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead
    )
    return f"{code:0{device.digits}d}"
