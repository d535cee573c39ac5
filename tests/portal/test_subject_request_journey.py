"""Issue 14's "done when", as alice (Acme's compliance officer) lives it in Chromium: she receives
each kind of data-subject request through the admin's add form, verifies the requester's
identity, fulfils and answers it on the request's pages, with the deadline in view at every step.

- access: the export is built by a real Celery worker, downloaded through the browser, opens as a
  ZIP whose subject.json validates against the shipped schema and whose audio is the original;
- erasure: the preview names what goes and what is kept and why, the execution certifies each
  deletion, the report and the answer letter name every kept recording and its reason;
- objection, restriction and rectification, one shorter journey each.

Headless Debian Chromium driven by Playwright, as tests/portal/test_browser.py; skipped with a
reason where the chromium package is missing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import wave
import zipfile
from pathlib import Path

import jsonschema
import pytest
from django.test import Client

from audit.models import AuditEvent
from compliance.models import SubjectRequest
from compliance.services.api_keys import api_key_create
from compliance.services.legal_holds import legal_hold_place
from recordings.models import DeletionCertificate, ExportStatus, Recording, SubjectExport
from recordings.subject_requests.document import SCHEMA_PATH

from ..audio import tone_wav
from ..browser import sign_in as _sign_in
from ..browser import sign_out as _sign_out
from ..recordings.helpers import ingest
from ..recordings.test_ingest_api import push
from .screenshots import WINDOW, readme_screenshot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(90),  # a journey stuck on a page fails, with the rest still run
]

# The subject as the caller gives their numbers: French national format, as people write them.
TYPED_NUMBERS = "06 12 34 56 78\n01 23 45 67 89"
NUMBER = "+33612345678"  # how the recorder sent them, and how Custodia stores them
SECOND_NUMBER = "+33123456789"
STEP_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def _bounded_waits(page):
    """Every wait of a step bounded; the window the README's screenshots are taken at."""
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.set_viewport_size(WINDOW)


# --- the steps alice takes, each through the admin's pages ---------------------------------------


def _receive(tab, kind: str, *, numbers: str = TYPED_NUMBERS, objection_purpose: str = "") -> int:
    """The request as alice received it by e-mail, typed into the admin's add form from the list;
    back on the list, the request is there with its deadline and the days left."""
    tab.goto("/admin/compliance/subjectrequest/")
    tab.get_by_role("link", name=re.compile("Add data-subject request", re.I)).click()
    tab.wait_for_url("**/admin/compliance/subjectrequest/add/")
    tab.select_option("#id_kind", kind)
    tab.fill("#id_numbers", numbers)
    if objection_purpose:
        tab.select_option("#id_objection_purpose", label=objection_purpose)
    tab.select_option("#id_channel", "email")
    tab.select_option("#id_language", "en")
    tab.fill("#id_requester_name", "Jeanne Martin")
    tab.fill("#id_requester_contact", "jeanne.martin@example.org")
    tab.click("input[name=_save]")
    tab.wait_for_url("**/admin/compliance/subjectrequest/")
    request = SubjectRequest.objects.order_by("-pk").first()
    assert request.kind == kind and request.customer_numbers[0] == NUMBER
    row = tab.locator("#result_list tr", has_text=str(request)).inner_text()
    assert request.deadline.isoformat() in row and _days_left(request) in row
    return request.pk


def _days_left(request: SubjectRequest) -> str:
    left = request.days_left()
    assert 27 <= left <= 31  # one calendar month after today's receipt
    return f"{left} day(s) left"


def _open(tab, request_id: int) -> SubjectRequest:
    """The request's page, its deadline with the days left in view (GDPR Art. 12(3))."""
    tab.goto(f"/admin/compliance/subjectrequest/{request_id}/change/")
    request = SubjectRequest.objects.get(pk=request_id)
    deadline = tab.locator(".field-deadline_in_full").inner_text()
    assert request.deadline.isoformat() in deadline and _days_left(request) in deadline, deadline
    return request


def _step_page(tab, request_id: int, link: str) -> None:
    """A step's page, opened from the request's page by its link: the deadline shown there too."""
    _open(tab, request_id)
    tab.locator("#content .object-tools").get_by_role("link", name=link, exact=True).click()
    tab.wait_for_url(lambda url: not url.endswith("/change/"))
    request = SubjectRequest.objects.get(pk=request_id)
    heading = tab.locator("#content > p").first.inner_text()
    assert f"deadline {request.deadline.isoformat()} ({_days_left(request)})" in heading, heading


