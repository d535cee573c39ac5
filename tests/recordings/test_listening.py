"""Purpose-bound listening: state why, get a time-limited grant, play through the stream; every
grant, play, download and refusal on the audit trail (docs/architecture.md, invariant 4)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent, Outcome
from compliance.access_rules import AccessNeed, allowed_access_purposes
from compliance.models import LegalBasis, Purpose
from kit.refusals import Refused
from recordings.models import AccessGrant, Recording
from recordings.services.access import AccessRefused, access_grant_request
from recordings.services.ingest import recording_ingest

from ..audio import tone_wav

pytestmark = pytest.mark.django_db

JUSTIFICATION = "Monthly quality sample, week 48"


def _ingest(tenant, *, call_id="call-001", purpose="quality", number="06 12 34 56 78", seconds=1.0):
    audio = tone_wav(seconds)
    result = recording_ingest(
        tenant=tenant,
        api_key=None,
        audio=audio,
        fields={
            "call_id": call_id,
            "direction": "inbound",
            "started_at": (timezone.now() - timedelta(hours=2)).isoformat(),
            "customer_number": number,
            "purpose": purpose,
            "agent_code": "A17",
        },
    )
    return result.recording, audio


@pytest.fixture
def recording(cast):
    return _ingest(cast.acme)


def _url(name: str, recording: Recording) -> str:
    return reverse(f"recordings:{name}", args=[recording.pk])


def _request_grant(
    client, recording, *, purpose="quality", justification=JUSTIFICATION, workstation="", **data
):
    data = {"purpose": purpose, "justification": justification, **data}
    headers = {"X-Workstation-Id": workstation} if workstation else {}
    return client.post(_url("listen", recording), data, headers=headers)


def _events(action: str, recording: Recording):
    return AuditEvent.objects.filter(action=action).about("recordings.recording", recording.pk)


# --- stating a purpose ------------------------------------------------------------------------


def test_quality_analyst_must_state_a_purpose_before_hearing_anything(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    player = client.get(_url("player", recording))
    assert player.status_code == 302
    assert player["Location"] == _url("listen", recording)
    assert client.get(_url("stream", recording)).status_code == 403
    assert not _events("recording.played", recording).exists()


def test_quality_analyst_form_offers_only_quality_and_training(cast, login, recording):
    recording, _ = recording
    page = login(cast.carol).get(_url("listen", recording))
    assert page.status_code == 200
    offered = [value for value, _ in page.context["form"].fields["purpose"].widget.choices]
    assert offered == [AccessNeed.QUALITY, AccessNeed.TRAINING]
    assert b"Complaint investigation" not in page.content
    assert b"admin/css/base.css" in page.content  # one product: the admin's look
    assert b'name="download"' not in page.content  # carol may not download


def test_quality_analyst_stating_complaint_is_refused_and_audited(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    response = _request_grant(client, recording, purpose="complaint", workstation="WS-07")
    assert response.status_code == 403
    assert b"is not a purpose you may state" in response.content
    assert not AccessGrant.objects.exists()
    denied = _events("recording.access_denied", recording).get()
    assert (denied.outcome, denied.actor_username, denied.purpose) == (
        Outcome.DENIED,
        "carol",
        "complaint",
    )
    assert denied.extra["reason"] == "purpose"
    assert (denied.tenant_id, denied.workstation_id) == (cast.acme.pk, "WS-07")


def test_a_short_justification_is_a_form_error_to_correct_not_a_denial(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    response = _request_grant(client, recording, justification="  ok  ")
    assert response.status_code == 200
    assert "at least 10 characters" in response.context["form"].errors["justification"][0]
    assert response.context["form"]["purpose"].value() == "quality"  # kept for the retry
    assert not AccessGrant.objects.exists()
    assert not AuditEvent.objects.filter(outcome=Outcome.DENIED).exists()
    # Corrected, it is granted.
    assert _request_grant(client, recording).status_code == 302


def test_no_purpose_chosen_is_a_form_error_to_correct_not_a_denial(cast, login, recording):
    recording, _ = recording
    response = _request_grant(login(cast.carol), recording, purpose="", justification="ok")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["purpose"] == ["Choose why you need to hear this call."]
    assert not AccessGrant.objects.exists()
    assert not AuditEvent.objects.filter(outcome=Outcome.DENIED).exists()
    with pytest.raises(Refused) as refused:
        access_grant_request(
            user=cast.carol, recording=recording, purpose="", justification=JUSTIFICATION
        )
    assert refused.value.field == "purpose"
    assert not AuditEvent.objects.filter(outcome=Outcome.DENIED).exists()


def test_a_purpose_the_role_may_not_state_is_denied_whatever_the_justification(
    cast, login, recording
):
    recording, _ = recording
    response = _request_grant(login(cast.carol), recording, purpose="complaint", justification="")
    assert response.status_code == 403
    denied = _events("recording.access_denied", recording).get()
    assert (denied.purpose, denied.extra["reason"]) == ("complaint", "purpose")


def test_refusal_survives_the_callers_transaction(cast, recording):
    """The denied event is written in a transaction of its own, after the grant's rolled back."""
    recording, _ = recording
    with pytest.raises(AccessRefused):
        access_grant_request(
            user=cast.carol, recording=recording, purpose="legal", justification=JUSTIFICATION
        )
    assert _events("recording.access_denied", recording).count() == 1
    assert not AccessGrant.objects.exists()


