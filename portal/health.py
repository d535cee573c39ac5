"""GET /api/v1/health — is the portal able to reach its database and its broker?"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as error:  # any failure to reach the database is a "down"
        logger.warning("health: database unreachable: %s", error)
        return "unavailable"


def broker_status() -> str:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return "ok"
    except Exception as error:  # kombu raises many types for an unreachable broker
        logger.warning("health: broker unreachable: %s", error)
        return "unavailable"


@require_GET
def health(request):
    status = {"database": database_status(), "broker": broker_status()}
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)
