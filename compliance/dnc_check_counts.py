"""How every do-not-call check (GET /api/v1/dnc/check) reaches the audit trail: counted, not
recorded one by one.

A dialer checks a number before each call: thousands a minute. One event per check would make
the trail (hash-chained, one writer at a time) the check's bottleneck and bury everything else
on it. So each check adds to counters in Redis, atomically (one Lua script: the total, the outcome,
each reason, the first and last check's time), per tenant, campaign and API key; a Celery beat
task (`compliance.tasks.record_dnc_checks`, every minute) turns each set of counters into one
`dnc.checked` event: how many checks, how many callable, how many refused by each reason.

No check goes unaccounted silently:
- the counters are written before the answer is sent; when Redis cannot be written, the check
  records its own `dnc.checked` event (count 1) in PostgreSQL instead, in the request;
- the task first renames a tenant's counters to a key of their own (atomically with taking them
  out of the index), then records the event, then deletes the renamed key; a key renamed but
  not yet recorded (the task killed between the two) is found again by the next run, which
  records it. A crash after the event committed and before the delete records that batch twice;
  each event carries the batch's key (`batch`), so a reader sees the duplicate.
- what Redis itself may lose: its counters since its last write to disk when it crashes (the
  docker-compose Redis runs with appendonly, fsync every second: at most about a second of
  counts). That is the bound on what a crash can lose.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import event_record

logger = logging.getLogger(__name__)

PREFIX = "custodia:dnc_checked"
INDEX = f"{PREFIX}:index"
BATCHES = f"{PREFIX}:batch:"


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def client() -> redis.Redis:
    return _client(settings.DNC_CHECK_COUNTS_URL)


# One check's counts in one command, atomic as every script (Redis runs one at a time): each
# field of ARGV but the last incremented, the last the check's time (first and last), the key
# in the index. One round trip and one reply, where a MULTI of the same commands parses one per
# command.
_COUNT_SCRIPT = """
local key = KEYS[1]
for i = 1, #ARGV - 1 do
    redis.call('HINCRBY', key, ARGV[i], 1)
end
redis.call('HSETNX', key, 'first', ARGV[#ARGV])
redis.call('HSET', key, 'last', ARGV[#ARGV])
redis.call('SADD', KEYS[2], key)
return 1
"""


@cache
def _count_script(url: str):
    return _client(url).register_script(_COUNT_SCRIPT)


def _key(tenant_id: int, campaign_id: int | None, api_key: str) -> str:
    return f"{PREFIX}:{tenant_id}:{campaign_id or 0}:{api_key}"


def _fields(outcome: str, reasons: Iterable[str]) -> list[str]:
    return ["total", f"outcome:{outcome}", *(f"reason:{reason}" for reason in reasons)]


def _event(
    tenant_id: int, campaign_id: int | None, api_key: str, counts: dict[str, int], **extra
) -> None:
    outcomes = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("outcome:")}
    reasons = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("reason:")}
    event_record(
        action="dnc.checked",
        tenant=tenant_id,
        target_type="compliance.campaign" if campaign_id else "",
        target_id=campaign_id or "",
        extra={
            "checks": counts.get("total", 0),
            "outcomes": outcomes,
            "reasons": reasons,
            "api_key": api_key,
            **extra,
        },
    )


def dnc_check_count(
    *,
    tenant_id: int,
    campaign_id: int | None,
    api_key: str,
    outcome: str,
    reasons: Iterable[str] = (),
) -> None:
    """Count one check (`outcome`: "callable", "not_callable", or "refused:<field>" for a
    request refused before any decision). When Redis cannot take it, the check is recorded on
    the trail at once, alone."""
    reasons = list(reasons)
    key = _key(tenant_id, campaign_id, api_key)
    now = timezone.now().isoformat()
    try:
        _count_script(settings.DNC_CHECK_COUNTS_URL)(
            keys=[key, INDEX], args=[*_fields(outcome, reasons), now]
        )
    except redis.RedisError:
        logger.warning("do-not-call check counters unavailable: recording the check alone")
        with transaction.atomic():
            _event(
                tenant_id,
                campaign_id,
                api_key,
                dict.fromkeys(_fields(outcome, reasons), 1),
                first=now,
                last=now,
                batch="",
            )


def _take(connection: redis.Redis, key: str) -> str | None:
    """Move `key`'s counters to a batch key of their own and out of the index, atomically; a
    check counted after this starts new counters."""
    batch = f"{BATCHES}{key[len(PREFIX) + 1 :]}:{uuid.uuid4().hex}"
    with connection.pipeline(transaction=True) as pipe:
        pipe.srem(INDEX, key)
        pipe.renamenx(key, batch)
        try:
            _, renamed = pipe.execute()
        except redis.ResponseError:  # the key was gone (another run took it)
            return None
    return batch if renamed else None


def dnc_checks_record() -> dict[str, int]:
    """Every counted set of checks becomes one `dnc.checked` event (with the batches a killed
    run left). Returns the events and checks recorded. One run at a time (a Redis lock, which
    expires with the task's time limit): two would both record a batch a killed run left."""
    connection = client()
    lock = connection.lock(f"{PREFIX}:recording", timeout=300, blocking=False)
    if not lock.acquire():
        return {"events": 0, "checks": 0}
    try:
        return _record(connection)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # expired meanwhile: the next run takes it


def _record(connection: redis.Redis) -> dict[str, int]:
    batches = [key.decode() for key in connection.scan_iter(match=f"{BATCHES}*", count=1000)]
    for key in connection.smembers(INDEX):
        batch = _take(connection, key.decode())
        if batch is not None:
            batches.append(batch)
    events = checks = 0
    for batch in batches:
        raw = connection.hgetall(batch)
        if not raw:
            continue
        values = {k.decode(): v.decode() for k, v in raw.items()}
        tenant_id, campaign_id, api_key, _ = batch[len(BATCHES) :].split(":", 3)
        counts = {k: int(v) for k, v in values.items() if k not in ("first", "last")}
        with transaction.atomic():
            _event(
                int(tenant_id),
                int(campaign_id) or None,
                api_key,
                counts,
                first=values.get("first", ""),
                last=values.get("last", ""),
                batch=batch[len(BATCHES) :],
            )
        connection.delete(batch)
        events += 1
        checks += counts.get("total", 0)
    return {"events": events, "checks": checks}