def test_granted_purpose_opens_the_player_with_expiry(cast, login, recording, settings):
    recording, _ = recording
    client = login(cast.carol)
    response = _request_grant(client, recording, purpose="training")
    assert response.status_code == 302
    assert response["Location"] == _url("player", recording)
    grant = AccessGrant.objects.get()
    assert (grant.user, grant.purpose, grant.allows_download) == (cast.carol, "training", False)
    assert grant.expires_at - grant.granted_at == timedelta(
        minutes=settings.LISTENING_GRANT_MINUTES
    )
    player = client.get(_url("player", recording))
    assert player.status_code == 200
    assert f'<audio controls preload="none" src="{_url("stream", recording)}"'.encode() in (
        player.content
    )
    assert timezone.localtime(grant.expires_at).isoformat()[:16].encode() in player.content
    granted = _events("recording.access_granted", recording).get()
    assert (granted.purpose, granted.justification) == ("training", JUSTIFICATION)
    assert granted.extra["expires_at"] == grant.expires_at.isoformat()


# --- the stream ---------------------------------------------------------------------------------


def test_stream_without_a_grant_is_403_and_audited(cast, login, recording):
    recording, _ = recording
    response = login(cast.carol).get(_url("stream", recording), HTTP_X_WORKSTATION_ID="WS-07")
    assert response.status_code == 403
    denied = _events("recording.play_denied", recording).get()
    assert (denied.outcome, denied.actor_username, denied.workstation_id) == (
        Outcome.DENIED,
        "carol",
        "WS-07",
    )
    assert denied.extra["reason"] == "no_grant"


def test_granted_stream_returns_the_exact_decrypted_audio(cast, login, recording):
    recording, audio = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    response = client.get(_url("stream", recording))
    assert response.status_code == 200
    assert response.content == audio
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Length"] == str(len(audio))
    assert response["Accept-Ranges"] == "bytes"
    assert "no-store" in response["Cache-Control"]


