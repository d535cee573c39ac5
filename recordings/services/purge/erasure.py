"""Erasure of one recording now (a granted erasure request, an accepted objection), through the
deletion core; refused, and the refusal audited, while a legal hold holds it or another request's
restriction (GDPR Art. 18) keeps it."""

from __future__ import annotations

import functools

from django.db import transaction

from audit.context import names_its_actor
from audit.models import Outcome
from audit.services import event_record
from compliance.models import LegalHold, SubjectRequest
from kit import locks

from ...models import DeletionReason, Recording, Status
from .deletion import delete_rows
from .files import remove_pending_files


class RecordingHeld(Exception):
    def __init__(self, holds: list[LegalHold]):
        references = ", ".join(hold.reference for hold in holds)
        super().__init__(f"the recording is under legal hold ({references})")
        self.holds = holds


class RecordingRestricted(Exception):
    """Another data-subject request restricts the recording (Art. 18): it is kept until lifted."""

    def __init__(self, requests: list[SubjectRequest]):
        names = ", ".join(f"request #{request.pk}" for request in requests)
        super().__init__(f"the recording is restricted (GDPR Art. 18, {names})")
        self.requests = requests


@names_its_actor
def recording_erase(
    *,
    actor,
    recording: Recording,
    reason: str = DeletionReason.ERASURE_REQUEST,
    serving: SubjectRequest | None = None,
):
    """Delete one recording now (granted erasure request, accepted objection). Refused, with the
    holds named and the refusal audited, when a legal hold applies (GDPR Art. 17(3)(b),(e));
    likewise when a restriction (Art. 18) of a request other than `serving` (the request this
    erasure fulfils, whose own restriction pending its decision does not stand in its way)
    keeps it.

    The audio file is removed once the deletion has committed, which inside a caller's
    transaction is that transaction's commit: if it rolls back, the row, its key and its file are
    all still there, and the file's pending removal is rolled back with the rest. A crash (or an
    unlink failing) between the commit and the removal leaves the file pending: the next purge
    run removes it.

    `actor` (the person who granted the request, or None) is who the events name when no request
    is being served (a task, a command); inside a request the request's person is."""
    with transaction.atomic():
        locks.deletion_lock(recording.tenant_id)
        locked = (
            Recording.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .filter(pk=recording.pk, status=Status.ACTIVE)
            .first()
        )
        if locked is None:
            raise Recording.DoesNotExist(f"recording {recording.pk} is not active")
        holds = list(locked.active_holds())
        restrictions = [
            request
            for request in locked.active_restrictions()
            if serving is None or request.pk != serving.pk
        ]
        if not holds and not restrictions:
            row = (
                locked.pk,
                locked.tenant_id,
                locked.call_id,
                locked.audio_sha256,
                locked.storage_name,
                locked.purpose.code,
                locked.retention_policy_id,
                locked.retain_until,
                locked.deletion_reason,
            )
            names = delete_rows([row], reason=reason, run_id=None, action="recording.erased")
            # Registered in this block: discarded if it (or an enclosing block) rolls back.
            # robust: the erasure has committed by then; a failure only leaves files pending.
            transaction.on_commit(functools.partial(remove_pending_files, names), robust=True)
    if holds:
        with transaction.atomic():
            event_record(
                action="legal_hold.blocked_erasure",
                tenant=recording.tenant_id,
                target=recording,
                outcome=Outcome.DENIED,
                extra={"holds": [hold.reference for hold in holds], "reason": reason},
            )
        raise RecordingHeld(holds)
    if restrictions:
        with transaction.atomic():
            event_record(
                action="restriction.blocked_erasure",
                tenant=recording.tenant_id,
                target=recording,
                outcome=Outcome.DENIED,
                extra={"requests": [request.pk for request in restrictions], "reason": reason},
            )
        raise RecordingRestricted(restrictions)
