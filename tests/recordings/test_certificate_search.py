"""A deleted call is found by its call id: its certificate keeps no call id, only a keyed hash
bound to the tenant, which the search recomputes (for each of the viewer's tenants, under every
key the trail knows). From the certificates' list and from the recordings' search, where the
call itself is gone. And the recordings' status filter offers only the statuses a row can have."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recordings.models import DeletionCertificate
from recordings.services.purge.erasure import recording_erase

from .helpers import ingest

pytestmark = pytest.mark.django_db

CALL_ID = "4f9c2a1e-7b3d-4e8f-9a6c-2d1b0e5f3c7a"
CERTIFICATES = reverse("admin:recordings_deletioncertificate_changelist")
RECORDINGS = reverse("admin:recordings_recording_changelist")


def _erased(tenant, call_id: str = CALL_ID, **fields) -> DeletionCertificate:
    recording = ingest(tenant, call_id=call_id, **fields)
    recording_erase(actor=None, recording=recording)
    return DeletionCertificate.objects.get(recording_id=recording.pk)


def _found(client, term: str) -> set[int]:
    response = client.get(CERTIFICATES, {"q": term})
    assert response.status_code == 200
    return {certificate.pk for certificate in response.context["cl"].result_list}


def test_the_certificates_list_finds_a_deleted_call_by_its_call_id(cast, login):
    acme = _erased(cast.acme)
    globex = _erased(cast.globex, number="+34612345678")  # the same call id, another tenant
    other = _erased(cast.acme, call_id="another-call")
    assert acme.call_id_hash != globex.call_id_hash  # bound to the tenant

    assert _found(login(cast.alice), CALL_ID) == {acme.pk}
    assert _found(login(cast.dave), f"  {CALL_ID} ") == {acme.pk}
    assert _found(login(cast.erin), CALL_ID) == {globex.pk}
    assert _found(login(cast.root), CALL_ID) == {acme.pk, globex.pk}
    # By the recording's id still; a term that is neither finds nothing.
    assert _found(login(cast.alice), str(other.recording_id)) == {other.pk}
    assert _found(login(cast.alice), "no-such-call") == set()
    assert _found(login(cast.alice), "9" * 30) == set()  # no bigint


def test_a_certificate_made_before_a_key_rotation_is_still_found(cast, login, settings):
    before = _erased(cast.acme)
    settings.AUDIT_HMAC_PREVIOUS_KEYS = [settings.AUDIT_HMAC_KEY]
    settings.AUDIT_HMAC_KEY = "rotated-audit-hmac-key-0123456789abcdef"
    after = _erased(cast.acme, call_id="after-the-rotation")
    assert before.key_id != after.key_id
    client = login(cast.alice)
    assert _found(client, CALL_ID) == {before.pk}
    assert _found(client, "after-the-rotation") == {after.pk}


def _notes(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_recordings_search_says_a_deleted_call_was_deleted_and_links_its_certificate(
    cast, login
):
    certificate = _erased(cast.acme)
    _erased(cast.globex, number="+34612345678")
    response = login(cast.alice).get(RECORDINGS, {"q": CALL_ID})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    (note,) = _notes(response)
    link = reverse("admin:recordings_deletioncertificate_change", args=[certificate.pk])
    assert f'<a href="{link}">its deletion certificate</a>' in note
    assert CALL_ID in note and "Erasure request" in note
    assert note in response.content.decode()  # on this very page
    # A role that does not read certificates is not told; nor is a search for a live call.
    assert _notes(login(cast.bob).get(RECORDINGS, {"q": CALL_ID})) == []
    live = ingest(cast.acme, call_id="live-call")
    response = login(cast.alice).get(RECORDINGS, {"q": "live-call"})
    assert [recording.pk for recording in response.context["cl"].result_list] == [live.pk]
    assert _notes(response) == []


def test_the_status_filter_offers_only_the_statuses_a_recording_can_have(cast, login):
    ingest(cast.acme)
    response = login(cast.alice).get(RECORDINGS)
    page = response.content.decode()
    offered = re.findall(r'href="\?status__exact=(\w+)"', page)
    assert offered == ["active", "purged"]  # an erased recording leaves no row, only a certificate
    active = login(cast.alice).get(RECORDINGS, {"status__exact": "active", "_facets": "True"})
    assert re.search(r"Active \(1\)", active.content.decode())