def test_range_requests_return_the_right_slices(cast, login, recording):
    recording, audio = recording
    size = len(audio)
    client = login(cast.carol)
    _request_grant(client, recording)
    for header, start, end in [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-50", size - 50, size - 1),
        ("bytes=200-999999999", 200, size - 1),
    ]:
        response = client.get(_url("stream", recording), HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert response.content == audio[start : end + 1], header
        assert response["Content-Range"] == f"bytes {start}-{end}/{size}", header
        assert response["Content-Length"] == str(end - start + 1), header
        assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_unsatisfiable_range_is_416(cast, login, recording, header):
    recording, audio = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    response = client.get(_url("stream", recording), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(audio)}"
    assert not _events("recording.played", recording).exists()


def test_multiple_ranges_are_answered_with_the_whole_audio(cast, login, recording):
    recording, audio = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    response = client.get(_url("stream", recording), HTTP_RANGE="bytes=0-9,20-29")
    assert response.status_code == 200
    assert response.content == audio


def test_one_play_event_per_grant_not_per_range_request(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    client.get(_url("stream", recording), HTTP_RANGE="bytes=0-")  # the player starts
    client.get(_url("stream", recording), HTTP_RANGE="bytes=4000-")  # then seeks
    client.get(_url("stream", recording), HTTP_RANGE="bytes=8000-8999")
    client.get(_url("stream", recording))  # played again from the start, same grant
    first_grant = AccessGrant.objects.get()
    assert list(_events("recording.played", recording).values_list("extra", flat=True)) == [
        {"grant": first_grant.pk, "user": "carol"}
    ]
    # A new statement of purpose is a new listening session: its first request is traced too.
    _request_grant(client, recording, justification="Second listen: complaint ref. 2024-118")
    client.get(_url("stream", recording), HTTP_RANGE="bytes=0-")
    client.get(_url("stream", recording), HTTP_RANGE="bytes=100-")
    played = _events("recording.played", recording).order_by("sequence")
    second_grant = AccessGrant.objects.exclude(pk=first_grant.pk).get()
    assert [event.extra["grant"] for event in played] == [first_grant.pk, second_grant.pk]
    assert played.last().justification == "Second listen: complaint ref. 2024-118"


@pytest.mark.parametrize("first_range", ["bytes=4000-", "bytes=-50", "bytes=100-199"])
def test_a_play_that_does_not_start_at_byte_zero_is_traced(cast, login, recording, first_range):
    """A player resuming a position, or seeking before it asks for the start, still plays: the
    first request under the grant records the play, whatever its range."""
    recording, audio = recording
    client = login(cast.carol)
    _request_grant(client, recording, workstation="WS-07")
    response = client.get(
        _url("stream", recording), HTTP_RANGE=first_range, HTTP_X_WORKSTATION_ID="WS-07"
    )
    assert response.status_code == 206
    played = _events("recording.played", recording).get()
    grant = AccessGrant.objects.get()
    assert (played.actor_username, played.workstation_id, played.purpose) == (
        "carol",
        "WS-07",
        "quality",
    )
    assert played.extra["grant"] == grant.pk
    client.get(_url("stream", recording), HTTP_RANGE="bytes=0-")  # the start comes later
    assert _events("recording.played", recording).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"justification": "Complaint ref.\x00 2024-118"},
        {"purpose": "quality\x00"},
    ],
)
def test_a_nul_character_in_the_purpose_form_is_a_form_error(cast, login, recording, data):
    recording, _ = recording
    response = _request_grant(login(cast.carol), recording, **data)
    assert response.status_code == 200
    [field] = data
    assert response.context["form"].errors[field] == ["Null characters are not allowed."]
    assert not AccessGrant.objects.exists()
    assert not _events("recording.access_granted", recording).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_of_a_player_leave_one_play_event(cast):
    """Players open several range requests at once: each streams, one records the play."""
    recording, audio = _ingest(cast.acme)
    carol = Client()
    carol.force_login(cast.carol)
    assert _request_grant(carol, recording).status_code == 302
    ranges = ["bytes=0-", "bytes=4000-", "bytes=-50", "bytes=100-199", "bytes=8000-", "bytes=1-"]
    barrier = threading.Barrier(len(ranges))
    statuses: list = [None] * len(ranges)

    def stream(index: int) -> None:
        player = Client()
        player.cookies.update(carol.cookies)  # the same signed-in session
        try:
            barrier.wait(timeout=30)
            response = player.get(_url("stream", recording), HTTP_RANGE=ranges[index])
            statuses[index] = response.status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=stream, args=(index,)) for index in range(len(ranges))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [206] * len(ranges)
    played = _events("recording.played", recording).get()
    assert played.extra["grant"] == AccessGrant.objects.get().pk