def _step(tab, request_id: int, link: str, *, fill=None) -> str:
    """One step: its page, the form filled, confirmed; back on the request's page, the step's
    message."""
    _step_page(tab, request_id, link)
    if fill is not None:
        fill(tab)
    tab.get_by_role("button", name="Confirm").click()
    tab.wait_for_url(f"**/admin/compliance/subjectrequest/{request_id}/change/")
    return tab.locator(".messagelist").inner_text()


def _verify(tab, request_id: int) -> None:
    """She handles it (receiving it made her its handler: no "Handle it" for her), asks for
    proof of identity, then marks the identity verified."""
    _open(tab, request_id)
    assert tab.locator(".field-handled_by .readonly").inner_text() == "alice"
    assert tab.get_by_role("link", name="Handle it").count() == 0
    assert "proof of identity is awaited" in _step(tab, request_id, "Ask for proof of identity")

    def how(tab):
        tab.select_option("#id_method", "id_document")
        tab.fill("#id_note", "Passport seen over video call; number matches the account")

    assert "Identity verified" in _step(tab, request_id, "Identity verified", fill=how)
    request = SubjectRequest.objects.get(pk=request_id)
    assert request.identity_verified and request.handled_by.username == "alice"


def _answer(tab, request_id: int, status: str, outcome: str, reason: str = "") -> None:
    def answer(tab):
        tab.select_option("#id_status", status)
        tab.fill("#id_outcome", outcome)
        if reason:
            tab.fill("#id_refusal_reason", reason)

    assert "answered" in _step(tab, request_id, "Answer", fill=answer)
    assert SubjectRequest.objects.get(pk=request_id).status == status


def _letter(tab, request_id: int) -> str:
    tab.goto(f"/admin/compliance/subjectrequest/{request_id}/change/")
    tab.locator("#content .object-tools").get_by_role("link", name="Answer letter").click()
    tab.wait_for_url(f"**/admin/compliance/subjectrequest/{request_id}/letter/")
    return tab.locator("article.letter").inner_text()


# --- access: the export -------------------------------------------------------------------------


def _wait_until_built(request_id: int, *, seconds: float = 30) -> SubjectExport:
    deadline = time.monotonic() + seconds
    export = SubjectExport.objects.get(request_id=request_id)
    while export.status == ExportStatus.BUILDING and time.monotonic() < deadline:
        time.sleep(0.2)
        export.refresh_from_db()
    assert export.status == ExportStatus.READY, (export.status, export.failure)
    return export


def test_access_request_received_verified_exported_downloaded_and_answered(
    cast,
    celery_worker,
    page,
):
    first = ingest(cast.acme, call_id="ACME-2026-0001", seconds=0.4)
    second = ingest(cast.acme, call_id="ACME-2026-0002", number=SECOND_NUMBER, seconds=0.3)
    ingest(cast.acme, call_id="SOMEONE-ELSE", number="+33699999999")

    _sign_in(page, "alice")
    request_id = _receive(page, "access")
    request = SubjectRequest.objects.get(pk=request_id)
    assert request.customer_numbers == [NUMBER, SECOND_NUMBER]
    # On her admin index, among the open requests, with its deadline.
    page.goto("/admin/")
    row = page.locator(".open-alerts-and-incidents tr", has_text=str(request)).inner_text()
    assert request.deadline.isoformat() in row and _days_left(request) in row

    _verify(page, request_id)
    found = _open(page, request_id)
    assert found.status == "in_progress"
    holds = page.locator(".field-found").inner_text()
    assert re.search(r"Recordings \(still held\)\s+2", holds), holds

    # The export is built in the background by the worker; the page then lists it.
    message = _step(page, request_id, "Build export")
    assert "being built" in message
    export = _wait_until_built(request_id)
    page.reload()
    exports = page.locator("#subject-exports").inner_text()
    assert "Ready to download" in exports
    readme_screenshot(page, "subject-request.png", scroll_to=".field-deadline_in_full")
    with page.expect_download(timeout=STEP_TIMEOUT_MS) as download_info:
        page.locator("#subject-exports").get_by_role("link", name="Download").click()
    body = Path(download_info.value.path()).read_bytes()

    assert hashlib.sha256(body).hexdigest() == export.sha256
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    document = json.loads(archive.read("subject.json"))
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(document)]
    assert not errors, errors
    by_call = {recording.call_id: recording for recording in (first, second)}
    assert {entry["call_id"] for entry in document["recordings"]} == set(by_call)
    for entry in document["recordings"]:
        audio = archive.read(entry["audio_file"])
        assert hashlib.sha256(audio).hexdigest() == by_call[entry["call_id"]].audio_sha256
        with wave.open(io.BytesIO(audio)) as played:
            assert played.getnframes() > 0 and played.getframerate() == 8000
    assert b"SOMEONE-ELSE" not in body

    _answer(page, request_id, "completed", "Export of 2 recordings sent by secure link")
    letter = _letter(page, request_id)
    assert "Re: your request for access to your personal data" in letter
    assert "Your request was granted in full" in letter
    assert "2 recordings of your calls" in letter
    assert "Export of 2 recordings sent by secure link" in letter


