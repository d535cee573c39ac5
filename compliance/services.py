"""Business operations of the compliance app. Each writes its audit event in its transaction."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from celery import current_app
from django.apps import apps
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, F, Value
from django.utils import timezone

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits, sql
from kit.locks import consent_lock, hold_placement_lock

from .date_window import date_window_error
from .holds import held_by
from .models import (
    ApiKey,
    Consent,
    ConsentChannel,
    ConsentDecision,
    LegalHold,
    Membership,
    Purpose,
    RetentionPolicy,
    Role,
    Tenant,
)
from .phone import InvalidNumber, normalise_number
from .refusals import Refused
from .roles import tenant_permits


def _member_lock(user) -> None:
    """Grants and revocations of one person run one after the other: each recomputes the
    person's groups from all their memberships, which a concurrent change to another of their
    memberships must not be left out of."""
    type(user).objects.select_for_update().filter(pk=user.pk).exists()


def _role_groups_align(user) -> None:
    """The person's role groups become exactly those of the roles they hold in some tenant.

    Django's permissions come from groups and know no tenant, so a role changed or revoked in
    one tenant must take its group away unless another membership still gives it; what each
    role may do in *which* tenant is then decided by `tenant_permits`. Groups that are no role's
    (given by a platform operator for another reason) are left alone."""
    held = {Role(role).label for role in user.memberships.values_list("role", flat=True)}
    role_groups = Group.objects.filter(name__in=Role.labels)
    user.groups.remove(*[group for group in role_groups if group.name not in held])
    user.groups.add(*[group for group in role_groups if group.name in held])
    # ModelBackend caches permissions on the instance: the caller's copy must not keep the old.
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)


@names_its_actor
@transaction.atomic
def membership_grant(*, actor, user, tenant: Tenant, role: str) -> Membership:
    """Give `user` the `role` in `tenant`, replacing the role they held there, and align their
    groups (which hold the roles' permissions) with all their memberships. Granting a role the
    user already has changes nothing and records nothing. `actor` is the user or the command
    granting it."""
    role = Role(role)
    _member_lock(user)
    membership, created = Membership.objects.get_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    old_role = membership.role
    if not created and old_role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    _role_groups_align(user)
    if created or old_role != role:
        event_record(
            action="membership.granted",
            tenant=tenant,
            target=membership,
            extra={
                "user": user.get_username(),
                "role": role.value,
                "old_role": "" if created else old_role,
                "granted_by": str(actor),
            },
        )
    return membership


@names_its_actor
@transaction.atomic
def membership_revoke(*, actor, membership: Membership) -> None:
    """Take a person's role in one tenant away, with the role's group unless another of their
    memberships still gives it. Revoking a membership that is already gone records nothing."""
    user = membership.user
    _member_lock(user)
    locked = Membership.objects.filter(pk=membership.pk).select_related("tenant").first()
    if locked is None:
        _role_groups_align(user)
        return
    label = str(locked)
    tenant, role = locked.tenant, locked.role
    locked.delete()
    _role_groups_align(user)
    event_record(
        action="membership.revoked",
        tenant=tenant,
        target_type="compliance.membership",
        target_id=str(membership.pk),
        target_label=label,
        extra={"user": user.get_username(), "old_role": role, "revoked_by": str(actor)},
    )


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
        raise Refused(f"you may not create API keys for {tenant.name}", field="tenant", status=403)
    if demo_token is not None:
        _, prefix, _ = demo_token.split("_", 2)
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
        raise Refused("you may not revoke this tenant's API keys", field="actor", status=403)
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


def _values(instance, fields: tuple[str, ...]) -> dict:
    return {name: getattr(instance, name) for name in fields}


PURPOSE_FIELDS = (
    "code",
    "name",
    "legal_basis",
    "requires_consent",
    "default_retention_months",
    "active",
    "tenant_id",
)
POLICY_FIELDS = (
    "name",
    "purpose_id",
    "tenant_id",
    "retention_months",
    "maximum_months",
    "action_at_expiry",
    "effective_from",
    "active",
    "legal_reference",
)


def _history_user_set(instance, actor) -> None:
    """The history row of the change names `actor`, wherever the service is called from: the
    admin's request would give it, a command, a task or a shell would leave it empty. Who may
    make the change is the admin's to decide (its tenant scoping), as it is today."""
    if isinstance(actor, AbstractBaseUser):
        instance._history_user = actor  # read by django-simple-history


@names_its_actor
@transaction.atomic
def purpose_save(*, actor, purpose: Purpose, created: bool) -> Purpose:
    """Create or change a purpose, audited with old and new values; `actor` is named in the
    purpose's history."""
    old = None if created else _values(Purpose.objects.get(pk=purpose.pk), PURPOSE_FIELDS)
    purpose.full_clean()
    _history_user_set(purpose, actor)
    purpose.save()
    event_record(
        action="purpose.created" if created else "purpose.changed",
        tenant=purpose.tenant_id,
        target=purpose,
        extra={"old": old, "new": _values(purpose, PURPOSE_FIELDS)},
    )
    return purpose


@names_its_actor
@transaction.atomic
def retention_policy_save(*, actor, policy: RetentionPolicy, created: bool) -> RetentionPolicy:
    """Create or change a policy, audited with old and new values, `actor` named in its history;
    after commit, the recordings it may affect get their `retain_until` recomputed in batches by
    a Celery task."""
    old = None
    if not created:
        old = _values(RetentionPolicy.objects.select_for_update().get(pk=policy.pk), POLICY_FIELDS)
    policy.full_clean()
    _history_user_set(policy, actor)
    policy.save()
    new = _values(policy, POLICY_FIELDS)
    event_record(
        action="retention_policy.created" if created else "retention_policy.changed",
        tenant=policy.tenant_id,
        target=policy,
        extra={"old": old, "new": new},
    )
    if old != new:
        purpose_id, tenant_id = policy.purpose_id, policy.tenant_id
        # By name, the deliberate seam of compliance towards recordings, which sits above it
        # (docs/architecture.md, deliberate seams; tests/test_architecture.py).
        transaction.on_commit(
            lambda: current_app.send_task(
                "recordings.tasks.recompute_retention",
                kwargs={"purpose_id": purpose_id, "tenant_id": tenant_id},
            )
        )
    return policy


def _refuse_outside_date_window(value: datetime | None, *, field: str) -> None:
    error = None if value is None else date_window_error(value)
    if error is not None:
        raise Refused(f"{field} {error}", field=field)


def _refuse_longer_than(text: str, limit: int, *, field: str) -> None:
    if len(text) > limit:
        raise Refused(f"{field} is longer than {limit} characters ({len(text)})", field=field)


# Clocks of IVRs and dialers drift; a decision this far ahead of our clock is still "now".
DECISION_CLOCK_SKEW = timedelta(seconds=120)


def consent_in_force(*, tenant: Tenant, customer_number: str, purpose: Purpose) -> Consent | None:
    return (
        Consent.objects.for_subject(tenant=tenant, customer_number=customer_number, purpose=purpose)
        .latest_first()
        .first()
    )


def _purpose_for(tenant: Tenant, code: str) -> Purpose:
    purpose = (
        Purpose.objects.available_to(tenant)
        .filter(code=code)
        .order_by(F("tenant").asc(nulls_last=True))
        .first()
    )
    if purpose is None:
        raise Refused(f"unknown or inactive purpose {code!r}", field="purpose")
    return purpose


def consent_check(
    *,
    tenant: Tenant,
    customer_number: str,
    purpose_code: str,
    decision: str,
    decided_at: datetime | None,
    channel: str,
    evidence: dict[str, str],
) -> tuple[Purpose, str]:
    """Validate a decision before it is recorded (the admin form uses it too): returns the
    purpose and the number in E.164, or raises Refused naming the field."""
    if decision not in ConsentDecision.values:
        raise Refused("decision must be granted, refused or withdrawn", field="decision")
    if channel not in ConsentChannel.values:
        raise Refused(f"channel must be one of {', '.join(ConsentChannel.values)}", field="channel")
    purpose = _purpose_for(tenant, purpose_code)
    if not purpose.requires_consent:
        # Nothing would read the decision: ingestion asks for consent only where the purpose
        # requires it, and a refusal or withdrawal ends no retention elsewhere. Kept silently, it
        # would look like a caller's choice that was honoured. (An objection to a purpose of
        # legitimate interest, GDPR Art. 21, is another right, not a consent decision.) A purpose
        # resting on consent always requires it (Purpose's constraint), so it is never this one.
        raise Refused(
            f"purpose {purpose.code} does not rest on consent (legal basis: "
            f"{purpose.get_legal_basis_display()}): no consent decision is recorded for it",
            field="purpose",
        )
    try:
        number = normalise_number(customer_number, default_region=tenant.country_code)
    except InvalidNumber as error:
        raise Refused(f"customer_number: {error}", field="customer_number") from error
    if decided_at is None or timezone.is_naive(decided_at):
        raise Refused("decided_at must be a date-time with its offset", field="decided_at")
    _refuse_outside_date_window(decided_at, field="decided_at")
    if decided_at > timezone.now() + DECISION_CLOCK_SKEW:
        raise Refused("decided_at is in the future", field="decided_at")
    evidence_limits = {
        "subject_reference": 128,
        "ivr_prompt_id": 64,
        "ivr_prompt_version": 32,
        "call_id": 128,
        "operator": 64,
    }
    for name, value in evidence.items():
        limit = evidence_limits[name]
        if len(value) > limit:
            raise Refused(f"{name} is longer than {limit} characters", field=name)
    return purpose, number


def consent_target(consent_id: object) -> dict[str, str]:
    """The target of an event about a consent decision. Not the consent's str(), which holds the
    caller's number (masked): the trail is append-only and must not keep personal data that an
    erasure could not reach."""
    return {
        "target_type": "compliance.consent",
        "target_id": str(consent_id)[:64],
        "target_label": f"consent {consent_id}"[:200],
    }


@transaction.atomic
def consent_view_record(*, user, consent: Consent) -> None:
    """The consent's detail page shows the caller's full number and the evidence of the
    decision: personal metadata access (docs/architecture.md, invariant 4), as a recording's
    page is (recording.viewed). No purpose is asked for browsing; the access is still traced."""
    event_record(
        action="consent.viewed",
        tenant=consent.tenant_id,
        purpose="",
        extra={
            "user": user.get_username(),
            "fields": ["customer_number", "subject_reference", "call_id", "operator"],
        },
        **consent_target(consent.pk),
    )


@transaction.atomic
def consent_record(
    *,
    recorded_by: str,
    tenant: Tenant,
    customer_number: str,
    purpose_code: str,
    decision: str,
    decided_at: datetime,
    channel: str,
    subject_reference: str = "",
    ivr_prompt_id: str = "",
    ivr_prompt_version: str = "",
    call_id: str = "",
    operator: str = "",
) -> Consent:
    """Record a caller's decision. A refusal or withdrawal that is now the decision in force
    ends the retention of that caller's recordings for the purpose: the next purge deletes them
    (reason "consent withdrawn") unless a legal hold applies."""
    purpose, number = consent_check(
        tenant=tenant,
        customer_number=customer_number,
        purpose_code=purpose_code,
        decision=decision,
        decided_at=decided_at,
        channel=channel,
        evidence={
            "subject_reference": subject_reference,
            "ivr_prompt_id": ivr_prompt_id,
            "ivr_prompt_version": ivr_prompt_version,
            "call_id": call_id,
            "operator": operator,
        },
    )
    # An upload resting on this caller's consent waits for the decision, and the decision for
    # an upload in flight: a withdrawal never misses a recording registered meanwhile.
    consent_lock(tenant.pk, number, purpose.pk)
    consent = Consent.objects.create(
        tenant=tenant,
        customer_number=number,
        subject_reference=subject_reference,
        purpose=purpose,
        decision=decision,
        decided_at=decided_at,
        channel=channel,
        ivr_prompt_id=ivr_prompt_id,
        ivr_prompt_version=ivr_prompt_version,
        call_id=call_id,
        operator=operator,
        recorded_by=recorded_by[:150],
    )
    # Recording rows before the audit events: every transaction takes row locks first and the
    # chain head's lock last (as the purge does), so the two never deadlock.
    in_force = consent_in_force(tenant=tenant, customer_number=number, purpose=purpose)
    withdrawn = []
    if in_force.pk == consent.pk and decision != ConsentDecision.GRANTED:
        withdrawn = _end_retention_after_withdrawal(consent)
    event_record(
        action="consent.recorded",
        tenant=tenant,
        **consent_target(consent.pk),
        purpose=purpose.code,
        extra={"decision": decision, "channel": channel, "decided_at": decided_at},
    )
    if withdrawn:
        event_record(
            action="recording.consent_withdrawn",
            tenant=tenant,
            **consent_target(consent.pk),
            purpose=purpose.code,
            extra={"recordings": withdrawn},
        )
    return consent


def _end_retention_after_withdrawal(consent: Consent) -> list[dict]:
    """Recordings that rested on this caller's consent may no longer be kept: their last day of
    retention becomes yesterday (tenant time), so the next purge deletes them. Returns the
    changes (id, old and new last day)."""
    if not consent.purpose.requires_consent:
        return []
    # By name: the deliberate seam towards recordings (docs/architecture.md).
    recording_model = apps.get_model("recordings", "Recording")
    yesterday = consent.tenant.today() - timedelta(days=1)
    affected = recording_model.objects.filter(
        tenant=consent.tenant,
        customer_number=consent.customer_number,
        purpose=consent.purpose,
        status="active",
    )
    changes = list(affected.values_list("pk", "retain_until"))
    if changes:
        affected.update(retain_until=yesterday, deletion_reason="consent_withdrawn")
    return [{"id": pk, "old": old.isoformat(), "new": yesterday.isoformat()} for pk, old in changes]


def legal_hold_check(
    *,
    tenant: Tenant,
    reference: str,
    reason: str,
    recordings: list,
    customer_number: str = "",
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    campaign: str = "",
) -> str:
    """Validate a hold before it is placed (the admin form uses it too); returns the number in
    E.164. Raises Refused naming the field."""
    if not reference.strip():
        raise Refused("a hold needs a case or inquiry reference", field="reference")
    if not reason.strip():
        raise Refused("a hold needs a reason", field="reason")
    _refuse_longer_than(
        reference.strip(), LegalHold._meta.get_field("reference").max_length, field="reference"
    )
    _refuse_longer_than(reason.strip(), limits.LEGAL_HOLD_REASON, field="reason")
    _refuse_longer_than(
        campaign, LegalHold._meta.get_field("campaign").max_length, field="campaign"
    )
    _refuse_outside_date_window(started_from, field="started_from")
    _refuse_outside_date_window(started_until, field="started_until")
    if any(recording.tenant_id != tenant.pk for recording in recordings):
        raise Refused("a recording of another tenant", field="recordings")
    number = ""
    if customer_number:
        try:
            number = normalise_number(customer_number, default_region=tenant.country_code)
        except InvalidNumber as error:
            raise Refused(f"customer_number: {error}", field="customer_number") from error
    if started_from and started_until and started_from > started_until:
        raise Refused("the date range ends before it starts", field="started_until")
    if not (recordings or number or started_from or started_until or campaign):
        raise Refused(
            "the hold's scope is empty: name recordings, a number, a date range or a campaign",
            field="scope",
        )
    return number


@names_its_actor
@transaction.atomic
def legal_hold_place(
    *,
    actor,
    tenant: Tenant,
    reference: str,
    reason: str,
    recordings=(),
    customer_number: str = "",
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    campaign: str = "",
) -> LegalHold:
    """Freeze recordings. Nothing deletes a held recording, and recordings arriving later that
    match the scope are held too."""
    if not tenant_permits(actor, tenant.pk, "compliance.place_legalhold"):
        raise Refused(f"you may not place legal holds for {tenant.name}", field="actor", status=403)
    recordings = list(recordings)
    number = legal_hold_check(
        tenant=tenant,
        reference=reference,
        reason=reason,
        recordings=recordings,
        customer_number=customer_number,
        started_from=started_from,
        started_until=started_until,
        campaign=campaign,
    )
    hold_placement_lock(tenant.pk)
    hold = LegalHold.objects.create(
        tenant=tenant,
        reference=reference.strip(),
        reason=reason.strip(),
        customer_number=number,
        started_from=started_from,
        started_until=started_until,
        campaign=campaign,
        placed_by=actor,
        placed_at=timezone.now(),
    )
    hold.recordings.set(recordings)
    event_record(
        action="legal_hold.placed",
        tenant=tenant,
        target=hold,
        justification=hold.reason,
        extra={
            "reference": hold.reference,
            "recordings": [recording.pk for recording in recordings],
            "customer_number": bool(number),
            "started_from": started_from,
            "started_until": started_until,
            "campaign": campaign,
            "holds_now": legal_hold_effect(hold),
        },
    )
    return hold


@names_its_actor
@transaction.atomic
def legal_hold_release(*, actor, hold: LegalHold, release_reason: str) -> LegalHold:
    locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if not tenant_permits(actor, locked.tenant_id, "compliance.release_legalhold"):
        raise Refused("you may not release this tenant's legal holds", field="actor", status=403)
    if locked.released_at is not None:
        raise Refused(
            f"hold {locked.reference} was already released on {locked.released_at:%Y-%m-%d}",
            field="hold",
            status=409,
        )
    if not release_reason.strip():
        raise Refused("releasing a hold needs a reason", field="release_reason")
    _refuse_longer_than(
        release_reason.strip(), limits.LEGAL_HOLD_RELEASE_REASON, field="release_reason"
    )
    held_before = legal_hold_effect(locked)
    locked.released_at = timezone.now()
    locked.released_by = actor
    locked.release_reason = release_reason.strip()
    locked.save(update_fields=["released_at", "released_by", "release_reason"])
    event_record(
        action="legal_hold.released",
        tenant=locked.tenant_id,
        target=locked,
        justification=locked.release_reason,
        extra={"reference": locked.reference, "held_until_now": held_before},
    )
    return locked


@transaction.atomic
def legal_hold_view_record(*, user, hold: LegalHold) -> None:
    """A hold's detail page shows the customer number it holds, in full: personal metadata
    access (docs/architecture.md, invariant 4), traced as a recording's page is
    (recording.viewed). A hold that names no number shows no personal data on its page, and its
    display is not an event."""
    if not hold.customer_number:
        return
    event_record(
        action="legal_hold.viewed",
        tenant=hold.tenant_id,
        target=hold,
        purpose="",
        extra={"user": user.get_username(), "fields": ["customer_number"]},
    )


def _held_now(hold: LegalHold):
    """The active recordings this hold holds now, as a queryset on Recording."""
    # By name: the deliberate seam towards recordings (docs/architecture.md).
    recording_model = apps.get_model("recordings", "Recording")
    return recording_model.objects.filter(held_by(hold), status="active")


def legal_hold_effects(holds: Iterable[LegalHold]) -> dict[int, int]:
    """How many active recordings each hold holds now, by hold id: one statement for all of
    them (the hold list shows a page of holds), each hold's count a part of its own, so that
    each still uses the indexes its criteria allow."""
    counts = [
        _held_now(hold)
        .order_by()
        .values(hold_id=Value(hold.pk))
        .annotate(held=Count("pk", distinct=True))
        .values_list("hold_id", "held")
        for hold in holds
    ]
    if not counts:
        return {}
    first, *rest = counts
    return dict(first.union(*rest, all=True) if rest else first)


def legal_hold_effect(hold: LegalHold) -> int:
    """How many active recordings this hold holds now."""
    return legal_hold_effects([hold])[hold.pk]