def test_expired_grant_no_longer_plays(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    assert client.get(_url("stream", recording)).status_code == 200
    AccessGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(_url("stream", recording)).status_code == 403
    assert _events("recording.play_denied", recording).get().extra["reason"] == "no_grant"
    assert client.get(_url("player", recording))["Location"] == _url("listen", recording)


def test_zero_minute_grants_expire_at_once(cast, login, recording, settings):
    settings.LISTENING_GRANT_MINUTES = 0
    recording, _ = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    assert AccessGrant.objects.count() == 1
    assert client.get(_url("stream", recording)).status_code == 403


def test_deleted_audio_cannot_be_granted_or_played(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    Recording.objects.filter(pk=recording.pk).update(status="purged")
    assert client.get(_url("stream", recording)).status_code == 403
    assert _request_grant(client, recording).status_code == 403
    assert _events("recording.play_denied", recording).get().extra["reason"] == "inactive"


# --- who may listen -----------------------------------------------------------------------------


def test_auditor_never_listens(cast, login, recording):
    recording, _ = recording
    client = login(cast.dave)
    form = client.get(_url("listen", recording))
    assert form.status_code == 403
    assert "form" not in form.context
    assert _request_grant(client, recording).status_code == 403
    assert client.get(_url("stream", recording)).status_code == 403
    assert not AccessGrant.objects.exists()
    refusals = _events("recording.access_denied", recording)
    assert refusals.count() == 2
    assert {event.extra["reason"] for event in refusals} == {"permission"}
    assert _events("recording.play_denied", recording).count() == 1


def test_other_tenant_gets_404_without_learning_the_recording_exists(cast, login, recording):
    recording, _ = recording
    client = login(cast.erin)
    for name in ("listen", "player", "stream", "download"):
        assert client.get(_url(name, recording)).status_code == 404, name
    assert _request_grant(client, recording).status_code == 404
    missing = reverse("recordings:stream", args=[recording.pk + 1000])
    assert client.get(missing).status_code == 404
    assert not AccessGrant.objects.exists()
    # Each probe of Acme's recording is on Acme's trail, naming Erin and the view; the id that
    # exists nowhere is on the platform's, naming no tenant.
    probes = AuditEvent.objects.filter(action="access.cross_tenant_refused")
    assert probes.count() == 5
    assert {(event.tenant_id, event.actor_id, event.target_id) for event in probes} == {
        (cast.acme.pk, cast.erin.pk, str(recording.pk))
    }
    assert {event.extra["view"] for event in probes} == {
        "listening",
        "player",
        "playback",
        "download",
    }
    missing_probe = AuditEvent.objects.get(action="recording.access_denied")
    assert (missing_probe.tenant_id, missing_probe.extra["reason"]) == (None, "not_found")


def test_signed_out_visitor_is_sent_to_the_admin_sign_in(client, cast, recording):
    recording, _ = recording
    response = client.get(_url("stream", recording))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_supervisor_may_state_a_complaint(cast, login, recording):
    recording, _ = recording
    client = login(cast.bob)
    offered = client.get(_url("listen", recording)).context["form"].fields["purpose"].widget
    assert [value for value, _ in offered.choices] == ["quality", "training", "complaint"]
    assert _request_grant(client, recording, purpose="complaint").status_code == 302


def test_purposes_depend_on_the_recordings_purpose(cast):
    """Legal-obligation recordings (MiFID II, insurance telesales) are heard only for complaints,
    the authorities and the data subject; a tenant's own purpose, whatever its code, likewise."""

    def offered(user, purpose: Purpose) -> list[str]:
        recording = Recording(tenant=cast.acme, purpose=purpose)
        return [need.value for need in allowed_access_purposes(user=user, recording=recording)]

    platform = {p.code: p for p in Purpose.objects.filter(tenant__isnull=True)}
    own_quality = Purpose.objects.create(
        tenant=cast.acme,
        code="quality",
        name="Acme quality (consent)",
        legal_basis=LegalBasis.CONSENT,
        requires_consent=True,
        default_retention_months=3,
    )
    assert offered(cast.carol, platform["investment_services"]) == []
    assert offered(cast.carol, platform["insurance_telesales"]) == []
    assert offered(cast.bob, platform["investment_services"]) == ["complaint"]
    assert offered(cast.alice, platform["investment_services"]) == [
        "complaint",
        "legal",
        "subject_access",
    ]
    assert offered(cast.carol, platform["telemarketing"]) == ["quality"]
    assert offered(cast.bob, platform["supervision"]) == [
        "quality",
        "training",
        "supervision",
        "complaint",
    ]
    assert offered(cast.carol, own_quality) == []
    assert offered(cast.bob, own_quality) == ["complaint"]
    assert offered(cast.dave, platform["quality"]) == []
    assert offered(cast.erin, platform["quality"]) == []  # no role in Acme
    assert offered(cast.root, platform["quality"]) == ["complaint", "legal", "subject_access"]


def test_quality_analyst_cannot_hear_a_mifid_recording(cast, login):
    recording, _ = _ingest(cast.acme, call_id="order-7", purpose="investment_services")
    page = login(cast.carol).get(_url("listen", recording))
    assert page.status_code == 403
    assert _events("recording.access_denied", recording).get().extra["reason"] == "purpose"


# --- download -------------------------------------------------------------------------------------


def test_download_needs_the_permission_and_a_download_grant(cast, login, recording):
    recording, audio = recording
    alice = login(cast.alice)
    assert b'name="download"' in alice.get(_url("listen", recording)).content
    # A grant without download lets alice listen, not download.
    _request_grant(alice, recording, purpose="subject_access")
    assert alice.get(_url("download", recording)).status_code == 403
    _request_grant(alice, recording, purpose="subject_access", download="on")
    assert AccessGrant.objects.filter(user=cast.alice, allows_download=True).count() == 1
    player = alice.get(_url("player", recording))
    assert _url("download", recording).encode() in player.content
    response = alice.get(_url("download", recording), HTTP_X_WORKSTATION_ID="DPO-1")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == audio  # sent piece by piece
    assert response["Content-Length"] == str(len(audio))
    assert response["Content-Disposition"] == 'attachment; filename="call-001.wav"'
    assert "no-store" in response["Cache-Control"]
    downloaded = _events("recording.downloaded", recording).get()
    assert (downloaded.actor_username, downloaded.purpose, downloaded.workstation_id) == (
        "alice",
        "subject_access",
        "DPO-1",
    )


def test_supervisor_cannot_download(cast, login, recording):
    recording, _ = recording
    bob = login(cast.bob)
    assert b'name="download"' not in bob.get(_url("listen", recording)).content
    refused = _request_grant(bob, recording, purpose="complaint", download="on")
    assert refused.status_code == 403
    assert _events("recording.access_denied", recording).get().extra["reason"] == "download"
    _request_grant(bob, recording, purpose="complaint")
    assert bob.get(_url("stream", recording)).status_code == 200
    assert bob.get(_url("download", recording)).status_code == 403
    denied = _events("recording.play_denied", recording).get()
    assert (denied.extra["reason"], denied.extra["download"]) == ("permission", True)
    assert not _events("recording.downloaded", recording).exists()


# --- the trail ------------------------------------------------------------------------------------


def test_trail_shows_the_grant_and_its_play_with_workstation_and_purpose(cast, login, recording):
    recording, _ = recording
    client = login(cast.carol)
    _request_grant(client, recording, workstation="WS-07")
    client.get(_url("stream", recording), HTTP_X_WORKSTATION_ID="WS-07")
    # Replayed under the same grant: the same listening session, already on the trail.
    client.get(_url("stream", recording), HTTP_RANGE="bytes=0-", HTTP_X_WORKSTATION_ID="WS-07")
    events = _events("recording.access_granted", recording) | _events("recording.played", recording)
    rows = [
        (e.action, e.actor_username, e.purpose, e.justification, e.workstation_id, e.tenant_id)
        for e in events.order_by("sequence")
    ]
    expected = ("carol", "quality", JUSTIFICATION, "WS-07", cast.acme.pk)
    assert rows == [
        ("recording.access_granted", *expected),
        ("recording.played", *expected),
    ]
    grant = AccessGrant.objects.get()
    assert {e.extra["grant"] for e in events} == {grant.pk}


def test_supervisor_finds_who_listened_why_and_from_where_in_two_clicks(cast, login, recording):
    recording, _ = recording
    carol = login(cast.carol)
    _request_grant(carol, recording, workstation="WS-07")
    carol.get(_url("stream", recording), HTTP_X_WORKSTATION_ID="WS-07")

    bob = login(cast.bob)
    page = bob.get(reverse("admin:recordings_recording_change", args=[recording.pk]))
    link = f"/admin/audit/auditevent/?target=recordings.recording:{recording.pk}"
    assert f'<a href="{link}">Who accessed this</a>'.encode() in page.content  # click 1
    trail = bob.get(link)  # click 2
    assert trail.status_code == 200
    plays = [e for e in trail.context["cl"].result_list if e.action == "recording.played"]
    assert [(e.actor_username, e.purpose, e.justification, e.workstation_id) for e in plays] == [
        ("carol", "quality", JUSTIFICATION, "WS-07")
    ]
    for shown in (b"carol", b"WS-07", JUSTIFICATION.encode(), b"recording.played"):
        assert shown in trail.content


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=0-" + "9" * 5000, 206),  # to the end: the whole audio
        ("bytes=" + "9" * 5000 + "-", 416),  # starts past the end
        ("bytes=" + "9" * 5000 + "-" + "9" * 5001, 416),
        ("bytes=-" + "9" * 5000, 206),  # the last 10^5000 bytes: the whole audio
        ("bytes=" + "0" * 5000 + "1-" + "0" * 4999 + "9", 206),  # bytes 1-9, zero-padded
    ],
)
def test_a_range_with_thousands_of_digits_is_answered_not_a_500(
    cast, login, recording, header, status
):
    recording, audio = recording
    client = login(cast.carol)
    _request_grant(client, recording)
    response = client.get(_url("stream", recording), HTTP_RANGE=header)
    assert response.status_code == status
    if status == 206 and header.startswith("bytes=0000"):
        assert response.content == audio[1:10]
    elif status == 206:
        assert response.content == audio
