"""Rectification (GDPR Art. 16): a recording's or a consent decision's metadata corrected, the old
and new values kept in its history with the request named and on the trail (numbers masked);
the audio, and a consent's decision, never edited."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent
from compliance.services.legal_holds import legal_hold_place
from kit.refusals import Refused
from recordings.models import Recording
from recordings.storage import read_plain_audio
from recordings.subject_requests.rectification import rectification_apply

from ..factories import consent_for
from .helpers import ingest
from .subject_request_helpers import NUMBER, received, verified

pytestmark = pytest.mark.django_db


def test_a_recordings_metadata_is_corrected_with_its_old_values_in_history(cast):
    recording = ingest(cast.acme, campaign="autum-renewals", agent_code="A17")
    audio = read_plain_audio(recording)
    request = verified(cast, "rectification")
    changed = rectification_apply(
        actor=cast.alice,
        request=request,
        target=recording,
        changes={
            "campaign": "autumn-renewals",
            "customer_number": "06 12 34 56 79",
            "agent_code": "A17",  # unchanged: not a change
        },
    )
    assert changed == {
        "campaign": ("autum-renewals", "autumn-renewals"),
        "customer_number": (NUMBER, "+33612345679"),
    }
    corrected = Recording.objects.get(pk=recording.pk)
    assert (corrected.campaign, corrected.customer_number) == ("autumn-renewals", "+33612345679")
    # The audio, its hash and its storage are what they were.
    assert (corrected.audio_sha256, corrected.storage_name) == (
        recording.audio_sha256,
        recording.storage_name,
    )
    assert read_plain_audio(corrected) == audio

    latest, before = corrected.history.order_by("-history_id")[:2]
    assert latest.history_change_reason == f"Rectification: data-subject request #{request.pk}"
    assert latest.history_user_id == cast.alice.pk
    assert (latest.campaign, latest.customer_number) == ("autumn-renewals", "+33612345679")
    assert (before.campaign, before.customer_number) == ("autum-renewals", NUMBER)

    event = AuditEvent.objects.get(action="subject_request.rectified")
    assert event.target_id == str(recording.pk)
    assert event.extra["request"] == request.pk
    assert event.extra["changes"] == {
        "campaign": {"old": "autum-renewals", "new": "autumn-renewals"},
        "customer_number": {"old": "+336•••••78", "new": "+336•••••79"},
    }
    assert "612345678" not in str(event.extra) and "612345679" not in str(event.extra)


@pytest.mark.parametrize(
    "field",
    ["audio_sha256", "storage_name", "call_id", "started_at", "purpose", "retain_until", "size"],
)
def test_the_audio_and_what_is_not_the_subjects_data_are_never_corrected(cast, field):
    recording = ingest(cast.acme)
    request = verified(cast, "rectification")
    with pytest.raises(Refused) as refusal:
        rectification_apply(
            actor=cast.alice, request=request, target=recording, changes={field: "x"}
        )
    assert refusal.value.field == field
    assert recording.history.count() == 1  # the ingestion's row only
    assert not AuditEvent.objects.filter(action="subject_request.rectified").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer_number": "not a number"}, "customer_number"),
        ({"direction": "sideways"}, "direction"),
        ({"campaign": "x" * 129}, "campaign"),
        ({"subject_reference": "a\x00b"}, "subject_reference"),
        ({"campaign": ""}, "changes"),  # the current value: nothing to correct
        ({}, "changes"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_change_nothing(cast, changes, field):
    recording = ingest(cast.acme)
    request = verified(cast, "rectification")
    with pytest.raises(Refused) as refusal:
        rectification_apply(actor=cast.alice, request=request, target=recording, changes=changes)
    assert refusal.value.field == field
    assert recording.history.count() == 1


def test_a_held_recording_keeps_what_its_hold_reads(cast):
    recording = ingest(cast.acme, campaign="renewals")
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 4", reason="x", campaign="renewals"
    )
    request = verified(cast, "rectification")
    for field, value in (("customer_number", "+33612345679"), ("campaign", "other")):
        with pytest.raises(Refused, match="Case 4") as refusal:
            rectification_apply(
                actor=cast.alice, request=request, target=recording, changes={field: value}
            )
        assert (refusal.value.field, refusal.value.status) == (field, 409)
    # What no hold reads may still be corrected.
    rectification_apply(
        actor=cast.alice, request=request, target=recording, changes={"subject_reference": "C-1"}
    )
    assert Recording.objects.get(pk=recording.pk).subject_reference == "C-1"


def test_the_trail_keeps_the_subjects_reference_masked_like_a_number(cast):
    """The subject reference names the data subject as their number does (receipt puts only
    whether there is one on the trail): a correction of it is on the append-only trail masked,
    its values in the row's history only."""
    recording = ingest(cast.acme, subject_reference="CUST-0012345")
    consent = consent_for(tenant=cast.acme, subject_reference="CUST-0012345")
    request = verified(cast, "rectification")
    for target in (recording, consent):
        rectification_apply(
            actor=cast.alice,
            request=request,
            target=target,
            changes={"subject_reference": "CUST-0098765"},
        )
    events = AuditEvent.objects.filter(action="subject_request.rectified")
    assert events.count() == 2
    for event in events:
        assert event.extra["changes"]["subject_reference"] == {
            "old": "CUST•••••45",
            "new": "CUST•••••65",
        }
        assert "0012345" not in str(event.extra) and "0098765" not in str(event.extra)
    assert (
        Recording.objects.get(pk=recording.pk)
        .history.filter(subject_reference="CUST-0012345")
        .exists()
    )


