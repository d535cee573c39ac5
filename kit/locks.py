"""PostgreSQL advisory locks, named here so that every process agrees on their numbers.

Transaction-scoped locks end with the transaction; session-scoped ones must be released.
"""

from __future__ import annotations

from django.db import connection

# Two-integer keys: (namespace, tenant id or run id).
HOLD_NAMESPACE = 73_01  # placing a hold (exclusive) vs deleting recordings (shared), per tenant
PURGE_TENANT_NAMESPACE = 73_02  # one purge run per tenant at a time
PURGE_RUN_NAMESPACE = 73_03  # held by a live purge run for its own id
CONSENT_NAMESPACE = 73_04  # a caller's consent for a purpose: recording a decision vs an upload
# Session-level, one per upload in flight: (namespace, API key id * UPLOAD_SLOT_SPAN + slot).
UPLOAD_SLOT_NAMESPACE = 73_05
UPLOAD_SLOT_SPAN = 64  # slots per key, at most (API_UPLOADS_IN_FLIGHT_PER_KEY < 64)
AUTH_FAILURE_NAMESPACE = 73_06  # the first failed API authentication of a key prefix in a window
SIGNIN_FAILURE_NAMESPACE = 73_07  # the first failed sign-in of an account in a window
ALERT_RULES_NAMESPACE = 73_08  # one evaluation of the alert rules at a time, per chunk
# Session-level, held by the process building one data-subject export: (namespace, export id).
SUBJECT_EXPORT_NAMESPACE = 73_09
# Session-level, held by the process importing a version of one do-not-call list:
# (namespace, hashtext("<source>|<tenant id or empty>")).
DNC_IMPORT_NAMESPACE = 73_10


def _execute(sql: str, key: tuple[int, int | str]) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(key))
        row = cursor.fetchone()
    return row[0] if row else None


def hold_placement_lock(tenant_id: int) -> None:
    """Placing or widening a hold waits for deletions in flight in that tenant, and deletions
    that start later wait for the hold to commit, so a deletion never misses a hold."""
    _execute("SELECT pg_advisory_xact_lock(%s, %s)", (HOLD_NAMESPACE, tenant_id))


def deletion_lock(tenant_id: int) -> None:
    """Shared between deleting transactions of a tenant; excludes hold placement."""
    _execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", (HOLD_NAMESPACE, tenant_id))


def consent_lock(tenant_id: int, customer_number: str, purpose_id: int) -> None:
    """Recording a caller's consent decision and registering a recording that rests on that
    consent exclude each other: a withdrawal either sees the new recording (and ends its retention)
    or is seen by the upload (which is then refused). The key is a hash of the three; a collision
    only makes two unrelated callers wait for each other."""
    _execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
        (CONSENT_NAMESPACE, f"{tenant_id}|{customer_number}|{purpose_id}"),
    )


def auth_failure_window_lock(prefix: str, window: str) -> None:
    """The first failures of one key prefix in one window from several addresses take turns, so
    that exactly one of them goes on the trail. A hash collision only makes two wait."""
    _execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
        (AUTH_FAILURE_NAMESPACE, f"{prefix}|{window}"),
    )


def sign_in_failure_window_lock(account_id: int, window: str) -> None:
    """The same for the first failed sign-ins of one account in one window."""
    _execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
        (SIGNIN_FAILURE_NAMESPACE, f"{account_id}|{window}"),
    )


def alert_rules_lock() -> None:
    """Evaluating a chunk of the trail against the alert rules: two evaluations at once take
    turns chunk by chunk, each reading the rules' cursors only once it holds the lock, so that
    no event is evaluated twice and no alert raised twice."""
    _execute("SELECT pg_advisory_xact_lock(%s, %s)", (ALERT_RULES_NAMESPACE, 0))


def upload_slot_key(api_key_id: int, slot: int) -> int:
    return api_key_id * UPLOAD_SLOT_SPAN + slot


def try_session_lock(namespace: int, key: int) -> bool:
    return bool(_execute("SELECT pg_try_advisory_lock(%s, %s)", (namespace, key)))


def release_session_lock(namespace: int, key: int) -> None:
    _execute("SELECT pg_advisory_unlock(%s, %s)", (namespace, key))


def try_dnc_import_lock(list_key: str) -> bool:
    """One import of a do-not-call list at a time (`list_key` names the list: its source and
    tenant): held for the whole import, across its transactions, and released by
    `release_dnc_import_lock`, or by PostgreSQL when the importing process dies. A hash
    collision only makes two lists' imports refuse each other for a while."""
    return bool(
        _execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (DNC_IMPORT_NAMESPACE, list_key))
    )


def release_dnc_import_lock(list_key: str) -> None:
    _execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (DNC_IMPORT_NAMESPACE, list_key))
