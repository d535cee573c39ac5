"""The tenants' API keys (the recorder's, the dialer's): created, revoked, and the bearer token of
every API call authenticated."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from kit import sql
from kit.refusals import Refused

from ..models import ApiKey, Tenant
from ..roles import tenant_permits

API_KEY_PREFIX = "cst"


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@names_its_actor
@transaction.atomic
def api_key_create(
    *, actor, tenant: Tenant, name: str, demo_token: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for the recorder or dialer. The returned token is shown once and never stored:
    `cst_<prefix>_<secret>`. Only seed_demo passes `demo_token`, so that the README's example
    works against the demo data."""
    if isinstance(actor, AbstractBaseUser) and not tenant_permits(
        actor, tenant.pk, "compliance.add_apikey"
    ):
        raise Refused(
            format_lazy(_("you may not create API keys for {name}"), name=tenant.name),
            field="tenant",
            status=403,
        )
    if demo_token is not None:
        _scheme, prefix, _secret = demo_token.split("_", 2)
        token = demo_token
    else:
        prefix = secrets.token_hex(4)
        token = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        secret_hash=_secret_hash(token),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    event_record(action="api_key.created", tenant=tenant, target=api_key)
    return api_key, token


@names_its_actor
@transaction.atomic
def api_key_revoke(*, actor, api_key: ApiKey) -> ApiKey:
    """Revoke a key: the recorder or dialer using it is refused from then on. Revoking a key
    already revoked changes nothing and records nothing."""
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if isinstance(actor, AbstractBaseUser) and not tenant_permits(
        actor, locked.tenant_id, "compliance.change_apikey"
    ):
        raise Refused(_("you may not revoke this tenant's API keys"), field="actor", status=403)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        event_record(action="api_key.revoked", tenant=locked.tenant_id, target=locked)
    return locked


@functools.cache
def _api_key_sql() -> str:
    # Column names from the models; the prefix is a parameter.
    return (
        f"SELECT {sql.select_list(ApiKey, 'k')}, {sql.select_list(Tenant, 't')} "  # noqa: S608  # nosec B608 # model columns
        "FROM compliance_apikey k JOIN compliance_tenant t ON t.id = k.tenant_id "
        "WHERE k.prefix = %s"
    )


def _api_key_with_tenant(prefix: str) -> ApiKey | None:
    """The key of that prefix with its tenant, in one statement: every API call starts here, so
    it is written in SQL rather than compiled from a queryset on each call."""
    with sql.prepared_cursor() as cursor:
        cursor.execute(_api_key_sql(), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    split = sql.column_count(ApiKey)
    api_key = sql.from_row(ApiKey, row[:split])
    api_key.tenant = sql.from_row(Tenant, row[split:])
    return api_key


def api_key_authenticate(token: str, *, candidate: ApiKey | None = None) -> ApiKey | None:
    """The usable key this bearer token belongs to, or None. Marks the key as used (at most once
    a minute, so that a busy recorder does not rewrite the row on every call). `candidate` is the
    key of the token's prefix with its tenant, when the caller has read it already."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = candidate if candidate is not None else _api_key_with_tenant(parts[1])
    if api_key is None or api_key.revoked_at is not None:
        return None
    if not hmac.compare_digest(api_key.secret_hash, _secret_hash(token)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
