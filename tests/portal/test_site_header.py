"""The admin's header: who is signed in, in which tenant and with which role; and no "View site"
link, which led from the admin back to the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.models import Role
from compliance.services.memberships import membership_grant

pytestmark = pytest.mark.django_db


def _header(client, url: str = "") -> str:
    response = client.get(url or reverse("admin:index"))
    assert response.status_code == 200
    page = response.content.decode()
    return page[page.index('<div id="user-tools">') : page.index("</header>")]


def test_the_header_names_the_viewers_role_and_tenant(cast, login):
    header = _header(login(cast.alice))
    assert "Compliance officer at Acme Insurance" in header
    assert "Globex" not in header
    assert "Auditor at Acme Insurance" in _header(login(cast.dave))


def test_a_person_with_roles_in_two_tenants_sees_both(cast, login):
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    header = _header(login(cast.erin))
    assert "Quality analyst at Acme Insurance; Compliance officer at Globex Telecom" in header


def test_the_platform_operator_is_named_so(cast, login):
    assert "Platform operator" in _header(login(cast.root))


def test_the_pages_outside_the_admins_own_carry_the_header_too(cast, login):
    from ..recordings.helpers import ingest

    recording = ingest(cast.acme)
    header = _header(login(cast.carol), reverse("recordings:listen", args=[recording.pk]))
    assert "Quality analyst at Acme Insurance" in header


def test_no_view_site_link_loops_back_to_the_admin(cast, login):
    client = login(cast.alice)
    for url in (reverse("admin:index"), reverse("admin:recordings_recording_changelist")):
        assert "View site" not in _header(client, url)
