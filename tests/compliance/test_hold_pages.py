"""What a legal hold holds, read from both ends: a recording's page says whether a hold keeps it
and links to each one; a hold's page lists, a page at a time, the recordings it holds now (those
it names and those its criteria match); and the admin's "Recent actions" never shows a released
hold as active."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.admin import legal_holds as legal_hold_admin
from compliance.models import LegalHold
from compliance.services.legal_holds import legal_hold_place, legal_hold_release

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db


def _place(cast, reference: str, **scope):
    return legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference=reference, reason="Litigation", **scope
    )


def _recording_page(client, recording) -> str:
    response = client.get(reverse("admin:recordings_recording_change", args=[recording.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str, element_id: str) -> str:
    match = re.search(rf'<fieldset class="module" id="{element_id}">(.*?)</fieldset>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(1)


def test_a_recordings_page_says_which_holds_keep_it_with_a_link_to_each(cast, login):
    held = ingest(cast.acme, campaign="renewals")
    free = ingest(cast.acme, campaign="other")
    by_campaign = _place(cast, "RG 24/01234", campaign="renewals")
    by_name = _place(cast, "AMF inquiry 7", recordings=[held])
    released = _place(cast, "Closed case", recordings=[held])
    legal_hold_release(actor=cast.alice, hold=released, release_reason="Case closed")

    for reviewer in (cast.alice, cast.dave):  # the officer and the auditor read holds
        client = login(reviewer)
        holds = _section(_recording_page(client, held), "legal-holds")
        for hold in (by_campaign, by_name):
            link = reverse("admin:compliance_legalhold_change", args=[hold.pk])
            assert f'<a href="{link}">{hold.reference}</a>' in holds
        assert "Closed case" not in holds
        assert "Not held" in _section(_recording_page(client, free), "legal-holds")


def test_roles_that_do_not_read_holds_are_not_told_of_them(cast, login):
    held = ingest(cast.acme, campaign="renewals")
    _place(cast, "RG 24/01234", campaign="renewals")
    page = _recording_page(login(cast.bob), held)
    assert 'id="legal-holds"' not in page
    assert "RG 24/01234" not in page


def test_a_hold_by_criteria_lists_the_recordings_it_holds_now_a_page_at_a_time(
    cast, login, monkeypatch
):
    monkeypatch.setattr(legal_hold_admin, "HELD_PER_PAGE", 2)
    now = timezone.now()
    matching = [
        ingest(cast.acme, campaign="renewals", started_at=now - timedelta(hours=hours))
        for hours in (1, 2, 3)
    ]
    named = ingest(cast.acme, campaign="other", started_at=now - timedelta(hours=4))
    ingest(cast.acme, campaign="other")  # neither named nor matching
    ingest(cast.globex, campaign="renewals")  # another tenant's
    hold = _place(cast, "RG 24/01234", campaign="renewals", recordings=[named])
    client = login(cast.dave)
    url = reverse("admin:compliance_legalhold_change", args=[hold.pk])

    def listed(query: str = "") -> list[str]:
        page = client.get(url + query)
        assert page.status_code == 200
        return re.findall(
            r'/admin/recordings/recording/\d+/change/">([^<]+)</a>', page.content.decode()
        )

    first, second = listed(), listed("?held_page=2")
    # Newest call first, each recording once, none of another tenant's or outside the scope.
    assert first + second == [recording.call_id for recording in [*matching, named]]
    assert "Page 1 of 2" in _section(client.get(url).content.decode(), "held-recordings")
    assert listed("?held_page=nonsense") == first  # a page that is no number: the first

    legal_hold_release(actor=cast.alice, hold=hold, release_reason="Case closed")
    section = _section(client.get(url).content.decode(), "held-recordings")
    assert "Released" in section and "/admin/recordings/recording/" not in section


def test_recent_actions_never_show_a_released_hold_as_active(cast, login):
    client = login(cast.alice)
    recording = ingest(cast.acme)
    response = client.post(
        reverse("admin:compliance_legalhold_add"),
        {
            "tenant": cast.acme.pk,
            "reference": "RG 24/01234",
            "reason": "Customer litigation",
            "recordings": [recording.pk],
            "campaign": "",
        },
    )
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    release = reverse("admin:compliance_legalhold_release", args=[hold.pk])
    assert client.post(release, {"release_reason": "Case closed"}).status_code == 302

    index = client.get(reverse("admin:index")).content.decode()
    recent = index[index.index('id="recent-actions-module"') :]
    assert "RG 24/01234" in recent
    assert "active" not in recent
    # The release itself is on the admin's log, as a change of the hold.
    history = client.get(reverse("admin:compliance_legalhold_history", args=[hold.pk]))
    assert "<td>Released.</td>" in history.content.decode()