# --- erasure ------------------------------------------------------------------------------------


def test_erasure_request_previewed_executed_reported_and_partially_fulfilled(cast, page):
    erased = [ingest(cast.acme, call_id=f"ACME-ERASE-{n}") for n in (1, 2)]
    held = ingest(cast.acme, call_id="ACME-HELD")
    mifid = ingest(cast.acme, call_id="ACME-MIFID", purpose="investment_services")
    legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="RG 26/00421",
        reason="Dispute over a mis-sold policy",
        recordings=[held],
    )

    _sign_in(page, "alice")
    request_id = _receive(page, "erasure")
    _verify(page, request_id)

    # The preview: what goes, what is kept and why.
    _step_page(page, request_id, "Erase")
    assert page.url.endswith(f"/admin/compliance/subjectrequest/{request_id}/erase/")
    preview = page.locator("#erasure-preview")
    to_delete = preview.locator("table").nth(0).inner_text()
    kept = preview.locator("table").nth(1).inner_text()
    assert all(recording.call_id in to_delete for recording in erased)
    assert held.call_id not in to_delete and mifid.call_id not in to_delete
    assert "Quality monitoring" in to_delete  # the purpose's name, not its code
    held_line = preview.locator("tr", has_text=held.call_id).inner_text()
    assert "Under a legal hold" in held_line and "RG 26/00421" in held_line
    mifid_line = preview.locator("tr", has_text=mifid.call_id).inner_text()
    assert "legal obligation" in mifid_line and "MiFID II" in mifid_line
    assert "legal_hold" not in kept and "legal_retention" not in kept
    readme_screenshot(page, "erasure-preview.png")

    page.check("#id_confirm")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"**/admin/compliance/subjectrequest/{request_id}/change/")
    assert "2 recording(s) erased, 2 kept" in page.locator(".messagelist").inner_text()

    # Deleted, each with its certificate; the others kept.
    assert not Recording.objects.filter(pk__in=[r.pk for r in erased]).exists()
    certificates = DeletionCertificate.objects.filter(recording_id__in=[r.pk for r in erased])
    assert sorted(c.recording_id for c in certificates) == sorted(r.pk for r in erased)
    assert all(c.reason == "erasure_request" for c in certificates)
    assert Recording.objects.filter(pk__in=[held.pk, mifid.pk], status="active").count() == 2

    # The report on the request's page names every kept recording and why.
    report = page.locator(".field-erasure_report").inner_text()
    for certificate in certificates:
        call_id = next(r.call_id for r in erased if r.pk == certificate.recording_id)
        assert re.search(rf"{call_id}\s+{certificate.pk}\s", report), report
    assert re.search(rf"{held.call_id}.*Under a legal hold.*RG 26/00421", report), report
    assert re.search(rf"{mifid.call_id}.*legal obligation.*MiFID II", report), report

    _answer(
        page,
        request_id,
        "partial",
        "2 recordings erased",
        reason="One recording is under a legal hold for a pending dispute; one is kept 5 years "
        "under MiFID II.",
    )
    letter = _letter(page, request_id)
    assert "Your request was granted in part" in letter
    assert "We granted it only in part" in letter and "legal hold for a pending dispute" in letter
    assert "We erased 2 recordings" in letter
    assert re.search(rf"{held.call_id}\s+under a legal hold.*legal hold RG 26/00421", letter)
    assert re.search(rf"{mifid.call_id}\s+kept to comply with a legal obligation.*MiFID", letter)


