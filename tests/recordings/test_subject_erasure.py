"""Erasure of a data subject's recordings (GDPR Art. 17): the preview says what goes and what is
kept and why, the execution deletes through the purge's service (one certificate and one event
per recording, docs/architecture.md, invariants 1 and 3), resumes after an interruption, and the
report of both sides is attached to the request."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import SubjectRequest
from compliance.services.legal_holds import legal_hold_place
from compliance.services.subject_requests import subject_request_close
from kit.refusals import Refused
from recordings.models import DeletionCertificate, Recording
from recordings.services.purge import erasure as purge_erasure
from recordings.services.purge.certificates import certificate_is_valid
from recordings.subject_requests import erasure as subject_erasure
from recordings.subject_requests.erasure import erasure_execute, erasure_preview
from recordings.subject_requests.restriction import restriction_apply

from .helpers import ingest
from .subject_request_helpers import NUMBER, received, verified

pytestmark = pytest.mark.django_db


def _codes(line: dict) -> list[str]:
    return [reason["code"] for reason in line["reasons"]]


@pytest.fixture
def subject(cast):
    """The subject's recordings, one per case, and someone else's."""
    free = ingest(cast.acme, number=NUMBER)
    held = ingest(cast.acme, number=NUMBER)
    mifid = ingest(cast.acme, number=NUMBER, purpose="investment_services")
    claimed = ingest(cast.acme, number=NUMBER)
    restricted = ingest(cast.acme, number=NUMBER, subject_reference="CUST-9")
    ingest(cast.acme, number="+33699999999")  # another caller
    ingest(cast.globex, number=NUMBER)  # the same number at another tenant
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 7", reason="Claim", recordings=[held]
    )
    # A restriction request of the subject's reference (Art. 18(1)(c): kept for a claim of theirs).
    restriction = verified(cast, "restriction", numbers=(), subject_reference="CUST-9")
    restriction_apply(actor=cast.alice, request=restriction)
    return {
        "free": free,
        "held": held,
        "mifid": mifid,
        "claimed": claimed,
        "restricted": restricted,
        "restriction": restriction,
    }


def test_preview_lists_what_is_deleted_and_what_is_kept_with_each_reason(cast, subject):
    request = verified(cast, "erasure")
    claim = {subject["claimed"].pk: "Customer's dispute ref. 2026-55 about a mis-sold policy"}
    preview = erasure_preview(request, claims=claim)
    assert [line.recording_id for line in preview.to_delete] == [subject["free"].pk]
    kept = {line.recording_id: line.as_dict() for line in preview.kept}
    assert set(kept) == {
        subject["held"].pk,
        subject["mifid"].pk,
        subject["claimed"].pk,
        subject["restricted"].pk,
    }
    held = kept[subject["held"].pk]
    assert _codes(held) == ["legal_hold"] and held["reasons"][0]["hold"] == "Case 7"
    legal = kept[subject["mifid"].pk]["reasons"][0]
    assert legal["code"] == "legal_retention"
    assert legal["policy"] == "MiFID II — Art. 16(7)"
    assert "Directive 2014/65/EU" in legal["legal_reference"]
    assert legal["until"] == subject["mifid"].retain_until.isoformat()
    assert kept[subject["claimed"].pk]["reasons"][0]["detail"] == claim[subject["claimed"].pk]
    restricted = kept[subject["restricted"].pk]["reasons"][0]
    assert (restricted["code"], restricted["request"]) == ("restricted", subject["restriction"].pk)
    # A preview deletes nothing and writes nothing on the request.
    assert Recording.objects.filter(customer_number=NUMBER, tenant=cast.acme).count() == 5
    assert SubjectRequest.objects.get(pk=request.pk).report == {}


def test_execution_deletes_with_a_certificate_each_and_attaches_the_report(cast, subject):
    request = verified(cast, "erasure")
    claim = {subject["claimed"].pk: "Customer's dispute ref. 2026-55 about a mis-sold policy"}
    report = erasure_execute(actor=cast.alice, request=request, claims=claim)

    free = subject["free"]
    assert not Recording.objects.filter(pk=free.pk).exists()
    certificate = DeletionCertificate.objects.get(recording_id=free.pk)
    assert certificate.reason == "erasure_request" and certificate_is_valid(certificate)
    erased = AuditEvent.objects.filter(action="recording.erased")
    assert [event.target_id for event in erased] == [str(free.pk)]
    assert erased.get().extra["reason"] == "erasure_request"
    kept = [subject[name].pk for name in ("held", "mifid", "claimed", "restricted")]
    assert Recording.objects.filter(pk__in=kept, status="active").count() == 4

    stored = SubjectRequest.objects.get(pk=request.pk).report
    assert stored == report
    assert report["state"] == "completed"
    assert report["deleted"] == [
        {"recording": free.pk, "call_id": free.call_id, "certificate": certificate.pk}
    ]
    lines = {line["call_id"]: line for line in report["kept"]}
    assert _codes(lines[subject["held"].call_id]) == ["legal_hold"]
    assert _codes(lines[subject["mifid"].call_id]) == ["legal_retention"]
    assert _codes(lines[subject["claimed"].call_id]) == ["pending_claim"]
    assert _codes(lines[subject["restricted"].call_id]) == ["restricted"]
    assert report["claims"] == {str(subject["claimed"].pk): claim[subject["claimed"].pk]}
    assert report["consents_kept"]["count"] == 0

    completed = AuditEvent.objects.get(action="subject_request.erasure_completed")
    assert completed.target_id == str(request.pk)
    assert completed.extra["deleted"] == [{"recording": free.pk, "certificate": certificate.pk}]
    assert {entry["recording"] for entry in completed.extra["kept"]} == set(kept)
    assert NUMBER[3:] not in str(completed.extra)


def test_a_held_recording_is_never_erased_and_a_hold_arriving_mid_way_is_named(cast, monkeypatch):
    """A hold placed after the plan was made: that recording stays, intact, with a clear reason
    in the report and the refusal on the trail; the others are erased (nothing half-done: each
    recording is erased whole or not at all)."""
    first, second = ingest(cast.acme), ingest(cast.acme)
    request = verified(cast, "erasure")
    start = subject_erasure._erasure_start

    def start_then_hold(**kwargs):
        plan = start(**kwargs)
        legal_hold_place(
            actor=cast.alice,
            tenant=cast.acme,
            reference="Inquiry 9",
            reason="x",
            recordings=[second],
        )
        return plan

    monkeypatch.setattr(subject_erasure, "_erasure_start", start_then_hold)
    report = erasure_execute(actor=cast.alice, request=request)
    assert [entry["recording"] for entry in report["deleted"]] == [first.pk]
    [kept] = report["kept"]
    assert kept["recording"] == second.pk
    assert kept["reasons"][0]["hold"] == "Inquiry 9"
    survivor = Recording.objects.get(pk=second.pk)
    assert (survivor.status, survivor.storage_name) == ("active", second.storage_name)
    assert not DeletionCertificate.objects.filter(recording_id=second.pk).exists()
    blocked = AuditEvent.objects.get(action="legal_hold.blocked_erasure")
    assert blocked.extra["holds"] == ["Inquiry 9"]


@pytest.mark.parametrize(
    ("setup", "field"),
    [
        ("unverified", "identity_method"),
        ("closed", "status"),
        ("access", "kind"),
        ("rectification", "kind"),
    ],
)
def test_nothing_is_deleted_for_an_unverified_closed_or_other_request(cast, setup, field):
    recording = ingest(cast.acme)
    if setup == "unverified":
        request = received(cast, "erasure")
    elif setup == "closed":
        request = received(cast, "erasure")
        request = subject_request_close(
            actor=cast.alice, request=request, status="refused", refusal_reason="Not the caller"
        )
    else:
        request = verified(cast, setup)
    with pytest.raises(Refused) as refusal:
        erasure_execute(actor=cast.alice, request=request)
    assert refusal.value.field == field
    with pytest.raises(Refused):
        erasure_preview(request)
    assert Recording.objects.filter(pk=recording.pk, status="active").exists()
    assert not DeletionCertificate.objects.exists()
    assert SubjectRequest.objects.get(pk=request.pk).report == {}


def test_only_a_handler_of_the_tenant_erases(cast):
    recording = ingest(cast.acme)
    request = verified(cast, "erasure")
    for person in (cast.bob, cast.dave, cast.erin, None):
        with pytest.raises(Refused) as refusal:
            erasure_execute(actor=person, request=request)
        assert refusal.value.status == 403
    assert Recording.objects.filter(pk=recording.pk).exists()


def test_a_claim_must_name_one_of_the_subjects_recordings_and_give_a_reason(cast):
    mine = ingest(cast.acme)
    other = ingest(cast.acme, number="+33699999999")
    request = verified(cast, "erasure")
    for claims in ({other.pk: "A dispute of someone else"}, {mine.pk: "  "}, {"x": "Dispute"}):
        with pytest.raises(Refused) as refusal:
            erasure_execute(actor=cast.alice, request=request, claims=claims)
        assert refusal.value.field == "claims"
    assert Recording.objects.filter(pk=mine.pk).exists()


def test_legal_retention_ends_with_the_retention(cast):
    """A legal-obligation recording whose retention has ended (a telesales call no contract
    followed) is erased: the obligation no longer keeps it."""
    ended = ingest(cast.acme, purpose="investment_services")
    Recording.objects.filter(pk=ended.pk).update(
        retain_until=timezone.localdate() - timedelta(days=1)
    )
    request = verified(cast, "erasure")
    report = erasure_execute(actor=cast.alice, request=request)
    assert [entry["recording"] for entry in report["deleted"]] == [ended.pk]


class _Killed(BaseException):
    """Stands for the process dying: not an Exception, so that nothing on the way catches it."""


@pytest.mark.django_db(transaction=True)
def test_an_erasure_killed_mid_way_resumes_without_a_second_certificate(cast, monkeypatch):
    recordings = [ingest(cast.acme) for _ in range(3)]
    request = verified(cast, "erasure")
    real_delete_rows = purge_erasure.delete_rows
    calls = []

    def dies_on_the_second(rows, **kwargs):
        calls.append(rows[0][0])
        if len(calls) == 2:
            raise _Killed("killed during the second recording's deletion")
        return real_delete_rows(rows, **kwargs)

    monkeypatch.setattr(purge_erasure, "delete_rows", dies_on_the_second)
    with pytest.raises(_Killed):
        erasure_execute(actor=cast.alice, request=request)

    # The first deletion committed, certified; the second rolled back whole; the third untouched.
    first, second, third = recordings
    assert list(DeletionCertificate.objects.values_list("recording_id", flat=True)) == [first.pk]
    assert set(Recording.objects.values_list("pk", flat=True)) == {second.pk, third.pk}
    interrupted = SubjectRequest.objects.get(pk=request.pk).report
    assert interrupted["state"] == "in_progress"
    assert {entry["recording"] for entry in interrupted["planned"]} == {r.pk for r in recordings}
    first_certificate = DeletionCertificate.objects.get(recording_id=first.pk).pk

    monkeypatch.setattr(purge_erasure, "delete_rows", real_delete_rows)
    report = erasure_execute(actor=cast.alice, request=request)

    assert not Recording.objects.exists()
    for recording in recordings:
        assert DeletionCertificate.objects.filter(recording_id=recording.pk).count() == 1
        events = AuditEvent.objects.filter(action="recording.erased", target_id=str(recording.pk))
        assert events.count() == 1
    assert report["state"] == "completed"
    assert {entry["recording"]: entry["certificate"] for entry in report["deleted"]} == {
        recording.pk: DeletionCertificate.objects.get(recording_id=recording.pk).pk
        for recording in recordings
    }
    assert report["deleted"][0]["certificate"] == first_certificate
    assert [entry["call_id"] for entry in report["deleted"]] == [r.call_id for r in recordings]
    started = AuditEvent.objects.filter(action="subject_request.erasure_started").order_by(
        "sequence"
    )
    assert [event.extra["resumed"] for event in started] == [False, True]


def test_running_it_again_after_completion_erases_what_arrived_since(cast):
    first = ingest(cast.acme)
    request = verified(cast, "erasure")
    erasure_execute(actor=cast.alice, request=request)
    later = ingest(cast.acme)
    report = erasure_execute(actor=cast.alice, request=request)
    assert [entry["recording"] for entry in report["deleted"]] == [first.pk, later.pk]
    assert DeletionCertificate.objects.count() == 2


# --- the admin's erasure page -------------------------------------------------------------------


def _page(name: str, request: SubjectRequest) -> str:
    return reverse(f"admin:compliance_subjectrequest_{name}", args=[request.pk])


def test_the_officer_previews_marks_a_claim_and_erases_from_the_requests_page(cast, login):
    free, claimed, held = ingest(cast.acme), ingest(cast.acme), ingest(cast.acme)
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 7", reason="x", recordings=[held]
    )
    request = verified(cast, "erasure")
    client = login(cast.alice)
    change = client.get(reverse("admin:compliance_subjectrequest_change", args=[request.pk]))
    assert _page("erase", request) in change.content.decode()

    page = client.get(_page("erase", request)).content.decode()
    preview = page.split('id="erasure-preview"')[1].split("</div>")[0]
    assert free.call_id in preview and claimed.call_id in preview
    assert "Under a legal hold" in preview and "legal hold Case 7" in preview
    assert f"claim_{free.pk}" in page and f"claim_{held.pk}" not in page

    # Without the confirmation, nothing happens.
    response = client.post(_page("erase", request), {f"claim_{claimed.pk}": "Dispute 55"})
    assert response.status_code == 200
    assert Recording.objects.count() == 3

    response = client.post(
        _page("erase", request),
        {"confirm": "on", f"claim_{claimed.pk}": "Dispute 55 with the insurer"},
    )
    assert response.status_code == 302
    assert set(Recording.objects.values_list("pk", flat=True)) == {claimed.pk, held.pk}
    report = client.get(response["Location"]).content.decode()
    assert "1 recording(s) erased, 2 kept" in report
    assert DeletionCertificate.objects.get(recording_id=free.pk).reason == "erasure_request"
    stored = SubjectRequest.objects.get(pk=request.pk).report
    assert stored["claims"] == {str(claimed.pk): "Dispute 55 with the insurer"}


def test_the_erasure_page_says_why_it_cannot_erase_yet(cast, login):
    ingest(cast.acme)
    request = received(cast, "erasure")
    client = login(cast.alice)
    page = client.get(_page("erase", request)).content.decode()
    assert "verify the requester&#x27;s identity first" in page
    response = client.post(_page("erase", request), {"confirm": "on"})
    assert response.status_code == 200
    assert Recording.objects.count() == 1
    for user in (cast.bob, cast.dave):  # no role to see requests: as if there were none
        assert login(user).post(_page("erase", request), {"confirm": "on"}).status_code == 404
    assert login(cast.erin).get(_page("erase", request)).status_code == 404


def _late_in_the_evening_utc():
    """23:30 UTC two days ago: already the next day in Paris (00:30 or 01:30)."""
    return (
        (timezone.now() - timedelta(days=2))
        .astimezone(UTC)
        .replace(hour=23, minute=30, second=0, microsecond=0)
    )


def test_the_erasure_page_and_report_give_each_calls_day_in_the_tenants_zone(cast, login):
    started = _late_in_the_evening_utc()
    paris_day = (started + timedelta(days=1)).date().isoformat()
    utc_day = started.date().isoformat()
    free, held = ingest(cast.acme, started_at=started), ingest(cast.acme, started_at=started)
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 7", reason="x", recordings=[held]
    )
    request = verified(cast, "erasure")
    client = login(cast.alice)
    page = client.get(_page("erase", request)).content.decode()
    preview = page.split('id="erasure-preview"')[1].split("</div>")[0]
    assert paris_day in preview and utc_day not in preview
    assert f"Call {free.call_id} of {paris_day}" in page
    response = client.post(_page("erase", request), {"confirm": "on"})
    assert response.status_code == 302
    report = client.get(response["Location"]).content.decode()
    kept = report.split("Erasure report")[1]
    assert held.call_id in kept and paris_day in kept and utc_day not in kept
