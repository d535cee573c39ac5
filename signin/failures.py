"""Failed sign-ins on the audit trail, bounded the way the API's failed authentications are
(compliance.api_limits): per account (names that are no account's share one bucket) and client
address, in fixed windows of SIGNIN_FAILURE_WINDOW_SECONDS taken from the database's clock (the
same in every process, and at the moment of counting, so that a slow request cannot count into
a window already closed). The first failure of an account in a window is an `auth.login_failed`
event; the rest are counted in SignInFailureWindow, and each closed window's count goes on the
trail once, as `auth.login_failures_counted`.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from audit.models import Outcome
from audit.services import event_record
from compliance.api_limits import SUMMARY_ADDRESSES, WINDOW_SQL, address_bucket
from kit import locks

_WINDOW = WINDOW_SQL

_COUNT_SQL = f"""
INSERT INTO signin_signinfailurewindow AS w
       (account_id, client_ip, window_start, tenant_id, account_label, count, refused_locked,
        first_failed_at, last_failed_at)
VALUES (%(account)s, %(client_ip)s, {_WINDOW}, %(tenant)s, %(label)s, 1, %(refused)s,
        clock_timestamp(), clock_timestamp())
    ON CONFLICT (account_id, client_ip, window_start) DO UPDATE
   SET count = w.count + 1, refused_locked = w.refused_locked + excluded.refused_locked,
       last_failed_at = excluded.last_failed_at
RETURNING w.count, w.window_start
"""  # noqa: S608  # nosec B608 # _WINDOW is a constant

_CLOSED_COLUMNS = (
    "account_id, client_ip, window_start, tenant_id, account_label, count, refused_locked, "
    "first_failed_at, last_failed_at"
)


def sign_in_failure_count(
    *, account_id: int, label: str, tenant_id: int | None, client_ip: str, refused: bool
) -> tuple[int, datetime]:
    """Count one failed sign-in; (the count from that address in this window, this one
    included; the window's start). Runs inside the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_SQL,
            {
                "account": account_id,
                "client_ip": address_bucket(client_ip),
                "seconds": settings.SIGNIN_FAILURE_WINDOW_SECONDS,
                "tenant": tenant_id,
                "label": label,
                "refused": int(refused),
            },
        )
        count, start = cursor.fetchone()
    return count, start


def sign_in_failure_first_of_window(*, account_id: int, window: datetime) -> bool:
    """Whether the failure just counted, the first from its address, is the account's first of
    the window from any address. The lock makes such first failures take turns, each seeing the
    rows of those committed before it."""
    locks.sign_in_failure_window_lock(account_id, window.isoformat())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM signin_signinfailurewindow "
            "WHERE account_id = %s AND window_start = %s",
            [account_id, window],
        )
        return cursor.fetchone()[0] == 1


@transaction.atomic
def sign_in_failures_summarise(*, account_id: int | None = None) -> tuple[int, int]:
    """Put the count of every closed window (of one account, or of all) on the trail, once per
    account and window whatever the number of addresses: the rows are deleted in the transaction
    that writes their events, so a concurrent summariser finds them gone. A window of one failure
    needs no count: its `auth.login_failed` event says it all. Returns (windows counted, failures
    in them)."""
    where = f"window_start < {_WINDOW}"
    params: dict[str, object] = {"seconds": settings.SIGNIN_FAILURE_WINDOW_SECONDS}
    if account_id is not None:
        where += " AND account_id = %(account)s"
        params["account"] = account_id
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM signin_signinfailurewindow WHERE {where} "  # noqa: S608  # nosec B608 # constant conditions
            f"RETURNING {_CLOSED_COLUMNS}",
            params,
        )
        closed = cursor.fetchall()
    by_window: dict[tuple[datetime, int], list[tuple]] = {}
    for row in closed:
        by_window.setdefault((row[2], row[0]), []).append(row)
    windows = failures = 0
    for (start, account), rows in sorted(by_window.items()):
        count = sum(row[5] for row in rows)
        if count < 2:
            continue
        windows, failures = windows + 1, failures + count
        rows.sort(key=lambda row: (-row[5], row[1]))
        event_record(
            action="auth.login_failures_counted",
            tenant=rows[0][3],
            outcome=Outcome.DENIED,
            target_type="auth.user",
            target_id=str(account) if account else "",
            target_label=rows[0][4] if account else "(unknown account)",
            extra={
                "count": count,
                "refused_locked": sum(row[6] for row in rows),
                "addresses": len(rows),
                # Per address (an IPv6 client as its /64), the busiest SUMMARY_ADDRESSES.
                "client_ips": {row[1]: row[5] for row in rows[:SUMMARY_ADDRESSES]},
                "window_start": start.isoformat(),
                "window_seconds": settings.SIGNIN_FAILURE_WINDOW_SECONDS,
                "first_failed_at": min(row[7] for row in rows).isoformat(),
                "last_failed_at": max(row[8] for row in rows).isoformat(),
            },
        )
    return windows, failures
