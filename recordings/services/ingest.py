"""recording_ingest: the recorder pushes a call; Custodia validates, encrypts, stores, registers.

Every refusal names the field, leaves no row and no file, and is recorded on the audit trail.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import event_record
from compliance.date_window import date_window_error
from compliance.models import (
    ApiKey,
    ConsentDecision,
    Purpose,
    RequestKind,
    RequestStatus,
    RetentionPolicy,
    Tenant,
)
from compliance.phone import InvalidNumber, normalise_number
from compliance.retention import decide
from compliance.services.consents import consent_in_force
from kit import locks, sql
from kit.null_characters import storable_values, unstorable
from kit.refusals import Refused
from kit.times import in_tenant_zone

from .. import crypto
from ..audio import AudioRejected, inspect_audio
from ..models import RECORDING_HISTORY, DeletionReason, Direction, Recording, Status
from ..storage import ChunkedContent, StoringInBackground, new_storage_name
from .purge.certificates import call_id_hashes
from .purge.schedule import next_run_date

logger = logging.getLogger(__name__)

CALL_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
# Recorder and portal clocks drift; a start this far ahead of our clock is still "now".
CLOCK_SKEW = timedelta(seconds=120)


@dataclass(frozen=True)
class IngestResult:
    recording: Recording
    created: bool
    # What the recorder should know about the registered call (see ingest_warnings).
    warnings: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class _Call:
    """What the upload's storage needs, checked before its audio is read."""

    call_id: str
    direction: str
    started_at: datetime
    purpose_code: str


@dataclass(frozen=True)
class _Details:
    """The rest of the fields, checked once the purpose is known to exist."""

    customer_number: str
    agent_code: str
    subject_reference: str
    campaign: str


@functools.cache
def _lookup_sql() -> str:
    """One statement for what an upload must know before it is stored: the purpose (a tenant's
    own before the platform's), that purpose's retention policies for the tenant, whether the
    call was erased (its certificate), and whether the caller's objection to that purpose was
    accepted (GDPR Art. 21: a data-subject request naming the number, found through the GIN index
    on the requests' numbers). Written in SQL because every upload runs it: each check is a part
    of this statement, never a round trip of its own."""
    purpose_columns = sql.select_list(Purpose, "p")
    policy_columns = sql.select_list(RetentionPolicy, "rp")
    return f"""
WITH purpose AS (
    SELECT {purpose_columns}
      FROM compliance_purpose p
     WHERE p.code = %(code)s AND p.active AND (p.tenant_id = %(tenant)s OR p.tenant_id IS NULL)
     ORDER BY p.tenant_id NULLS LAST
     LIMIT 1
), erased AS (
    SELECT c.deleted_at, c.reason
      FROM recordings_deletioncertificate c
     WHERE c.tenant_id = %(tenant)s AND c.call_id_hash = ANY(%(call_id_hashes)s)
       AND c.reason = ANY(%(erasure_reasons)s)
     LIMIT 1
), objection AS (
    -- An objection is to a purpose by its code: the tenant's own purpose of that code and the
    -- platform's are the same processing for the caller.
    SELECT r.id, r.objection_accepted_at
      FROM compliance_subjectrequest r
      JOIN compliance_purpose op ON op.id = r.objection_purpose_id
     WHERE %(number)s <> '' AND r.customer_numbers @> ARRAY[%(number)s]::varchar[]
       AND r.tenant_id = %(tenant)s AND r.kind = %(objection)s
       AND r.objection_accepted_at IS NOT NULL AND r.status <> %(refused)s
       AND op.code = %(code)s
     ORDER BY r.objection_accepted_at, r.id
     LIMIT 1
)
SELECT p.*, {policy_columns}, erased.deleted_at, erased.reason,
       objection.id, objection.objection_accepted_at
  FROM (SELECT 1) one
  LEFT JOIN purpose p ON true
  LEFT JOIN compliance_retentionpolicy rp
    ON rp.purpose_id = p.id AND rp.active
   AND (rp.tenant_id = %(tenant)s OR rp.tenant_id IS NULL)
  LEFT JOIN erased ON true
  LEFT JOIN objection ON true
"""  # noqa: S608  # nosec B608 # column names from the models


@dataclass(frozen=True)
class _Lookup:
    purpose: Purpose | None
    policies: list[RetentionPolicy]
    erased: tuple[datetime, str] | None  # (deleted_at, reason) of the call's erasure
    objection: tuple[int, datetime] | None  # (request id, accepted at) of an objection


