"""An HTTPS forwarder's bearer secret, sealed at rest: AES-256-GCM under a key derived (HKDF)
from SECRET_KEY, so that a copy of the database alone does not hand out the tenant's collector
token. Written from the admin's password field, never shown again, never on the trail."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_VERSION = "v1"
_INFO = b"custodia siem forwarder bearer secret v1"
_AAD = b"audit.siemforwarder.bearer_secret"


class SecretUnreadable(Exception):
    """The sealed secret does not open (SECRET_KEY changed since it was entered)."""


def _key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(settings.SECRET_KEY.encode())


def secret_seal(plain: str) -> str:
    if not plain:
        return ""
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(nonce, plain.encode(), _AAD)
    return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def secret_open(sealed: str) -> str:
    if not sealed:
        return ""
    version, _, body = sealed.partition(":")
    try:
        if version != _VERSION:
            raise ValueError(version)
        raw = base64.b64decode(body, validate=True)
        return AESGCM(_key()).decrypt(raw[:12], raw[12:], _AAD).decode()
    except (ValueError, InvalidTag, binascii.Error) as error:
        raise SecretUnreadable(
            "the bearer secret cannot be read (was SECRET_KEY changed?): enter it again"
        ) from error
