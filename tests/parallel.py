"""Each pytest-xdist worker on a Redis database of its own.

`make test` runs the suite in two processes (devtools/localstack.py). They share the PostgreSQL
server (pytest-django gives each its own test database, `test_<name>_gw<n>`) and the Redis
server: here each takes its own Redis database, so that one process's in-process Celery worker
never takes the other's tasks and the tests that empty a Redis key space empty their own.
Called by tests/conftest.py as it is imported: after Django's settings are read (pytest-django
reads them first) but before any task is sent or any Celery connection made. The settings, the
environment (for the commands the tests start) and nothing else change.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# Every setting that names a Redis database (the last two follow the broker unless set).
MOVED = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DNC_CHECK_COUNTS_URL")
REDIS_SCHEMES = ("redis", "rediss")


class SharedRedis(RuntimeError):
    """This worker cannot have a Redis database of its own."""


def worker_number() -> int | None:
    """This process's xdist worker number (gw0 is 0), None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_url_for_worker(url: str, number: int) -> str:
    """`url` moved to the Redis database `number` places below its own: the first worker keeps
    the configured database, the others take the ones below it, never database 0 (the default
    of a development portal's counters) and never one another's. SharedRedis when the URL is
    not a Redis one or there is no such database."""
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise SharedRedis(f"a parallel test run needs Redis URLs (redis://host:port/db), not {url}")
    path = parts.path.strip("/")
    database = int(path) if path.isdigit() else 0
    moved = database - number
    if moved < 1:
        raise SharedRedis(
            f"Redis database {database} leaves no database of its own to test process {number}: "
            "use a higher one (the default is 15) or fewer processes (-n)"
        )
    return urlunsplit(parts._replace(path=f"/{moved}"))


def redis_database_of_this_worker(settings) -> None:
    number = worker_number()
    if not number:
        return
    databases = set()
    for name in MOVED:
        url = redis_url_for_worker(getattr(settings, name), number)
        setattr(settings, name, url)
        os.environ[name] = url
        databases.add(urlsplit(url).path)
    if len(databases) > 1:
        # Two databases per worker would overlap with the next worker's.
        raise SharedRedis(f"a parallel test run needs {', '.join(MOVED)} on one Redis database")