def _lookup(tenant: Tenant, code: str, call_id: str, number: str) -> _Lookup:
    with sql.prepared_cursor() as cursor:
        cursor.execute(
            _lookup_sql(),
            {
                "code": code,
                "tenant": tenant.pk,
                "number": number,
                "objection": RequestKind.OBJECTION.value,
                "refused": RequestStatus.REFUSED.value,
                # Under every known key: an erasure certified before a key rotation still counts.
                "call_id_hashes": call_id_hashes(tenant.pk, call_id),
                "erasure_reasons": [
                    DeletionReason.ERASURE_REQUEST.value,
                    DeletionReason.CONSENT_WITHDRAWN.value,
                ],
            },
        )
        rows = cursor.fetchall()
    purposes, policies = sql.column_count(Purpose), sql.column_count(RetentionPolicy)
    first = rows[0]
    erased = (first[-4], first[-3]) if first[-4] is not None else None
    objection = (first[-2], first[-1]) if first[-2] is not None else None
    if first[0] is None:
        return _Lookup(None, [], erased, objection)
    purpose = sql.from_row(Purpose, first[:purposes])
    found = [
        sql.from_row(RetentionPolicy, row[purposes : purposes + policies])
        for row in rows
        if row[purposes] is not None
    ]
    return _Lookup(purpose, found, erased, objection)


def _text(value: object, *, field: str, limit: int, required: bool = False) -> str:
    problem = unstorable(value)
    if problem is not None:
        raise Refused(
            format_lazy(_("{field} must not contain {problem}"), field=field, problem=problem),
            field=field,
        )
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise Refused(format_lazy(_("{field} is required"), field=field), field=field)
    if len(text) > limit:
        raise Refused(
            format_lazy(_("{field} is longer than {limit} characters"), field=field, limit=limit),
            field=field,
        )
    return text


def _call(fields: dict[str, object]) -> _Call:
    call_id = _text(fields.get("call_id"), field="call_id", limit=128, required=True)
    if not CALL_ID.match(call_id):
        raise Refused(_("call_id may hold letters, digits and . _ : @ - only"), field="call_id")
    direction = _text(fields.get("direction"), field="direction", limit=8, required=True)
    if direction not in Direction.values:
        raise Refused(_("direction must be inbound or outbound"), field="direction")
    raw_start = _text(fields.get("started_at"), field="started_at", limit=40, required=True)
    try:
        started_at = parse_datetime(raw_start)
    except ValueError:
        started_at = None
    if started_at is None or timezone.is_naive(started_at):
        raise Refused(
            _(
                "started_at must be an ISO 8601 date-time with its offset, "
                "e.g. 2026-11-28T09:15:00+01:00"
            ),
            field="started_at",
        )
    error = date_window_error(started_at)
    if error is not None:
        raise Refused(format_lazy(_("started_at {error}"), error=error), field="started_at")
    if started_at > timezone.now() + CLOCK_SKEW:
        raise Refused(_("started_at is in the future"), field="started_at")
    code = _text(fields.get("purpose"), field="purpose", limit=60, required=True)
    return _Call(call_id=call_id, direction=direction, started_at=started_at, purpose_code=code)


def _details(tenant: Tenant, fields: dict[str, object]) -> _Details:
    raw_number = _text(fields.get("customer_number"), field="customer_number", limit=40)
    try:
        number = normalise_number(raw_number, default_region=tenant.country_code)
    except InvalidNumber as error:
        raise Refused(
            format_lazy(_("customer_number: {error}"), error=error), field="customer_number"
        ) from error
    return _Details(
        customer_number=number,
        agent_code=_text(fields.get("agent_code"), field="agent_code", limit=64),
        subject_reference=_text(
            fields.get("subject_reference"), field="subject_reference", limit=128
        ),
        campaign=_text(fields.get("campaign"), field="campaign", limit=128),
    )


def _require_consent(tenant: Tenant, number: str, purpose: Purpose) -> None:
    """A consent-based purpose needs the caller's consent in force (docs/architecture.md,
    "Consent and its withdrawal": the caller may refuse and may withdraw; insurance telesales,
    R.112-7: a caller who refused is recorded not at all)."""
    consent = consent_in_force(tenant=tenant, customer_number=number, purpose=purpose)
    if consent is None:
        reason = f"no consent of this caller is recorded for {purpose.code}, which requires it"
    elif consent.decision != ConsentDecision.GRANTED:
        reason = (
            f"the caller {consent.get_decision_display().lower()} consent for {purpose.code} "
            f"on {in_tenant_zone(consent.decided_at, tenant)} ({consent.get_channel_display()})"
        )
    else:
        return
    raise Refused(reason, field="consent", status=409)


def _refuse_objected(purpose: Purpose, objection: tuple[int, datetime] | None) -> None:
    """The caller objected to this purpose and the objection was accepted (GDPR Art. 21(1), (3)):
    from then on the number is not recorded for it, as a refused consent is not."""
    if objection is None:
        return
    request_id, accepted_at = objection
    raise Refused(
        format_lazy(
            _(
                "the caller objected to recording for {code} (GDPR Art. 21): "
                "objection accepted on {accepted_at} (data-subject request "
                "#{request_id})"
            ),
            code=purpose.code,
            accepted_at=format(accepted_at, "%Y-%m-%d"),
            request_id=request_id,
        ),
        field="objection",
        status=409,
    )


