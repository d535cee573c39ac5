"""The API's limits, kept in PostgreSQL so that every web process and machine shares them.

- Failed authentications are counted per key prefix and client address in fixed windows of
  API_AUTH_FAILURE_WINDOW_SECONDS (compliance.models.ApiAuthFailureWindow). An IPv6 address counts
  as its /64, the block one client is usually given, so that walking through it is one client.
  Past API_AUTH_FAILURE_LIMIT in a window, that prefix from that address is answered 429 before
  any key check, until the window ends.
- The trail gets one `api.auth_failed` event per key prefix and window, whatever the number of
  addresses trying it, and one `api.auth_failures_counted` event with the count per address
  once the window has closed: a botnet cannot fill a tenant's trail with attempts on its key.
  The bucket of unknown keys is shared per address, so that made-up prefixes are one burst; past
  its limit, a token from that address that is not a usable key's is answered 429 before its
  check, but a usable key still gets in: garbage from one machine behind a NAT does not stop the
  other tenants' recorders behind it.
- A usable key may make API_RATE_LIMIT_PER_MINUTE calls per minute (ApiKeyRequestCount).
- A key may have API_UPLOADS_IN_FLIGHT_PER_KEY uploads in flight: each holds one of that many
  session-level advisory locks, taken without waiting and released when the request ends; a
  worker that dies loses its database session, and PostgreSQL releases its slot with it.

Why PostgreSQL rather than Redis or Django's cache: the portal always has PostgreSQL, while
`make run` has no Redis (its broker is the file system); Django's cache increments are a read and a
write (not atomic) everywhere but in Redis; and a slot must be freed when the process holding it
dies, which a database session gives for free. Every API call pays one statement for all of it
(`api_call_admit`, which also reads the key and its tenant for the key check), the uploads one
more to release their slot.

That statement commits on its own with `synchronous_commit` off for its transaction: the counter
row of a key is locked from the UPSERT to the commit, so a durable commit (a WAL flush) made the
concurrent calls of one key wait for each other's flush. The count is visible to every other call
at once all the same; what a crash of PostgreSQL may lose is its last fraction of a second of
counts, a bound of the rate limit, not a record (the trail's events are written by their own
durable transactions). Run inside a caller's transaction, the statement leaves that transaction's
commit as it was.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from audit.models import Outcome
from audit.services import event_record
from kit import locks, sql

from .models import ApiKey, Tenant
from .services.api_keys import _secret_hash

# The start of the failure window holding the database's clock at the moment the statement runs.
# Windows are taken from it rather than from the web process: the same clock in every process,
# and read when the failure is counted, so that a request that started before a window ended but
# fails after its count went on the trail counts in the next window instead of reopening it.
WINDOW_SQL = (
    "to_timestamp(floor(extract(epoch FROM clock_timestamp()) / %(seconds)s) * %(seconds)s)"
)

# The bucket of a missing, malformed or unknown key: such failures are collapsed per address
# whatever prefix they claim, so that a stream of made-up prefixes is one burst, not many.
NO_KEY = ""

_ADMIT_SQL_TEMPLATE = """
WITH failures AS (
    SELECT coalesce(sum(w.count) FILTER (WHERE w.key_prefix = %(prefix)s), 0) AS own,
           coalesce(sum(w.count) FILTER (WHERE w.key_prefix = ''), 0) AS shared
      FROM compliance_apiauthfailurewindow w
     WHERE w.client_ip = %(client_ip)s AND w.window_start = {window}
       AND w.key_prefix IN (%(prefix)s, '')
), usable AS (
    SELECT k.id
      FROM compliance_apikey k
     WHERE k.prefix = %(prefix)s AND k.secret_hash = %(secret_hash)s AND k.revoked_at IS NULL
       AND (SELECT own FROM failures) < %(failure_limit)s
), hit AS (
    INSERT INTO compliance_apikeyrequestcount AS c (api_key_id, minute, count)
    SELECT id, %(minute)s, 1 FROM usable
        ON CONFLICT (api_key_id, minute) DO UPDATE SET count = c.count + 1
    RETURNING c.api_key_id, c.count
)
SELECT (SELECT own FROM failures), (SELECT shared FROM failures), hit.api_key_id, hit.count,
       CASE WHEN hit.count <= %(rate_limit)s THEN (
           SELECT slot FROM generate_series(1, %(slots)s) slot
            WHERE pg_try_advisory_lock(%(namespace)s, (hit.api_key_id * %(slot_span)s + slot)::int)
            LIMIT 1)
       END,
       {key_columns}, {tenant_columns}
  FROM (SELECT set_config('synchronous_commit',
                          CASE WHEN %(relaxed)s THEN 'off'
                               ELSE current_setting('synchronous_commit') END,
                          true)) one
  LEFT JOIN hit ON true
  LEFT JOIN compliance_apikey k ON k.id = hit.api_key_id
  LEFT JOIN compliance_tenant t ON t.id = k.tenant_id