def test_a_consents_evidence_is_corrected_never_its_decision(cast):
    consent = consent_for(tenant=cast.acme, operator="OP-1", call_id="ivr-1")
    request = verified(cast, "rectification")
    rectification_apply(
        actor=cast.alice,
        request=request,
        target=consent,
        changes={"operator": "OP-7", "subject_reference": "CUST-9"},
    )
    corrected = Consent.objects.get(pk=consent.pk)
    assert (corrected.operator, corrected.subject_reference) == ("OP-7", "CUST-9")
    assert corrected.decision == consent.decision
    latest, created = corrected.history.order_by("-history_id")[:2]
    assert latest.history_change_reason == f"Rectification: data-subject request #{request.pk}"
    assert (created.operator, latest.operator) == ("OP-1", "OP-7")
    event = AuditEvent.objects.get(action="subject_request.rectified")
    assert (event.target_type, event.target_id) == ("compliance.consent", str(consent.pk))
    assert event.extra["changes"]["operator"] == {"old": "OP-1", "new": "OP-7"}
    for field in ("decision", "decided_at", "customer_number", "purpose", "channel"):
        with pytest.raises(Refused) as refusal:
            rectification_apply(
                actor=cast.alice, request=request, target=consent, changes={field: "withdrawn"}
            )
        assert refusal.value.field == field
    assert Consent.objects.get(pk=consent.pk).decision == "granted"


def test_only_the_subjects_data_of_a_verified_rectification_request(cast):
    mine = ingest(cast.acme)
    someone_else = ingest(cast.acme, number="+33699999999")
    request = verified(cast, "rectification")
    with pytest.raises(Refused) as refusal:
        rectification_apply(
            actor=cast.alice, request=request, target=someone_else, changes={"campaign": "x"}
        )
    assert refusal.value.field == "target"
    unverified = received(cast, "rectification")
    with pytest.raises(Refused) as refusal:
        rectification_apply(
            actor=cast.alice, request=unverified, target=mine, changes={"campaign": "x"}
        )
    assert refusal.value.field == "identity_method"
    erasure = verified(cast, "erasure")
    with pytest.raises(Refused) as refusal:
        rectification_apply(
            actor=cast.alice, request=erasure, target=mine, changes={"campaign": "x"}
        )
    assert refusal.value.field == "kind"
    with pytest.raises(Refused) as refusal:
        rectification_apply(
            actor=cast.carol, request=request, target=mine, changes={"campaign": "x"}
        )
    assert refusal.value.status == 403
    assert Recording.objects.get(pk=mine.pk).campaign == ""


