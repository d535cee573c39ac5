"""Objection (GDPR Art. 21) to a purpose of legitimate interest: from its acceptance the number
is not recorded for that purpose any more (a 409 at the API, like a refused consent), and the
existing recordings are erased unless a compelling ground is recorded."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import SubjectRequest
from compliance.services.api_keys import api_key_create
from kit.refusals import Refused
from recordings.models import DeletionCertificate, Recording
from recordings.services import ingest as ingest_service
from recordings.subject_requests.erasure import erasure_execute
from recordings.subject_requests.objection import objection_accept
from recordings.subject_requests.restriction import restriction_apply

from ..audio import tone_wav
from .helpers import ingest
from .subject_request_helpers import NUMBER, received, verified
from .test_ingest_api import push

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")[1]


def _objection(cast, purpose="quality", **fields):
    return verified(cast, "objection", objection_purpose=purpose, **fields)


def test_from_its_acceptance_the_api_refuses_the_number_for_that_purpose(
    cast, token, recordings_dir
):
    request = _objection(cast, numbers=("06 12 34 56 78", "+33 1 23 45 67 89"))
    before = push(Client(), token, tone_wav(1), call_id="before-acceptance")
    assert before.status_code == 201  # not yet accepted: recorded as before
    objection_accept(actor=cast.alice, request=request, compelling_ground="")
    assert not Recording.objects.exists()  # the one recorded before: erased
    files = set(recordings_dir.rglob("*.cstd"))

    # Any of the request's numbers, in any format the recorder sends.
    for number in ("06 12 34 56 78", "+33123456789"):
        response = push(
            Client(), token, tone_wav(1), call_id=f"after-{number[-2:]}", customer_number=number
        )
        assert response.status_code == 409, response.content
        body = response.json()
        assert body["field"] == "objection"
        assert "objected" in body["error"] and "Art. 21" in body["error"]
        assert f"#{request.pk}" in body["error"]
    assert not Recording.objects.exists()
    assert set(recordings_dir.rglob("*.cstd")) == files  # no file left behind by a refusal
    refused = AuditEvent.objects.filter(action="recording.ingest_refused").order_by("sequence")
    assert [event.extra["status"] for event in refused] == [409, 409]
    assert refused.first().extra["field"] == "objection"

    # Another purpose, another caller: recorded.
    assert (
        push(Client(), token, tone_wav(1), call_id="training", purpose="training").status_code
        == 201
    )
    other = push(Client(), token, tone_wav(1), call_id="other", customer_number="+33699999999")
    assert other.status_code == 201


def test_another_tenants_objection_does_not_count(cast, token):
    request = verified(cast, "objection", objection_purpose="quality", tenant=cast.globex)
    objection_accept(actor=cast.erin, request=request)
    assert push(Client(), token, tone_wav(1), call_id="acme-call").status_code == 201


def test_the_objection_is_checked_within_the_uploads_one_lookup(cast):
    """Ingestion's speed is a benchmarked figure: the objection adds no statement of its own,
    and the part it adds can use the GIN index on the requests' numbers."""
    accepted = objection_accept(actor=cast.alice, request=_objection(cast))
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(Refused):
            ingest(cast.acme, number="+33612345678")
    reading = [query["sql"] for query in queries if "compliance_subjectrequest" in query["sql"]]
    assert len(reading) == 1
    assert "compliance_purpose" in reading[0] and "recordings_deletioncertificate" in reading[0]
    # Thousands of callers objected to the purpose: the statement still reads one index entry
    # (the GIN index on the numbers), not every objection to the purpose.
    SubjectRequest.objects.bulk_create(
        SubjectRequest(
            tenant=cast.acme,
            kind="objection",
            objection_purpose=accepted.objection_purpose,
            objection_accepted_at=accepted.objection_accepted_at,
            customer_numbers=[f"+3361{index:07d}"],
            channel="email",
            received_at=accepted.received_at,
            due_on=accepted.due_on,
        )
        for index in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE compliance_subjectrequest")
        cursor.execute(
            "EXPLAIN " + ingest_service._lookup_sql(),
            {
                "code": "quality",
                "tenant": cast.acme.pk,
                "number": NUMBER,
                "objection": "objection",
                "refused": "refused",
                "call_id_hashes": ["x"],
                "erasure_reasons": ["erasure_request"],
            },
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "subjectrequest_numbers" in plan


def test_existing_recordings_of_the_purpose_are_erased(cast):
    quality = [ingest(cast.acme), ingest(cast.acme)]
    training = ingest(cast.acme, purpose="training")
    request = _objection(cast)
    accepted = objection_accept(actor=cast.alice, request=request)
    assert accepted.objection_accepted_at is not None
    assert set(Recording.objects.values_list("pk", flat=True)) == {training.pk}
    for recording in quality:
        certificate = DeletionCertificate.objects.get(recording_id=recording.pk)
        assert certificate.reason == "erasure_request"
    assert accepted.report["state"] == "completed"
    assert [entry["recording"] for entry in accepted.report["deleted"]] == [
        recording.pk for recording in quality
    ]
    assert accepted.report["kept"] == []
    event = AuditEvent.objects.get(action="subject_request.objection_accepted")
    assert (event.extra["purpose"], event.extra["compelling_ground"]) == ("quality", False)


def test_with_a_compelling_ground_they_are_kept_and_the_report_says_so(cast, token):
    kept = ingest(cast.acme)
    ground = "The calls are evidence in the customer's pending fraud case against the agent"
    accepted = objection_accept(
        actor=cast.alice, request=_objection(cast), compelling_ground=ground
    )
    assert Recording.objects.filter(pk=kept.pk, status="active").exists()
    assert not DeletionCertificate.objects.exists()
    [line] = accepted.report["kept"]
    assert line["call_id"] == kept.call_id
    assert [(r["code"], r["detail"]) for r in line["reasons"]] == [("compelling_ground", ground)]
    assert accepted.report["deleted"] == []
    event = AuditEvent.objects.get(action="subject_request.objection_accepted")
    assert event.extra["compelling_ground"] is True and ground not in str(event.extra)
    # New recordings are refused all the same: the ground is about the existing ones.
    assert push(Client(), token, tone_wav(1), call_id="new").status_code == 409


def test_a_restriction_pending_the_decision_ends_with_it(cast):
    """Art. 18(1)(d): the objection restricts while it is decided; its own restriction does not
    stand in the way of its erasure, and ends with the acceptance."""
    recording = ingest(cast.acme)
    request = _objection(cast)
    restriction_apply(actor=cast.alice, request=request)
    accepted = objection_accept(actor=cast.alice, request=request)
    assert not accepted.restriction_in_force
    assert DeletionCertificate.objects.filter(recording_id=recording.pk).exists()
    lifted = AuditEvent.objects.get(action="subject_request.restriction_lifted")
    assert "Art. 18(1)(d)" in lifted.justification


def test_an_interrupted_objection_erasure_resumes_through_erasure_execute(cast, monkeypatch):
    recordings = [ingest(cast.acme), ingest(cast.acme)]
    request = _objection(cast)
    from recordings.subject_requests import objection as objection_module

    def interrupted(**kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(objection_module, "erasure_execute", interrupted)
    with pytest.raises(RuntimeError):
        objection_accept(actor=cast.alice, request=request)
    accepted = SubjectRequest.objects.get(pk=request.pk)
    assert accepted.objection_accepted_at is not None  # the acceptance stands
    report = erasure_execute(actor=cast.alice, request=accepted)
    assert [entry["recording"] for entry in report["deleted"]] == [r.pk for r in recordings]


@pytest.mark.parametrize(
    ("setup", "field"),
    [
        ("unverified", "identity_method"),
        ("erasure", "kind"),
        ("accepted", "objection_accepted_at"),
    ],
)
def test_refused_before_verification_for_another_kind_or_twice(cast, setup, field):
    ingest(cast.acme)
    if setup == "unverified":
        request = received(cast, "objection", objection_purpose="quality")
    elif setup == "erasure":
        request = verified(cast, "erasure")
    else:
        request = objection_accept(actor=cast.alice, request=_objection(cast))
    with pytest.raises(Refused) as refusal:
        objection_accept(actor=cast.alice, request=request)
    assert refusal.value.field == field


def test_erasure_of_an_objection_waits_for_its_acceptance(cast):
    recording = ingest(cast.acme)
    with pytest.raises(Refused) as refusal:
        erasure_execute(actor=cast.alice, request=_objection(cast))
    assert refusal.value.field == "objection_accepted_at"
    assert Recording.objects.filter(pk=recording.pk).exists()


# --- the admin's page ---------------------------------------------------------------------------


def test_the_officer_accepts_an_objection_from_the_requests_page(cast, login):
    recording = ingest(cast.acme)
    request = _objection(cast)
    client = login(cast.alice)
    url = reverse("admin:compliance_subjectrequest_object", args=[request.pk])
    change = reverse("admin:compliance_subjectrequest_change", args=[request.pk])
    assert url in client.get(change).content.decode()
    page = client.get(url).content.decode()
    assert recording.call_id in page.split('id="erasure-preview"')[1]
    ground = "Evidence in the caller's own pending complaint against the agent"
    response = client.post(url, {"confirm": "on", "compelling_ground": ground})
    assert response.status_code == 302
    accepted = SubjectRequest.objects.get(pk=request.pk)
    assert accepted.objection_accepted_at is not None and accepted.compelling_ground == ground
    assert Recording.objects.filter(pk=recording.pk).exists()
    page = client.get(change).content.decode()
    assert "Compelling legitimate grounds" in page and url not in page