# --- objection, restriction, rectification -----------------------------------------------------


def test_objection_accepted_then_the_recorder_is_refused_the_number_for_that_purpose(
    cast,
    page,
):
    token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Genesys recorder")[1]
    existing = ingest(cast.acme, call_id="ACME-QUALITY-1")
    _sign_in(page, "alice")
    request_id = _receive(page, "objection", objection_purpose="Quality monitoring")
    _verify(page, request_id)

    message = _step(
        page, request_id, "Accept the objection", fill=lambda tab: tab.check("#id_confirm")
    )
    assert "Objection accepted: new recordings are refused" in message
    assert not Recording.objects.filter(pk=existing.pk).exists()  # no compelling ground

    refused = push(Client(), token, tone_wav(0.5), call_id="after-objection")
    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert body["field"] == "objection" and f"#{request_id}" in body["error"]
    other_purpose = push(Client(), token, tone_wav(0.5), call_id="training", purpose="training")
    assert other_purpose.status_code == 201  # the objection is to quality monitoring only
    assert not Recording.objects.filter(call_id="after-objection").exists()

    _answer(page, request_id, "completed", "Objection accepted; the quality recording erased")
    assert "We accepted your objection" in _letter(page, request_id)


def test_restriction_applied_then_bob_may_not_listen(cast, page):
    recording = ingest(cast.acme, call_id="ACME-RESTRICT-1")
    _sign_in(page, "alice")
    request_id = _receive(page, "restriction")
    _verify(page, request_id)
    assert "restricted" in _step(page, request_id, "Restrict")
    assert "In force since" in page.locator(".field-restriction_state").inner_text()
    _sign_out(page)

    _sign_in(page, "bob")
    page.goto(f"/admin/recordings/recording/{recording.pk}/change/")
    # The page says why instead of offering a Listen link that could only be refused...
    assert page.locator("#content .object-tools").get_by_role("link", name="Listen").count() == 0
    note = page.locator("#content .errornote").inner_text()
    assert "restricted at the caller's request (GDPR Art. 18" in note, note
    # ... and asking anyway (a bookmark) is refused, and on the trail.
    refused = page.goto(f"/recordings/{recording.pk}/listen/")
    assert refused.status == 403
    refusal = page.locator("#content").inner_text()
    assert "restricted at the caller's request (GDPR Art. 18" in refusal, refusal
    assert f"#{request_id}" in refusal
    denied = AuditEvent.objects.filter(action="recording.access_denied", actor_username="bob")
    assert denied.get().extra["reason"] == "restricted"
    _sign_out(page)

    _sign_in(page, "alice")
    _answer(page, request_id, "completed", "The recording is kept, unheard, until the claim ends")


def test_rectification_corrects_a_campaign_whose_history_shows_old_and_new(cast, page):
    recording = ingest(cast.acme, call_id="ACME-RECTIFY-1", campaign="autum-renewals")
    _sign_in(page, "alice")
    request_id = _receive(page, "rectification")
    _verify(page, request_id)

    def correct(tab):
        tab.select_option("#id_target", f"recording:{recording.pk}")
        tab.select_option("#id_field", "campaign")
        tab.fill("#id_value", "autumn-renewals")

    assert "old value is kept in the history" in _step(page, request_id, "Rectify", fill=correct)
    assert Recording.objects.get(pk=recording.pk).campaign == "autumn-renewals"

    page.goto(f"/admin/recordings/recording/{recording.pk}/change/")
    page.locator("#content .object-tools").get_by_role("link", name="History").click()
    page.wait_for_url(f"**/admin/recordings/recording/{recording.pk}/history/")
    history = page.locator("#change-history").inner_text()
    assert re.search(r"Campaign:\s*autum-renewals\s*→\s*autumn-renewals", history), history
    assert f"Rectification: data-subject request #{request_id}" in history

    _answer(page, request_id, "completed", "Campaign corrected")
