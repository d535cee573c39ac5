"""The deletion core, shared by the purge's batches and erasure: recordings already locked and
checked against holds are deleted inside the caller's transaction, each with a signed certificate
and an audit event, and their files listed as pending removal (see the package's docstring for
the invariants). A batch is a handful of statements whatever its size."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from audit.context import current_context
from audit.keys import current_audit_key
from audit.services import Event, events_record_bulk
from compliance.models import ExpiryAction, LegalHold, RetentionPolicy, SubjectRequest

from ...models import (
    AccessGrant,
    DeletionCertificate,
    DeletionReason,
    PendingFileRemoval,
    Recording,
    Status,
)
from .certificates import call_id_hash, certificate_text

# What the deletion of one recording needs, in this order (a row of the batch query).
ROW_FIELDS = (
    "pk",
    "tenant_id",
    "call_id",
    "audio_sha256",
    "storage_name",
    "purpose__code",
    "retention_policy_id",
    "retain_until",
    "deletion_reason",
)
_NO_POLICY = (None, None)
_CERTIFICATE_COPY = (
    "COPY {table} (recording_id, tenant_id, call_id_hash, audio_sha256, storage_name, "
    "purpose_code, policy_id, policy_version, retain_until, reason, purge_run_id, deleted_at, "
    "signature, key_id) FROM STDIN"
)
# One statement for the rows and everything that points at them (set-based: Django's collector
# would load every row and fire django-simple-history's per-row signal), the files now pending
# removal, and the pending rows of files that the file remover has since removed. The foreign
# keys are DEFERRABLE INITIALLY DEFERRED: checked once all of it is done.
_DELETE_SQL = """
WITH recordings AS (
    DELETE FROM {recording} WHERE id = ANY(%(delete)s::bigint[])
), history AS (
    -- Metadata history holds the same personal data: it goes with the record.
    DELETE FROM {history} WHERE id = ANY(%(delete)s::bigint[])
), grants AS (
    DELETE FROM {grant} WHERE recording_id = ANY(%(delete)s::bigint[])
), hold_links AS (
    DELETE FROM {hold_link} WHERE recording_id = ANY(%(delete)s::bigint[])
), restriction_links AS (
    -- A lifted restriction's links (a restriction in force keeps its recordings), or those of
    -- the request that erases them: the request's own events keep the ids.
    DELETE FROM {restriction_link} WHERE recording_id = ANY(%(delete)s::bigint[])
), removed AS (
    DELETE FROM {pending} WHERE storage_name = ANY(%(removed)s::text[])
)
INSERT INTO {pending} (storage_name, purge_run_id, created_at)
SELECT unnest(%(pending)s::text[]), %(run)s, %(now)s
    ON CONFLICT (storage_name) DO NOTHING