# --- the admin's page ---------------------------------------------------------------------------


def test_the_officer_rectifies_from_the_requests_page(cast, login):
    recording = ingest(cast.acme, campaign="autum")
    consent = consent_for(tenant=cast.acme, operator="OP-1")
    request = verified(cast, "rectification")
    client = login(cast.alice)
    url = reverse("admin:compliance_subjectrequest_rectify", args=[request.pk])
    change = reverse("admin:compliance_subjectrequest_change", args=[request.pk])
    assert url in client.get(change).content.decode()
    page = client.get(url).content.decode()
    assert f"recording:{recording.pk}" in page and f"consent:{consent.pk}" in page
    response = client.post(
        url, {"target": f"recording:{recording.pk}", "field": "campaign", "value": "autumn"}
    )
    assert response.status_code == 302
    assert Recording.objects.get(pk=recording.pk).campaign == "autumn"
    # A field a consent decision does not have corrected is a form error naming it.
    response = client.post(
        url, {"target": f"consent:{consent.pk}", "field": "campaign", "value": "x"}
    )
    assert response.status_code == 200
    assert "campaign of a consent is not corrected" in response.content.decode()
    assert Consent.objects.get(pk=consent.pk).history.count() == 1


def test_the_recordings_history_page_shows_old_and_new_values_each_display_audited(cast, login):
    recording = ingest(cast.acme, campaign="autum")
    request = verified(cast, "rectification")
    rectification_apply(
        actor=cast.alice,
        request=request,
        target=recording,
        changes={"campaign": "autumn", "customer_number": "06 12 34 56 79"},
    )
    history = reverse("admin:recordings_recording_history", args=[recording.pk])
    client = login(cast.alice)
    assert (
        history
        in client.get(
            reverse("admin:recordings_recording_change", args=[recording.pk])
        ).content.decode()
    )
    viewed = AuditEvent.objects.filter(action="recording.viewed", target_id=str(recording.pk))
    before = viewed.count()

    page = client.get(history)
    assert page.status_code == 200
    text = page.content.decode()
    arrow = r"\s*&nbsp;&rarr;&nbsp;&nbsp;"  # old → new
    assert re.search(rf"Campaign:</strong>\s*autum{arrow}autumn\s", text), text
    assert re.search(rf"Customer number:</strong>\s*\+33612345678{arrow}\+33612345679", text)
    assert f"Rectification: data-subject request #{request.pk}" in text
    assert (
        viewed.count() == before + 1
        and viewed.order_by("sequence").last().extra["page"] == "history"
    )
    version = recording.history.order_by("history_id").first().history_id
    one = client.get(
        reverse("admin:recordings_recording_simple_history", args=[recording.pk, version])
    )
    assert one.status_code == 200 and "+33612345678" in one.content.decode()
    assert (
        viewed.count() == before + 2
        and viewed.order_by("sequence").last().extra["page"] == "history version"
    )
    # Read only, for everyone; another tenant's officer finds nothing, and nothing is recorded.
    assert client.post(history).status_code == 405
    assert viewed.count() == before + 2
    assert login(cast.erin).get(history).status_code == 404
    assert viewed.count() == before + 2
    assert AuditEvent.objects.filter(
        action="access.cross_tenant_refused", target_id=str(recording.pk)
    ).exists()


def test_the_rectification_page_gives_each_calls_day_in_the_tenants_zone(cast, login):
    started = (
        (timezone.now() - timedelta(days=2))
        .astimezone(UTC)
        .replace(hour=23, minute=30, second=0, microsecond=0)
    )  # already the next day in Paris
    recording = ingest(cast.acme, started_at=started)
    request = verified(cast, "rectification")
    page = login(cast.alice).get(
        reverse("admin:compliance_subjectrequest_rectify", args=[request.pk])
    )
    paris_day = (started + timedelta(days=1)).date().isoformat()
    assert f"Recording of call {recording.call_id} ({paris_day})" in page.content.decode()
