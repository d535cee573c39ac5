"""The console log (LOGGING in portal/settings.py): an expected refusal is one line, a server
error keeps its traceback."""

from __future__ import annotations

import io
import logging
from contextlib import contextmanager

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@contextmanager
def _console():
    """What the configured console handler writes, while the block runs."""
    (handler,) = [handler for handler in logging.getLogger().handlers if handler.name == "console"]
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        yield written
    finally:
        handler.setStream(previous)


def test_an_expected_403_is_one_log_line_not_a_traceback(cast, login):
    client = login(cast.carol)  # a quality analyst does not see purge runs
    with _console() as written:
        response = client.get(reverse("admin:recordings_purgerun_changelist"))
    assert response.status_code == 403
    lines = written.getvalue().splitlines()
    refused = [line for line in lines if "django.request" in line]
    assert len(refused) == 1, lines
    assert (
        "WARNING django.request Forbidden (Permission denied): /admin/recordings/purgerun/"
        in (refused[0])
    )
    assert "Traceback" not in written.getvalue()


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("the disk is full")
    except RuntimeError as error:
        with _console() as written:
            logging.getLogger("django.request").error(
                "Internal Server Error: /x", exc_info=error, extra={"status_code": 500}
            )
    assert "Traceback" in written.getvalue() and "the disk is full" in written.getvalue()
