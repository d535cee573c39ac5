"""Restriction of processing (GDPR Art. 18): restricted recordings stay stored, the purge keeps
them like held ones until the restriction is lifted, and only a compliance officer stating a
legal claim hears them; every refusal on the trail (docs/architecture.md, invariants 1 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import SubjectRequest
from compliance.services.legal_holds import legal_hold_place
from compliance.services.subject_requests import subject_request_close
from kit.refusals import Refused
from recordings.models import DeletionCertificate, Recording
from recordings.services.access import AccessRefused, access_grant_request
from recordings.services.purge.erasure import RecordingRestricted, recording_erase
from recordings.services.purge.preview import purge_preview
from recordings.services.purge.run import purge_expired_recordings
from recordings.subject_requests.restriction import restriction_apply, restriction_lift

from .helpers import ingest
from .subject_request_helpers import NUMBER, received, verified

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=400)  # CNIL: 6 months -> expired
LEGAL_CLAIM = "Court order 2026/118: the caller's dispute with the insurer"


def _url(name: str, recording: Recording) -> str:
    return reverse(f"recordings:{name}", args=[recording.pk])


def _restricted(cast, **fields):
    request = verified(cast, "restriction", **fields)
    return restriction_apply(actor=cast.alice, request=request)


def test_applying_restricts_the_subjects_active_recordings_and_is_audited(cast):
    mine = [ingest(cast.acme), ingest(cast.acme)]
    other = ingest(cast.acme, number="+33699999999")
    request = _restricted(cast)
    assert request.restriction_in_force
    assert set(request.restricted_recordings.values_list("pk", flat=True)) == {
        recording.pk for recording in mine
    }
    assert set(Recording.objects.restricted().values_list("pk", flat=True)) == {
        recording.pk for recording in mine
    }
    assert not other.active_restrictions().exists()
    event = AuditEvent.objects.get(action="subject_request.restricted")
    assert sorted(event.extra["recordings"]) == sorted(recording.pk for recording in mine)
    with pytest.raises(Refused) as again:
        restriction_apply(actor=cast.alice, request=request)
    assert again.value.status == 409


@pytest.mark.parametrize(
    ("setup", "field"),
    [("unverified", "identity_method"), ("closed", "status"), ("erasure", "kind")],
)
def test_nothing_is_restricted_for_an_unverified_closed_or_other_request(cast, setup, field):
    ingest(cast.acme)
    if setup == "unverified":
        request = received(cast, "restriction")
    elif setup == "closed":
        request = subject_request_close(
            actor=cast.alice,
            request=received(cast, "restriction"),
            status="refused",
            refusal_reason="Not the caller",
        )
    else:
        request = verified(cast, setup)
    with pytest.raises(Refused) as refusal:
        restriction_apply(actor=cast.alice, request=request)
    assert refusal.value.field == field
    assert not Recording.objects.restricted().exists()
    with pytest.raises(Refused):
        restriction_apply(actor=cast.bob, request=verified(cast, "restriction"))


def test_the_purge_keeps_a_restricted_recording_until_it_is_lifted(cast, recordings_dir):
    restricted = ingest(cast.acme, started_at=LONG_AGO)
    free = ingest(cast.acme, started_at=LONG_AGO, number="+33699999999")
    request = _restricted(cast)

    [row] = purge_preview(for_next_run=False)
    assert (row["to_delete"], row["held_back"], row["restricted"]) == (1, 0, 1)
    run = purge_expired_recordings()
    assert (run.purged, run.expired_found) == (1, 2)
    assert run.preview[0]["restricted"] == 1
    assert Recording.objects.filter(pk=restricted.pk, status="active").exists()
    assert not Recording.objects.filter(pk=free.pk).exists()

    restriction_lift(
        actor=cast.alice, request=request, reason="Accuracy checked; the caller was told"
    )
    lifted = AuditEvent.objects.get(action="subject_request.restriction_lifted")
    assert lifted.justification == "Accuracy checked; the caller was told"
    assert lifted.extra["recordings"] == [restricted.pk]
    [row] = purge_preview(for_next_run=False)
    assert (row["to_delete"], row["restricted"]) == (1, 0)
    assert purge_expired_recordings().purged == 1
    assert DeletionCertificate.objects.get(recording_id=restricted.pk).reason == "expired"


def test_a_recording_held_and_restricted_is_kept_back_once_as_held(cast):
    both = ingest(cast.acme, started_at=LONG_AGO)
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 3", reason="x", recordings=[both]
    )
    _restricted(cast)
    [row] = purge_preview(for_next_run=False)
    assert (row["to_delete"], row["held_back"], row["restricted"]) == (0, 1, 0)
    assert purge_expired_recordings().purged == 0


def test_lifting_needs_a_reason_and_a_restriction_in_force(cast):
    ingest(cast.acme)
    request = _restricted(cast)
    with pytest.raises(Refused) as refusal:
        restriction_lift(actor=cast.alice, request=request, reason=" ")
    assert refusal.value.field == "reason"
    with pytest.raises(Refused):
        restriction_lift(actor=cast.carol, request=request, reason="Checked")
    # A restriction outlives the answer to the request: it is lifted after the request closed.
    closed = subject_request_close(actor=cast.alice, request=request, status="completed")
    restriction_lift(actor=cast.alice, request=closed, reason="The claim was settled")
    with pytest.raises(Refused) as again:
        restriction_lift(actor=cast.alice, request=closed, reason="Again")
    assert again.value.field == "restricted_at"


def test_another_requests_restriction_stands_in_the_way_of_an_erasure(cast):
    recording = ingest(cast.acme)
    restriction = _restricted(cast)
    with pytest.raises(RecordingRestricted, match=f"request #{restriction.pk}"):
        recording_erase(actor=cast.alice, recording=recording)
    blocked = AuditEvent.objects.get(action="restriction.blocked_erasure")
    assert blocked.outcome == "denied" and blocked.extra["requests"] == [restriction.pk]
    assert Recording.objects.filter(pk=recording.pk, status="active").exists()
    # The restriction's own request may (an objection restricted pending its decision).
    recording_erase(actor=cast.alice, recording=recording, serving=restriction)
    assert DeletionCertificate.objects.filter(recording_id=recording.pk).exists()


# --- listening ----------------------------------------------------------------------------------


def _denied(action: str, recording: Recording):
    return AuditEvent.objects.filter(action=action, target_id=str(recording.pk)).order_by(
        "sequence"
    )


@pytest.mark.parametrize(
    ("person", "need"),
    [
        ("carol", "quality"),
        ("bob", "complaint"),
        ("alice", "complaint"),
        ("alice", "subject_access"),
        ("root", "legal"),  # a platform operator is not the tenant's compliance officer
    ],
)
def test_a_restricted_recording_is_heard_for_no_other_need_nor_by_anyone_else(cast, person, need):
    recording = ingest(cast.acme)
    _restricted(cast)
    with pytest.raises(AccessRefused) as refusal:
        access_grant_request(
            user=getattr(cast, person), recording=recording, purpose=need, justification=LEGAL_CLAIM
        )
    assert refusal.value.reason == "restricted"
    assert "Art. 18" in refusal.value.message
    event = _denied("recording.access_denied", recording).get()
    assert event.extra["reason"] == "restricted" and event.outcome == "denied"


def test_the_compliance_officer_hears_it_for_a_legal_claim(cast, login):
    recording = ingest(cast.acme)
    _restricted(cast)
    client = login(cast.alice)
    form = client.get(_url("listen", recording))
    assert form.status_code == 200
    assert b'value="legal"' in form.content and b'value="complaint"' not in form.content
    granted = client.post(
        _url("listen", recording),
        {"purpose": "legal", "justification": LEGAL_CLAIM, "download": "on"},
    )
    assert granted.status_code == 302
    assert client.get(_url("stream", recording)).status_code == 200
    assert client.get(_url("download", recording)).status_code == 200
    assert _denied("recording.played", recording).count() == 1
    assert _denied("recording.downloaded", recording).count() == 1


def test_a_grant_stated_before_the_restriction_no_longer_plays(cast, login):
    recording = ingest(cast.acme)
    client = login(cast.carol)
    client.post(_url("listen", recording), {"purpose": "quality", "justification": LEGAL_CLAIM})
    assert client.get(_url("stream", recording)).status_code == 200
    _restricted(cast)
    assert client.get(_url("stream", recording)).status_code == 403
    assert client.get(_url("player", recording)).status_code == 302  # back to the purpose form
    denied = _denied("recording.play_denied", recording).last()
    assert denied.extra["reason"] == "restricted"
    listen = client.get(_url("listen", recording))
    assert listen.status_code == 403 and b"Art. 18" in listen.content


def test_after_lifting_it_is_heard_as_before(cast):
    recording = ingest(cast.acme, number=NUMBER)
    request = _restricted(cast)
    restriction_lift(actor=cast.alice, request=request, reason="Accuracy checked; caller told")
    grant = access_grant_request(
        user=cast.carol, recording=recording, purpose="quality", justification=LEGAL_CLAIM
    )
    assert grant.purpose == "quality"


# --- the admin's pages ------------------------------------------------------------------------


def _page(name: str, request) -> str:
    return reverse(f"admin:compliance_subjectrequest_{name}", args=[request.pk])


def test_the_officer_restricts_and_lifts_from_the_requests_page(cast, login):
    recording = ingest(cast.acme)
    request = verified(cast, "restriction")
    client = login(cast.alice)
    change = reverse("admin:compliance_subjectrequest_change", args=[request.pk])
    assert _page("restrict", request) in client.get(change).content.decode()
    assert client.post(_page("restrict", request), {"confirm": "yes"}).status_code == 302
    assert recording.active_restrictions().get() == request
    page = client.get(change).content.decode()
    assert "In force since" in page and _page("lift", request) in page
    assert _page("restrict", request) not in page
    response = client.post(_page("lift", request), {"reason": ""})
    assert response.status_code == 200  # the reason is required
    assert recording.active_restrictions().exists()
    response = client.post(_page("lift", request), {"reason": "Accuracy checked; caller told"})
    assert response.status_code == 302
    assert not recording.active_restrictions().exists()
    assert "Lifted on" in client.get(change).content.decode()


def test_the_restrictions_dates_are_the_tenants(cast, login):
    ingest(cast.acme)
    request = _restricted(cast)
    # Applied at 23:30 UTC on 30 November: 1 December, 00:30, in Paris.
    SubjectRequest.objects.filter(pk=request.pk).update(
        restricted_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    )
    change = reverse("admin:compliance_subjectrequest_change", args=[request.pk])
    page = login(cast.alice).get(change).content.decode()
    assert "In force since 2026-12-01" in page
    with pytest.raises(Refused) as again:
        restriction_apply(actor=cast.alice, request=request)
    assert "since 2026-12-01 00:30:00 CET" in again.value.message


def test_the_recordings_page_says_it_is_restricted_instead_of_offering_listen(cast, login):
    recording = ingest(cast.acme)
    page = reverse("admin:recordings_recording_change", args=[recording.pk])
    listen = _url("listen", recording)
    assert listen in login(cast.bob).get(page).content.decode()
    request = _restricted(cast)
    for_bob = login(cast.bob).get(page).content.decode()
    assert listen not in for_bob
    assert f"GDPR Art. 18, request #{request.pk}" in for_bob
    # The compliance officer, who may hear it for a legal claim, keeps the link.
    for_alice = login(cast.alice).get(page).content.decode()
    assert listen in for_alice and f"GDPR Art. 18, request #{request.pk}" not in for_alice
