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

REDIS_DATABASES = 16  # Redis's default `databases`
# Every setting that names a Redis database (the last two follow the broker unless set).
MOVED = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DNC_CHECK_COUNTS_URL")


def worker_number() -> int | None:
    """This process's xdist worker number (gw0 is 0), None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_url_for_worker(url: str, number: int) -> str:
    """`url` moved to the Redis database `number` places below its own (wrapping around), other
    URLs as they are: the first worker keeps the configured database."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url
    path = parts.path.strip("/")
    database = int(path) if path.isdigit() else 0
    moved = (database - number) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{moved}"))


def redis_database_of_this_worker(settings) -> None:
    number = worker_number()
    if not number:
        return
    for name in MOVED:
        url = redis_url_for_worker(getattr(settings, name), number)
        setattr(settings, name, url)
        os.environ[name] = url
