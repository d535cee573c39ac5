"""An Acme recording's URL typed by hand into Globex's officer's browser (Chromium): erin gets
what an unknown id gets — the admin's "does not exist" for its change page, a 404 for the listen
form, the player and the audio — and no Acme data on any of them; Acme's trail shows who tried.

Headless Debian Chromium driven by Playwright, on the session's browser (tests/conftest.py);
skipped with a reason where the chromium package is missing. Every URL of the portal is walked
the same way over HTTP by tests/portal/test_isolation.py.
"""

from __future__ import annotations

import pytest

from audit.models import AuditEvent

from ..browser import sign_in, visible_text
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)

CALL_ID = "acme-complaint-2026-118"


def _first_status(response) -> int:
    """The status of the URL typed, before any redirect."""
    request = response.request
    while request.redirected_from is not None:
        request = request.redirected_from
    return request.response().status


def test_erin_types_an_acme_recordings_urls_and_is_refused_with_no_acme_data(cast, page):
    recording = ingest(cast.acme, call_id=CALL_ID, campaign="Acme renewals")
    missing = recording.pk + 999
    sign_in(page, "erin")

    for path in (
        "/admin/recordings/recording/{}/change/",
        "/admin/recordings/recording/{}/history/",
        "/recordings/{}/listen/",
        "/recordings/{}/player/",
    ):
        foreign = page.goto(path.format(recording.pk))
        shown = visible_text(page)
        foreign_status = (_first_status(foreign), foreign.status)
        unknown = page.goto(path.format(missing))
        assert foreign_status == (_first_status(unknown), unknown.status), path
        assert foreign_status[0] in (302, 403, 404), (path, foreign_status)
        assert foreign_status[1] in (200, 403, 404), (path, foreign_status)
        for acme_data in (CALL_ID, "Acme", "renewals", "+33612345678", "06 12 34 56 78"):
            assert acme_data not in shown, (path, acme_data)

    tried = AuditEvent.objects.filter(action="access.cross_tenant_refused", actor_username="erin")
    assert tried.filter(tenant=cast.acme, target_id=str(recording.pk)).exists()
    assert not tried.filter(tenant=cast.globex).exists()