"""

_FAILURE_SQL = f"""
INSERT INTO compliance_apiauthfailurewindow AS w
       (key_prefix, client_ip, window_start, tenant_id, count, throttled, first_failed_at,
        last_failed_at)
VALUES (%(prefix)s, %(client_ip)s, {WINDOW_SQL}, %(tenant)s, 1, %(throttled)s, clock_timestamp(),
        clock_timestamp())
    ON CONFLICT (key_prefix, client_ip, window_start) DO UPDATE
   SET count = w.count + 1, throttled = w.throttled + excluded.throttled,
       last_failed_at = excluded.last_failed_at
RETURNING w.count, w.window_start
"""  # noqa: S608  # nosec B608 # WINDOW_SQL is a constant

_FIRST_OF_WINDOW_SQL = """
SELECT count(*) FROM compliance_apiauthfailurewindow
 WHERE key_prefix = %(prefix)s AND window_start = %(window)s
"""

# How many addresses a summary names, the busiest first (the count covers them all).
SUMMARY_ADDRESSES = 20

_CLOSED_COLUMNS = (
    "key_prefix, client_ip, window_start, tenant_id, count, throttled, first_failed_at, "
    "last_failed_at"
)


def window_start(now: datetime, seconds: int) -> datetime:
    """The start of the fixed window of `seconds` holding `now` (the same in every process)."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def seconds_left(now: datetime, start: datetime, seconds: int) -> int:
    """For Retry-After: whole seconds until the window ends, at least 1."""
    return max(1, math.ceil((start + timedelta(seconds=seconds) - now).total_seconds()))


def address_bucket(address: str) -> str:
    """The client a failure is counted against: an IPv4 address as it is, an IPv6 address as its
    /64 (an IPv4-mapped one as its IPv4 address). The trail itself keeps the exact address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@functools.cache
def _admit_sql() -> str:
    return _ADMIT_SQL_TEMPLATE.format(
        window=WINDOW_SQL,
        key_columns=sql.select_list(ApiKey, "k"),
        tenant_columns=sql.select_list(Tenant, "t"),
    )


@dataclass(frozen=True)
class Admission:
    """What the one statement run before the key check found."""

    failures: int  # failed authentications of this key prefix from this address
    shared_failures: int  # those of missing, malformed and unknown keys from this address
    api_key_id: int | None  # the usable key the token is, if it is one
    calls: int | None  # this minute's calls of that key, counting this one
    upload_slot: int | None  # the slot taken for this upload, if any
    api_key: ApiKey | None  # that key with its tenant, read in the same statement


def api_call_admit(
    *, prefix: str, token: str, client_ip: str, upload: bool, now: datetime
) -> Admission:
    """Count this call against its key's minute (when the token is a usable key's and its address
    is not throttled), and take an upload slot when it is an upload within the rate limit. The
    token's hash only picks the counter: the key check itself is api_key_authenticate's."""
    parameters = admit_parameters(
        prefix=prefix,
        token=token,
        client_ip=client_ip,
        upload=upload,
        now=now,
        # Only when the statement is its own transaction (see the module's notes).
        relaxed=connection.get_autocommit(),
    )
    with sql.prepared_cursor() as cursor:
        cursor.execute(_admit_sql(), parameters)
        row = cursor.fetchone()
    api_key = None
    if row[2] is not None:
        split = 5 + sql.column_count(ApiKey)
        api_key = sql.from_row(ApiKey, row[5:split])
        api_key.tenant = sql.from_row(Tenant, row[split:])
    return Admission(*row[:5], api_key)


def admit_parameters(
    *, prefix: str, token: str, client_ip: str, upload: bool, now: datetime, relaxed: bool
) -> dict:
    """The parameters of api_call_admit's statement; `relaxed`: commit it without waiting for
    the WAL flush (only when it is its own transaction)."""
    return {
        "client_ip": address_bucket(client_ip),
        "seconds": settings.API_AUTH_FAILURE_WINDOW_SECONDS,
        "prefix": prefix,
        "secret_hash": _secret_hash(token) if token else "",
        "failure_limit": settings.API_AUTH_FAILURE_LIMIT,
        "minute": window_start(now, 60),
        "rate_limit": settings.API_RATE_LIMIT_PER_MINUTE or 2**31 - 1,  # 0: no limit
        "slots": settings.API_UPLOADS_IN_FLIGHT_PER_KEY if upload else 0,
        "namespace": locks.UPLOAD_SLOT_NAMESPACE,
        "slot_span": locks.UPLOAD_SLOT_SPAN,
        "relaxed": relaxed,
    }


def upload_slot_release(api_key_id: int, slot: int) -> None:
    """Give the slot back. If the connection is gone, so is the session that held the slot."""
    locks.release_session_lock(locks.UPLOAD_SLOT_NAMESPACE, locks.upload_slot_key(api_key_id, slot))


def api_auth_failure_count(
    *, prefix: str, client_ip: str, tenant_id: int | None, throttled: bool
) -> tuple[int, datetime]:
    """Count one failed (or, past the limit, throttled) authentication in its window: (the count
    from that address so far, this one included; the window's start). Runs inside the caller's
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FAILURE_SQL,
            {
                "prefix": prefix,
                "client_ip": address_bucket(client_ip),
                "seconds": settings.API_AUTH_FAILURE_WINDOW_SECONDS,
                "tenant": tenant_id,
                "throttled": int(throttled),
            },
        )
        count, start = cursor.fetchone()
    return count, start


