"""What compliance officers and supervisors read are names, never the codes the rows keep.

Found on screen: `legitimate_interest`, `recording.access_granted`, `quality`, `expired`,
"Policy id: 3", `recordings.recording:162`, and "Released at: Empty / Not empty". Each page below
is read as a person reads it (its visible text, without the tags and their links)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import LegalHold, Purpose, RetentionPolicy
from compliance.services.consents import consent_record
from compliance.services.legal_holds import legal_hold_place, legal_hold_release
from compliance.services.policies import purpose_save
from recordings.models import DeletionCertificate, PurgeRun
from recordings.services.purge.run import purge_expired_recordings

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

# The codes found on screen, as patterns over a page's visible text.
RAW_CODES = {
    "legal basis code": re.compile(r"legitimate_interest"),
    "action code": re.compile(r"recording\.access_granted"),
    "purpose or need code": re.compile(r"\bquality\b"),
    "reason code": re.compile(r"\bexpired\b"),
    "policy id": re.compile(r"Policy id"),
    "target code": re.compile(r"recordings\.recording:"),
    "release filter": re.compile(r"By released at|Not empty"),
}


def visible_text(page) -> str:
    """The text a person reads on the page: no scripts, styles, tags or attributes."""
    text = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page.content.decode())
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def raw_codes_in(page) -> dict[str, list[str]]:
    text = visible_text(page)
    return {name: found for name, code in RAW_CODES.items() if (found := code.findall(text))}


@pytest.fixture
def world(cast, login):
    """A recording listened to for quality, a consent, a hold released and one in force, a
    purpose changed, a purge run with its certificate, and tonight's preview."""
    recording = ingest(cast.acme, purpose="quality")
    # Its legal basis corrected: a version in its history.
    recording.legal_basis = "contract"
    recording.save()
    listened = login(cast.carol).post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "quality", "justification": "Monthly sample of the renewals team"},
    )
    assert listened.status_code == 302
    consent = consent_record(
        recorded_by="alice",
        tenant=cast.acme,
        customer_number="+33612345678",
        purpose_code="telemarketing",
        decision="withdrawn",
        decided_at=timezone.now() - timedelta(days=1),
        channel="web_form",
    )
    released = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="RG 1", reason="Dispute", campaign="Old"
    )
    legal_hold_release(actor=cast.alice, hold=released, release_reason="Settled")
    in_force = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="RG 2", reason="Inquiry", campaign="New"
    )
    surveys = Purpose(
        tenant=cast.acme,
        code="surveys",
        name="Customer surveys",
        legal_basis="consent",
        requires_consent=True,
        default_retention_months=6,
    )
    purpose_save(actor=cast.alice, purpose=surveys, created=True)
    surveys.legal_basis, surveys.requires_consent = "legitimate_interest", False
    purpose_save(actor=cast.alice, purpose=surveys, created=False)
    long_ago = timezone.now() - timedelta(days=400)
    ingest(cast.acme, purpose="quality", started_at=long_ago)
    run = purge_expired_recordings()
    ingest(cast.acme, purpose="quality", started_at=long_ago)  # tonight's preview
    certificate = DeletionCertificate.objects.get(tenant=cast.acme)
    assert certificate.policy_id is not None and certificate.reason == "expired"
    return {
        "recording": recording,
        "consent": consent,
        "holds": (released, in_force),
        "surveys": surveys,
        "run": run,
        "certificate": certificate,
        "granted": AuditEvent.objects.get(action="recording.access_granted"),
        "purpose_changed": AuditEvent.objects.get(action="purpose.changed"),
    }


def _pages(world) -> dict[str, str]:
    recording, certificate = world["recording"], world["certificate"]
    policy = RetentionPolicy.objects.get(pk=certificate.policy_id)
    return {
        "audit list": reverse("admin:audit_auditevent_changelist"),
        "audit list about the recording": reverse("admin:audit_auditevent_changelist")
        + f"?target=recordings.recording:{recording.pk}",
        "audit event (listening)": reverse(
            "admin:audit_auditevent_change", args=[world["granted"].pk]
        ),
        "audit event (purpose changed)": reverse(
            "admin:audit_auditevent_change", args=[world["purpose_changed"].pk]
        ),
        "recordings": reverse("admin:recordings_recording_changelist"),
        "recording": reverse("admin:recordings_recording_change", args=[recording.pk]),
        "recording's history": reverse("admin:recordings_recording_history", args=[recording.pk]),
        "consents": reverse("admin:compliance_consent_changelist"),
        "consent": reverse("admin:compliance_consent_change", args=[world["consent"].pk]),
        "consent receipt": reverse("consent_receipt", args=[world["consent"].pk]),
        "holds": reverse("admin:compliance_legalhold_changelist"),
        "hold": reverse("admin:compliance_legalhold_change", args=[world["holds"][0].pk]),
        "purge runs and tonight's preview": reverse("admin:recordings_purgerun_changelist"),
        "purge run": reverse("admin:recordings_purgerun_change", args=[world["run"].pk]),
        "certificates": reverse("admin:recordings_deletioncertificate_changelist"),
        "certificate": reverse(
            "admin:recordings_deletioncertificate_change", args=[certificate.pk]
        ),
        "policies": reverse("admin:compliance_retentionpolicy_changelist"),
        "policy": reverse("admin:compliance_retentionpolicy_change", args=[policy.pk]),
        "purpose's history": reverse(
            "admin:compliance_purpose_history", args=[world["surveys"].pk]
        ),
    }