def recording_ingest_refusal_record(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    fields: Mapping[str, object],
    refusal: Refused,
) -> None:
    """Refusals go on the trail in their own transaction: the refused work left nothing. Also
    called by the API for what it refuses before the audio is read (no audio part, a body too
    large), so that every refusal of an upload has the same event. A value the trail could not
    store (a NUL, a lone surrogate: the refusal names its field) is left out."""
    fields = storable_values(fields)
    with transaction.atomic():
        event_record(
            action="recording.ingest_refused",
            tenant=tenant,
            outcome=Outcome.DENIED,
            target_type="recordings.recording",
            target_id=str(fields.get("call_id", ""))[:64],
            target_label=f"call {str(fields.get('call_id', ''))[:120]}",
            extra={
                "field": refusal.field,
                "reason": refusal.for_trail,
                "status": refusal.status,
                "api_key": api_key.prefix if api_key else "",
            },
        )


def _refuse_erased(call_id: str, erased: tuple[datetime, str] | None) -> None:
    if erased is None:
        return
    deleted_at, reason = erased
    # An erasure must stick: the recorder pushing the call again does not bring it back.
    raise Refused(
        format_lazy(
            _(
                "call {call_id} was erased on {deleted_at} ({lower}) and may not "
                "be registered again"
            ),
            call_id=call_id,
            deleted_at=format(deleted_at, "%Y-%m-%d"),
            lower=DeletionReason(reason).label.lower(),
        ),
        field="call_id",
        status=409,
    )


def ingest_warnings(recording: Recording) -> tuple[dict[str, str], ...]:
    """What the recorder should know about a call it has just registered: that the next purge
    deletes it, when its retention had already ended on arrival (a call pushed late, or a
    recorder's clock set wrong) and no legal hold holds it. Registered all the same: the
    recording existed and its upload is on the trail; a hold placed before the purge keeps it."""
    if recording.status != Status.ACTIVE:
        return ()
    purge_day = next_run_date(recording.tenant)
    if recording.retain_until >= purge_day or recording.active_holds().exists():
        return ()
    message = (
        f"the retention of this call ended on {recording.retain_until.isoformat()} (counted "
        f"from its start, {recording.started_at.date().isoformat()}): the next purge, on "
        f"{purge_day.isoformat()}, deletes it unless a legal hold applies"
    )
    return ({"field": "started_at", "code": "already_expired", "message": message},)


def _existing(tenant: Tenant, call_id: str, sha256: str) -> IngestResult | None:
    existing = Recording.objects.filter(tenant=tenant, call_id=call_id).first()
    if existing is None:
        return None
    if existing.audio_sha256 != sha256:
        raise Refused(
            format_lazy(
                _(
                    "call {call_id} is already registered with different audio; "
                    "audio is never replaced after ingest"
                ),
                call_id=call_id,
            ),
            field="call_id",
            status=409,
        )
    return IngestResult(existing, created=False, warnings=ingest_warnings(existing))


def _history_fields(recording: Recording) -> dict[str, object]:
    """The history row's own fields, as django-simple-history's post_save would set them; the
    rest of the row is the recording's columns (excluding the key material)."""
    user = RECORDING_HISTORY.get_history_user(recording)
    return {
        "history_date": timezone.now(),
        "history_type": "+",
        "history_user_id": user.pk if user is not None else None,
        "history_change_reason": None,
    }


def _discard_quietly(storing: StoringInBackground) -> None:
    """Remove a refused or failed upload's file without hiding why it failed: a file that cannot
    be removed is left to the orphan sweep."""
    try:
        storing.discard()
    except OSError:
        logger.exception("could not remove %s after a failed upload", storing.name)


def recording_ingest(
    *, tenant: Tenant, api_key: ApiKey | None, audio: bytes | BinaryIO, fields: dict[str, object]
) -> IngestResult:
    """Register one call. The same call id with the same audio again returns the existing
    recording (idempotent); with other audio it is refused with a 409. `audio` is the bytes, or
    a seekable binary file (the API's upload, spooled to disk when large), which is then read in
    pieces, never whole: inspected, hashed, and encrypted on its way to storage."""
    try:
        return _ingest(tenant=tenant, api_key=api_key, audio=audio, fields=fields)
    except Refused as refusal:
        recording_ingest_refusal_record(
            tenant=tenant, api_key=api_key, fields=fields, refusal=refusal
        )
        raise