def api_auth_failure_first_of_window(*, prefix: str, window: datetime) -> bool:
    """Whether the failure just counted, the first from its address, is the first of its key
    prefix in this window from any address (the one that goes on the trail). Runs inside the
    caller's transaction, after api_auth_failure_count: the lock makes the first failures from
    several addresses take turns, and each sees the rows of those that committed before it."""
    locks.auth_failure_window_lock(prefix, window.isoformat())
    with connection.cursor() as cursor:
        cursor.execute(_FIRST_OF_WINDOW_SQL, {"prefix": prefix, "window": window})
        return cursor.fetchone()[0] == 1


@transaction.atomic
def api_auth_failures_summarise(*, prefix: str | None = None) -> tuple[int, int]:
    """Put the count of every closed window on the trail (of one key prefix, or of all), once per
    prefix and window whatever the number of addresses: the rows are deleted in the transaction
    that writes their events, so a concurrent summariser finds them gone. A window of one failure
    needs no count: its `api.auth_failed` event says it all. Returns (windows counted, failures
    in them)."""
    # Closed by the database's clock, the one that opened them.
    where = f"window_start < {WINDOW_SQL}"
    params: dict[str, object] = {"seconds": settings.API_AUTH_FAILURE_WINDOW_SECONDS}
    if prefix is not None:
        where += " AND key_prefix = %(prefix)s"
        params["prefix"] = prefix
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM compliance_apiauthfailurewindow WHERE {where} "  # noqa: S608  # nosec B608 # constant conditions
            f"RETURNING {_CLOSED_COLUMNS}",
            params,
        )
        closed = cursor.fetchall()
    by_window: dict[tuple[datetime, str], list[tuple]] = {}
    for row in closed:
        by_window.setdefault((row[2], row[0]), []).append(row)
    windows = failures = 0
    for (start, key_prefix), rows in sorted(by_window.items()):
        count = sum(row[4] for row in rows)
        if count < 2:
            continue
        windows, failures = windows + 1, failures + count
        rows.sort(key=lambda row: (-row[4], row[1]))
        tenant_id = next((row[3] for row in rows if row[3] is not None), None)
        event_record(
            action="api.auth_failures_counted",
            tenant=tenant_id,
            outcome=Outcome.DENIED,
            target_type="compliance.apikey" if key_prefix else "",
            target_label=f"API key {key_prefix}" if key_prefix else "",
            extra={
                "field": "Authorization",
                "api_key": key_prefix,
                "count": count,
                "throttled": sum(row[5] for row in rows),
                "addresses": len(rows),
                # Per address (an IPv6 client as its /64), the busiest SUMMARY_ADDRESSES.
                "client_ips": {row[1]: row[4] for row in rows[:SUMMARY_ADDRESSES]},
                "window_start": start.isoformat(),
                "window_seconds": settings.API_AUTH_FAILURE_WINDOW_SECONDS,
                "first_failed_at": min(row[6] for row in rows).isoformat(),
                "last_failed_at": max(row[7] for row in rows).isoformat(),
            },
        )
    return windows, failures


def api_request_counts_prune(*, now: datetime) -> int:
    """Forget the rate limit's past minutes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM compliance_apikeyrequestcount WHERE minute < %s",
            [window_start(now, 60) - timedelta(minutes=1)],
        )
        return cursor.rowcount