"""


@functools.cache
def _sql() -> dict[str, str]:
    tables = {
        "recording": Recording._meta.db_table,
        "history": Recording.history.model._meta.db_table,
        "grant": AccessGrant._meta.db_table,
        "hold_link": LegalHold.recordings.through._meta.db_table,
        "restriction_link": SubjectRequest.restricted_recordings.through._meta.db_table,
        "pending": PendingFileRemoval._meta.db_table,
    }
    quoted = {name: connection.ops.quote_name(table) for name, table in tables.items()}
    return {
        "delete": _DELETE_SQL.format(**quoted),
        "copy": _CERTIFICATE_COPY.format(table=DeletionCertificate._meta.db_table),
    }


def _policies(policy_ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """Each policy's action at expiry and its version: the history id of the policy as it stands
    now, i.e. which version of the rule deleted."""
    if not policy_ids:
        return {}
    history = RetentionPolicy.history.model
    latest = history.objects.filter(id=OuterRef("pk")).order_by("-history_id").values("history_id")
    rows = (
        RetentionPolicy.objects.filter(pk__in=policy_ids)
        .annotate(version=Subquery(latest[:1]))
        .values_list("pk", "action_at_expiry", "version")
    )
    return {pk: (action, version) for pk, action, version in rows}


def _copy_certificates(certificates: list[tuple]) -> None:
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(_sql()["copy"]) as copy:
        for certificate in certificates:
            copy.write_row(certificate)


def delete_rows(
    rows: Sequence[tuple],
    *,
    reason: str | None,
    run_id: int | None,
    action: str,
    removed: Sequence[str] = (),
    checks_now: bool = False,
) -> list[str]:
    """Delete recordings already locked (FOR UPDATE) and checked against holds, given as rows of
    ROW_FIELDS, inside the caller's transaction: a signed certificate and an audit event each,
    the row (or its personal fields) gone, its file listed as pending removal. Also forgets the
    pending removals of `removed` files. Returns the storage names now pending removal.
    `checks_now`: the transaction is the purge's own, and its deferred constraints may be
    checked before the audit events are appended (SET CONSTRAINTS lasts to its end)."""
    now = timezone.now()
    key = current_audit_key()
    key_id = key.key_id
    policies = _policies({row[6] for row in rows if row[6] is not None})
    context = current_context()
    certificates, events, pending, to_delete, to_anonymise = [], [], [], [], []
    for pk, tenant_id, call_id, sha, name, purpose, policy_id, retain_until, own_reason in rows:
        final_reason = reason or own_reason
        policy_action, version = policies.get(policy_id, _NO_POLICY)
        call_hash = call_id_hash(tenant_id, call_id, key)
        text = certificate_text(
            recording_id=pk,
            tenant_id=tenant_id,
            call_id_hash=call_hash,
            audio_sha256=sha,
            storage_name=name,
            purpose_code=purpose,
            policy_id=policy_id,
            policy_version=version,
            retain_until=retain_until,
            reason=final_reason,
            purge_run_id=run_id,
            deleted_at=now,
        )
        signature = key.digest(text.encode())
        certificates.append(
            (
                pk,
                tenant_id,
                call_hash,
                sha,
                name,
                purpose,
                policy_id,
                version,
                retain_until,
                final_reason,
                run_id,
                now,
                signature,
                key_id,
            )
        )
        events.append(
            Event(
                action=action,
                tenant_id=tenant_id,
                target_type="recordings.recording",
                target_id=str(pk),
                target_label=f"call {call_id}"[:200],
                purpose=purpose,
                extra={
                    "reason": final_reason,
                    "retain_until": retain_until.isoformat(),
                    "audio_sha256": sha,
                    "purge_run": run_id,
                },
                context=context,  # occurred_at: when events_record_bulk appends them
            )
        )
        if name:
            pending.append(name)
        if final_reason == DeletionReason.EXPIRED and policy_action == ExpiryAction.ANONYMISE:
            to_anonymise.append(pk)
        else:
            to_delete.append(pk)
    sql = _sql()
    _copy_certificates(certificates)
    with connection.cursor() as cursor:
        cursor.execute(
            sql["delete"],
            {
                "delete": to_delete,
                "removed": list(removed),
                "pending": pending,
                "run": run_id,
                "now": now,
            },
        )
    if to_anonymise:
        history = Recording.history.model
        personal = {"customer_number": "", "subject_reference": "", "agent_code": ""}
        history.objects.filter(id__in=to_anonymise).update(**personal, agent=None)
        Recording.objects.filter(pk__in=to_anonymise).update(
            **personal,
            agent=None,
            status=Status.PURGED,
            wrapped_key=None,  # crypto-shredding: every copy of the audio is now unreadable
            storage_name="",
        )
    if checks_now:
        # The deferred foreign-key checks of all the above run now rather than at the commit:
        # the audit chain's head, locked by the next step until the commit, then waits for no
        # more than the events' COPY and the commit (concurrent batches queue up there only).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    events_record_bulk(events)
    return pending


def jit_off() -> None:
    """For the rest of the transaction. The purge's statements are estimated expensive at scale
    (hundreds of thousands of rows, arrays of thousands of ids), and PostgreSQL's JIT then
    compiles each one for longer than it runs (seconds for the preview's counts)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