def test_no_page_a_compliance_officer_reads_shows_a_raw_code(cast, login, world):
    client = login(cast.alice)
    found = {}
    for name, url in _pages(world).items():
        page = client.get(url)
        assert page.status_code == 200, name
        if codes := raw_codes_in(page):
            found[name] = codes
    assert not found


def test_no_page_a_supervisor_reads_shows_a_raw_code(cast, login, world):
    client = login(cast.bob)
    read = []
    for name, url in _pages(world).items():
        page = client.get(url)
        if page.status_code == 403:
            continue
        assert page.status_code == 200, name
        assert not raw_codes_in(page), name
        read.append(name)
    assert {"audit list", "audit event (listening)", "recordings", "recording"} <= set(read)


def test_the_trail_names_the_action_the_need_and_the_call(cast, login, world):
    recording, granted = world["recording"], world["granted"]
    client = login(cast.alice)

    page = client.get(reverse("admin:audit_auditevent_change", args=[granted.pk]))
    listing = client.get(
        reverse("admin:audit_auditevent_changelist")
        + f"?target=recordings.recording:{recording.pk}"
    )

    text = visible_text(page)
    assert "Listening granted for a stated purpose" in text
    assert "Purpose: Quality review" in text  # the need stated, by its label
    # The call by its id, linked to the recording's own page and to every event about it.
    assert f"Recording: call {recording.call_id}" in text
    assert reverse("admin:recordings_recording_change", args=[recording.pk]) in (
        page.content.decode()
    )
    assert "Recording purpose Quality monitoring" in text  # the extra data, by name
    listed = visible_text(listing)
    assert f"Recording: call {recording.call_id}" in listed  # the filter's choice, by name
    assert "Listening granted for a stated purpose" in listed


def test_a_purpose_change_reads_as_labels_on_the_trail_and_in_the_history(cast, login, world):
    client = login(cast.alice)
    event = client.get(reverse("admin:audit_auditevent_change", args=[world["purpose_changed"].pk]))
    history = client.get(reverse("admin:compliance_purpose_history", args=[world["surveys"].pk]))
    for page in (event, history):
        text = visible_text(page)
        assert "Consent (Art. 6(1)(a)) → Legitimate interest (Art. 6(1)(f))" in text


def test_the_purge_shows_purposes_and_reasons_by_name(cast, login, world):
    client = login(cast.alice)
    listing = visible_text(client.get(reverse("admin:recordings_purgerun_changelist")))
    run = visible_text(
        client.get(reverse("admin:recordings_purgerun_change", args=[world["run"].pk]))
    )
    certificate = world["certificate"]
    proof = visible_text(
        client.get(reverse("admin:recordings_deletioncertificate_change", args=[certificate.pk]))
    )
    for text in (listing, run):
        assert "Acme Insurance Quality monitoring Retention period ended 1 0 0" in text
    policy = RetentionPolicy.objects.get(pk=certificate.policy_id)
    assert f"Retention policy: {policy}" in proof
    assert "Purpose: Quality monitoring" in proof
    assert f"certificate for recording {certificate.recording_id} (Retention period ended)" in proof


def test_holds_are_filtered_as_active_or_released(cast, login, world):
    released, in_force = world["holds"]
    client = login(cast.alice)
    url = reverse("admin:compliance_legalhold_changelist")

    text = visible_text(client.get(url))
    active = client.get(url, {"status": "active"}).context["cl"].result_list
    gone = client.get(url, {"status": "released"}).context["cl"].result_list

    assert "By status All Active Released" in text
    assert [hold.pk for hold in active] == [in_force.pk]
    assert [hold.pk for hold in gone] == [released.pk]
    assert LegalHold.objects.count() == 2
    assert not PurgeRun.objects.exclude(pk=world["run"].pk).exists()