def _ingest(
    *, tenant: Tenant, api_key: ApiKey | None, audio: bytes | BinaryIO, fields: dict[str, object]
) -> IngestResult:
    given = _call(fields)
    source = io.BytesIO(audio) if isinstance(audio, bytes | bytearray) else audio
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    if size > settings.RECORDINGS_MAX_UPLOAD_BYTES:
        raise Refused(
            format_lazy(
                _("the audio is larger than {recordings_max_upload_bytes} bytes"),
                recordings_max_upload_bytes=settings.RECORDINGS_MAX_UPLOAD_BYTES,
            ),
            field="audio",
            status=413,
        )
    try:
        info = inspect_audio(source)
    except AudioRejected as error:
        raise Refused(str(error), field="audio", status=415) from error
    source.seek(0)
    sha256 = hashlib.file_digest(source, "sha256").hexdigest()
    master = crypto.current_master_key()
    data_key = crypto.new_data_key()
    storage_name = new_storage_name(tenant.pk, given.started_at)
    blob = ChunkedContent(
        crypto.encrypt_audio_chunks(
            data_key, source, tenant_id=tenant.pk, storage_name=storage_name
        ),
        size=crypto.encrypted_size(size),
        name=storage_name,
    )
    wrapped = crypto.wrap_key(
        data_key, master=master, tenant_id=tenant.pk, storage_name=storage_name
    )
    # The file is written and fsynced from here on, while the purpose, its policies and any
    # erasure of the call are read and the row is inserted; it is discarded if anything refuses.
    storing = StoringInBackground(storage_name, blob)
    committing = False
    try:
        # The number is read first, for the lookup's objection check; a bad one is refused
        # after an unknown purpose, as before.
        try:
            details, bad_details = _details(tenant, fields), None
        except Refused as refusal:
            details, bad_details = None, refusal
        # A tenant's own purpose of that code comes before the platform's.
        found = _lookup(
            tenant, given.purpose_code, given.call_id, details.customer_number if details else ""
        )
        purpose = found.purpose
        if purpose is None:
            raise Refused(
                format_lazy(
                    _("unknown or inactive purpose {purpose_code}"),
                    purpose_code=repr(given.purpose_code),
                ),
                field="purpose",
            )
        if bad_details is not None:
            raise bad_details
        _refuse_erased(given.call_id, found.erased)
        _refuse_objected(purpose, found.objection)
        decision = decide(
            found.policies, purpose=purpose, tenant=tenant, started_at=given.started_at
        )
        recording = Recording(
            tenant=tenant,
            call_id=given.call_id,
            direction=given.direction,
            started_at=given.started_at,
            duration_seconds=info.duration_seconds,
            agent_code=details.agent_code,
            customer_number=details.customer_number,
            subject_reference=details.subject_reference,
            campaign=details.campaign,
            purpose=purpose,
            legal_basis=purpose.legal_basis,
            retention_policy_id=decision.policy_id,
            retain_until=decision.retain_until,
            size_bytes=size,
            content_type=info.content_type,
            audio_sha256=sha256,
            storage_name=storage_name,
            wrapped_key=wrapped,
            master_key_id=master.key_id,
        )
        with transaction.atomic():
            if purpose.requires_consent:
                # Checked under the caller's consent lock, in the transaction that registers
                # the recording: a withdrawal being recorded either sees this recording or is
                # seen here.
                locks.consent_lock(tenant.pk, details.customer_number, purpose.pk)
                _require_consent(tenant, details.customer_number, purpose)
            # The same call id again (a retry, or a concurrent upload that won) inserts nothing.
            created = sql.insert_with_history(
                recording, _history_fields(recording), on_conflict_do_nothing=("tenant", "call_id")
            )
            # The audio is on disk before the row that points at it commits; waited for before
            # the audit event, whose chain-head lock every audited action of the platform needs.
            storing.wait()
            warnings = ingest_warnings(recording) if created else ()
            if created:
                event_record(
                    action="recording.ingested",
                    tenant=tenant,
                    target=recording,
                    purpose=purpose.code,
                    extra={
                        "api_key": api_key.prefix if api_key else "",
                        "sha256": sha256,
                        "size_bytes": size,
                        "codec": info.codec.name,
                        "retain_until": decision.retain_until.isoformat(),
                        "retention_policy": decision.policy_id,
                        **({"warnings": list(warnings)} if warnings else {}),
                    },
                )
            committing = True
    except BaseException:
        if committing:
            # The commit itself failed (a connection lost during COMMIT): the row may be
            # committed, so its file stays; the orphan sweep removes it if no row claims it.
            raise
        _discard_quietly(storing)
        raise
    if not created:
        # Ours leaves nothing behind; the registered one answers (or refuses other audio).
        _discard_quietly(storing)
        repeated = _existing(tenant, given.call_id, sha256)
        if repeated is None:
            raise RuntimeError(f"call {given.call_id} conflicted but is not registered")
        return repeated
    return IngestResult(recording, created=True, warnings=warnings)
