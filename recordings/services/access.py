"""Purpose-bound listening: a person states why, gets a time-limited grant, and every play, download
and metadata view goes on the trail with that purpose (docs/architecture.md, invariant 4).

Refusals are recorded too, in a transaction of their own: the refused work leaves nothing, but
the attempt stays on the trail (the caller's transaction is not rolled back by a refusal, because
the refusal is raised only after the denied event has been written and the grant's savepoint has
been discarded).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import Outcome
from audit.services import event_record
from compliance.access_rules import (
    AccessNeed,
    allowed_access_purposes,
    may_download,
    may_listen,
    tenant_role,
)
from compliance.models import Role
from kit import limits
from kit.refusals import Refused

from ..models import AccessGrant, Recording, Status

# A reason a reviewer can act on ("complaint ref. 2024-118 about the agent's tone"), not "ok".
MIN_JUSTIFICATION_LENGTH = 10
MAX_JUSTIFICATION_LENGTH = limits.ACCESS_JUSTIFICATION


def _lower(text) -> str:
    return str(text).lower()


# A label in lower case when it is read, in the reader's language (or the trail's English).
_lowercase = lazy(_lower, str)


class AccessRefused(Exception):
    """Listening was refused, and the refusal audited: a grant asked for (`recording.access_denied`)
    or audio asked for without a valid grant (`recording.play_denied`).

    `reason` is a stable code: permission, download, tenant, inactive, restricted, purpose (a
    grant); permission, inactive, restricted, no_grant (audio).

    A request left incomplete (no purpose chosen, a justification too short or too long) is no
    refusal of what was asked: it is `kit.refusals.Refused`, naming the field to correct, and
    goes on no trail (see `access_grant_request`).
    """

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


def _access_refusal_record(
    *,
    recording: Recording,
    refusal: AccessRefused,
    purpose: str,
    justification: str,
    download: bool,
) -> None:
    with transaction.atomic():
        event_record(
            action="recording.access_denied",
            outcome=Outcome.DENIED,
            tenant=recording.tenant_id,
            target=recording,
            purpose=str(purpose)[:60],
            justification=justification[:MAX_JUSTIFICATION_LENGTH],
            extra={"reason": refusal.reason, "message": refusal.message, "download": download},
        )


def _restrictions(recording: Recording) -> list[int]:
    """The requests whose restriction (GDPR Art. 18) is in force on the recording."""
    return list(recording.active_restrictions().values_list("pk", flat=True))


def _may_hear_restricted(*, user, recording: Recording) -> bool:
    """A restricted recording is kept, and processed only for the establishment, exercise or
    defence of legal claims (Art. 18(2)): by the tenant's compliance officer, stating a legal or
    regulatory request (AccessNeed.LEGAL). A platform operator does not hear it."""
    return tenant_role(user=user, tenant_id=recording.tenant_id) == Role.COMPLIANCE_OFFICER


def restriction_barring(*, user, recording: Recording) -> str:
    """Why this user may not even ask to hear the recording because of a restriction in force
    (the refusal's own sentence), or "" when none bars them: what the recording's page says in
    place of its Listen link."""
    restrictions = _restrictions(recording)
    if restrictions and not _may_hear_restricted(user=user, recording=recording):
        return _restriction_refusal(restrictions).message
    return ""


def _restriction_refusal(restrictions: list[int]) -> AccessRefused:
    requests = ", ".join(f"#{pk}" for pk in restrictions)
    return AccessRefused(
        format_lazy(
            gettext_lazy(
                "This recording is restricted at the caller's request (GDPR Art. 18, request "
                "{requests}): only a compliance officer of its tenant may hear it, stating "
                "{need}."
            ),
            requests=requests,
            need=_lowercase(AccessNeed.LEGAL.label),
        ),
        reason="restricted",
    )


def _check_may_listen(*, user, recording: Recording, download: bool) -> list[AccessNeed]:
    """The needs the user may state, or AccessRefused (not yet audited)."""
    if not user.is_superuser and tenant_role(user=user, tenant_id=recording.tenant_id) is None:
        raise AccessRefused(
            gettext_lazy("You are not a member of this recording's tenant."), reason="tenant"
        )
    if not may_listen(user=user, recording=recording):
        raise AccessRefused(
            gettext_lazy("You are not allowed to listen to recordings in this tenant."),
            reason="permission",
        )
    if download and not may_download(user=user, recording=recording):
        raise AccessRefused(
            gettext_lazy("You are not allowed to download recordings in this tenant."),
            reason="download",
        )
    if recording.status != Status.ACTIVE:
        raise AccessRefused(
            gettext_lazy("This recording's audio has been deleted and cannot be heard."),
            reason="inactive",
        )
    purposes = allowed_access_purposes(user=user, recording=recording)
    restrictions = _restrictions(recording)
    if restrictions:
        if AccessNeed.LEGAL not in purposes or not _may_hear_restricted(
            user=user, recording=recording
        ):
            raise _restriction_refusal(restrictions)
        purposes = [AccessNeed.LEGAL]
    if not purposes:
        raise AccessRefused(
            format_lazy(
                gettext_lazy(
                    "No listening purpose open to your role is compatible with this recording's "
                    "purpose ({purpose})."
                ),
                purpose=recording.purpose,
            ),
            reason="purpose",
        )
    return purposes


def listening_purposes(*, user, recording: Recording) -> list[AccessNeed]:
    """The needs the user may state for this recording (for the purpose form). When there is none
    at all (an auditor, a deleted recording, an incompatible purpose), the attempt is recorded as
    denied and AccessRefused raised."""
    try:
        return _check_may_listen(user=user, recording=recording, download=False)
    except AccessRefused as refusal:
        _access_refusal_record(
            recording=recording, refusal=refusal, purpose="", justification="", download=False
        )
        raise


def access_grant_request(
    *,
    user,
    recording: Recording,
    purpose: str,
    justification: str,
    download: bool = False,
) -> AccessGrant:
    """Grant `user` access to `recording` for LISTENING_GRANT_MINUTES, for a stated purpose.

    Raises AccessRefused, after recording a `recording.access_denied` event, when the user may not
    listen (or download) in the recording's tenant, the purpose is not one they may state for this
    recording, or the audio is gone. Raises Refused, naming the field and recording nothing, when
    the request is incomplete: no purpose chosen, or a justification shorter than
    MIN_JUSTIFICATION_LENGTH or longer than MAX_JUSTIFICATION_LENGTH. A slip to correct is not
    a denial: counted as one, it would raise the trail's denied-burst alert against a person
    who forgot a field. A purpose the role may not state is a denial whatever the justification.

    Not decorated with @transaction.atomic on purpose: the grant is written in an atomic block,
    and a refusal is recorded in another one *after* the first has rolled back, so that the
    denied event survives the refusal.
    """
    justification = (justification or "").strip()
    if not purpose:
        raise Refused(_("Choose why you need to hear this call."), field="purpose")
    try:
        return _access_grant_create(
            user=user,
            recording=recording,
            purpose=purpose,
            justification=justification,
            download=download,
        )
    except AccessRefused as refusal:
        _access_refusal_record(
            recording=recording,
            refusal=refusal,
            purpose=purpose,
            justification=justification,
            download=download,
        )
        raise


def _refuse_incomplete_justification(justification: str) -> None:
    """Refused (not a denial, nothing recorded) for a justification to correct."""
    if len(justification) < MIN_JUSTIFICATION_LENGTH:
        raise Refused(
            _(
                "Say why you need to hear this call (at least %(minimum)d characters): the "
                "reason is kept on the audit trail."
            )
            % {"minimum": MIN_JUSTIFICATION_LENGTH},
            field="justification",
        )
    if len(justification) > MAX_JUSTIFICATION_LENGTH:
        raise Refused(
            _("Keep the justification under %(maximum)d characters.")
            % {"maximum": MAX_JUSTIFICATION_LENGTH},
            field="justification",
        )


@transaction.atomic
def _access_grant_create(
    *, user, recording: Recording, purpose: str, justification: str, download: bool
) -> AccessGrant:
    allowed = _check_may_listen(user=user, recording=recording, download=download)
    if purpose not in allowed:
        restrictions = _restrictions(recording)
        if restrictions:  # only a legal claim is heard: say why, rather than "not your purpose"
            raise _restriction_refusal(restrictions)
        label = AccessNeed(purpose).label if purpose in AccessNeed.values else repr(purpose)
        raise AccessRefused(
            format_lazy(
                gettext_lazy("{purpose} is not a purpose you may state for this recording."),
                purpose=label,
            ),
            reason="purpose",
        )
    _refuse_incomplete_justification(justification)
    granted_at = timezone.now()
    grant = AccessGrant.objects.create(
        recording=recording,
        user=user,
        purpose=purpose,
        justification=justification,
        allows_download=download,
        granted_at=granted_at,
        expires_at=granted_at + timedelta(minutes=settings.LISTENING_GRANT_MINUTES),
    )
    event_record(
        action="recording.access_granted",
        tenant=recording.tenant_id,
        target=recording,
        purpose=purpose,
        justification=justification,
        extra={
            "grant": grant.pk,
            "expires_at": grant.expires_at.isoformat(),
            "download": download,
            # What the alert rules compare the stated need with (audit/alerts/rules.py).
            "recording_purpose": recording.purpose.code,
            "recording_purpose_name": recording.purpose.name,
            "recording_purpose_platform": recording.purpose.tenant_id is None,
        },
    )
    return grant


def active_grant(*, user, recording: Recording, download: bool = False) -> AccessGrant | None:
    """The user's unexpired grant for this recording (one allowing download when asked), the
    latest-expiring first. While a restriction (Art. 18) is in force, only a grant for a legal
    or regulatory request counts, and only a compliance officer's."""
    grants = AccessGrant.objects.filter(
        recording=recording, user=user, expires_at__gt=timezone.now()
    )
    if download:
        grants = grants.filter(allows_download=True)
    if _restrictions(recording):
        if not _may_hear_restricted(user=user, recording=recording):
            return None
        grants = grants.filter(purpose=AccessNeed.LEGAL)
    return grants.order_by("-expires_at").first()


def _playback_check(*, user, recording: Recording, download: bool) -> AccessGrant:
    allowed = (
        may_download(user=user, recording=recording)
        if download
        else may_listen(user=user, recording=recording)
    )
    if not allowed:
        raise AccessRefused(
            gettext_lazy("You are not allowed to download this recording.")
            if download
            else gettext_lazy("You are not allowed to listen to this recording."),
            reason="permission",
        )
    if recording.status != Status.ACTIVE:
        raise AccessRefused(
            gettext_lazy("The recording's audio has been deleted."), reason="inactive"
        )
    restrictions = _restrictions(recording)
    if restrictions and not _may_hear_restricted(user=user, recording=recording):
        raise _restriction_refusal(restrictions)
    grant = active_grant(user=user, recording=recording, download=download)
    if grant is None and restrictions:
        # A grant stated before the restriction, for another need, no longer plays.
        raise _restriction_refusal(restrictions)
    if grant is None:
        raise AccessRefused(
            gettext_lazy(
                "State a purpose first: you hold no valid grant allowing download for this "
                "recording."
            )
            if download
            else gettext_lazy("State a purpose first: you hold no valid grant for this recording."),
            reason="no_grant",
        )
    return grant


def playback_authorise(*, user, recording: Recording, download: bool = False) -> AccessGrant:
    """The grant under which audio may be served now. Without one (none stated, expired, the
    permission or membership since withdrawn, the audio deleted) the attempt is recorded as a
    `recording.play_denied` event and AccessRefused raised."""
    try:
        return _playback_check(user=user, recording=recording, download=download)
    except AccessRefused as refusal:
        with transaction.atomic():
            event_record(
                action="recording.play_denied",
                outcome=Outcome.DENIED,
                tenant=recording.tenant_id,
                target=recording,
                extra={"reason": refusal.reason, "download": download},
            )
        raise


@transaction.atomic
def recording_not_found_record(*, recording_id: object) -> None:
    """A recording that does not exist, or belongs to another tenant, was asked for. The answer
    is a 404 either way; the attempt goes on the platform operators' trail (no tenant: the owning
    tenant, if any, must not learn another tenant's staff, and the prober must not learn that the
    recording exists)."""
    event_record(
        action="recording.access_denied",
        outcome=Outcome.DENIED,
        target_type="recordings.recording",
        target_id=str(recording_id)[:64],
        extra={"reason": "not_found"},
    )


@transaction.atomic
def recording_play_record(*, user, recording: Recording, grant: AccessGrant) -> bool:
    """Audio was served under `grant`: on the first such request, whatever byte range it asked
    for, record who played it, for what purpose, under which grant. A player asks for many ranges
    in one listening session (the start, then each seek; or a resumed position first): one event
    per grant, not one per request. Returns whether this request recorded it.

    The grant's first_played_at is set by a conditional UPDATE, so that of two concurrent first
    requests exactly one records the event (the other waits for the row lock, then finds it
    set); it commits or rolls back with the event. The actor, IP, user agent and workstation come
    from the request's audit context."""
    if grant.first_played_at is not None:
        return False
    now = timezone.now()
    claimed = AccessGrant.objects.filter(pk=grant.pk, first_played_at__isnull=True).update(
        first_played_at=now
    )
    if not claimed:
        return False
    grant.first_played_at = now
    event_record(
        action="recording.played",
        tenant=recording.tenant_id,
        target=recording,
        purpose=grant.purpose,
        justification=grant.justification,
        extra={"grant": grant.pk, "user": user.get_username()},
    )
    return True


@transaction.atomic
def recording_download_record(*, user, recording: Recording, grant: AccessGrant) -> None:
    event_record(
        action="recording.downloaded",
        tenant=recording.tenant_id,
        target=recording,
        purpose=grant.purpose,
        justification=grant.justification,
        extra={"grant": grant.pk, "user": user.get_username(), "sha256": recording.audio_sha256},
    )


@transaction.atomic
def recording_view_record(*, user, recording: Recording, page: str = "") -> None:
    """The recording's detail page, and its history's pages (`page` names them), show the full
    customer number: personal metadata access (docs/architecture.md, invariant 4). No purpose is
    asked for browsing metadata; the access is still traced."""
    extra = {"user": user.get_username(), "fields": ["customer_number", "subject_reference"]}
    if page:
        extra["page"] = page
    event_record(
        action="recording.viewed",
        tenant=recording.tenant_id,
        target=recording,
        purpose="",
        extra=extra,
    )
