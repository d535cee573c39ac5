"""The export answering an access or portability request (issue 14): a ZIP with README.txt in the
requester's language, subject.json valid against the shipped schema, and the original audio;
refused before the identity is verified; downloaded only by the request's handler, each download
audited; deleted after SUBJECT_EXPORT_DAYS; a build that dies mid-way leaves no ready export and
no stray file, and runs again; memory stays flat whatever the export's size."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import wave
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.context import acting_for
from audit.models import AuditEvent
from compliance.models import Membership, Role, SubjectRequest
from compliance.services.memberships import membership_grant
from compliance.services.subject_requests import (
    subject_request_close,
    subject_request_receive,
    subject_request_verify_identity,
)
from kit.refusals import Refused
from recordings import crypto
from recordings.models import ExportStatus, Recording, SubjectExport
from recordings.services.access import access_grant_request
from recordings.services.ingest import recording_ingest
from recordings.services.purge.verification import orphan_files_sweep
from recordings.subject_requests import export as export_module
from recordings.subject_requests.document import SCHEMA_PATH
from recordings.subject_requests.export import (
    subject_export_build,
    subject_export_start,
    subject_exports_expire,
)
from recordings.subject_requests.readme import FIELDS, LABELLED, LANGUAGES, readme_text
from recordings.tasks import build_subject_export, expire_subject_exports

from ..audio import tone_wav
from ..factories import UserFactory, consent_for
from .helpers import ingest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(SCHEMA_PATH.read_text())
NUMBER = "+33612345678"

pytestmark = pytest.mark.django_db


# --- helpers -------------------------------------------------------------------------------------


def _request(cast, *, kind="access", language="en", verified=True, actor=None):
    request = subject_request_receive(
        actor=actor or cast.alice,
        tenant=cast.acme,
        kind=kind,
        customer_numbers=["06 12 34 56 78"],
        channel="email",
        language=language,
    )
    if verified:
        request = subject_request_verify_identity(
            actor=actor or cast.alice, request=request, method="call_back"
        )
    return request


def _built(cast, request=None, actor=None) -> SubjectExport:
    request = request or _request(cast)
    export = subject_export_start(actor=actor or cast.alice, request=request)
    assert export.status == ExportStatus.BUILDING
    return subject_export_build(export_id=export.pk)


def _download(client, export):
    response = client.get(reverse("recordings:subject_export_download", args=[export.pk]))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def _validate(document: dict) -> None:
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)


def _export_files(recordings_dir: Path) -> set[str]:
    folder = recordings_dir / "exports"
    return {str(p.relative_to(recordings_dir)) for p in folder.rglob("*") if p.is_file()}


def _events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- what the ZIP holds --------------------------------------------------------------------------


def test_the_zip_holds_a_readme_a_valid_subject_json_and_the_original_audio(
    cast, login, recordings_dir
):
    first = ingest(cast.acme, call_id="CALL:1@acd", seconds=0.4)
    second = ingest(cast.acme, call_id="CALL-2", direction="outbound", seconds=0.3)
    ingest(cast.acme, call_id="SOMEONE-ELSE", number="+33699999999")
    ingest(cast.globex, call_id="OTHER-TENANT", number="+34612345678")
    consent_for(tenant=cast.acme)  # the subject's telemarketing consent, by IVR
    consent_for(tenant=cast.acme, decision="withdrawn", ago=timedelta(minutes=1))
    with acting_for(cast.bob):  # as the request's middleware names him in the portal
        access_grant_request(
            user=cast.bob, recording=first, purpose="complaint", justification="Ticket 4411"
        )
    request = _request(cast)

    export = _built(cast, request)

    assert export.status == ExportStatus.READY
    assert (export.recordings_count, export.audio_files) == (2, 2)
    assert export.expires_at - export.ready_at == timedelta(days=settings.SUBJECT_EXPORT_DAYS)
    response, body = _download(login(cast.alice), export)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    assert int(response["Content-Length"]) == len(body) == export.size_bytes
    assert hashlib.sha256(body).hexdigest() == export.sha256

    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every member's CRC-32 checks
    names = archive.namelist()
    assert names[:2] == ["README.txt", "subject.json"]
    document = json.loads(archive.read("subject.json"))
    _validate(document)
    assert [r["call_id"] for r in document["recordings"]] == ["CALL:1@acd", "CALL-2"]
    for entry, recording in zip(document["recordings"], [first, second], strict=True):
        audio = archive.read(entry["audio_file"])
        # The original bytes: the SHA-256 taken at ingest, and a WAV that parses.
        assert hashlib.sha256(audio).hexdigest() == recording.audio_sha256 == entry["audio_sha256"]
        with wave.open(io.BytesIO(audio)) as parsed:
            assert parsed.getframerate() == 8000 and parsed.getnframes() > 0
        assert entry["started_at"].endswith("+01:00") or entry["started_at"].endswith("+02:00")
    assert set(names) == {"README.txt", "subject.json"} | {
        entry["audio_file"] for entry in document["recordings"]
    }
    assert document["recordings"][1]["direction_label"] == "Outbound"
    assert document["recordings"][0]["purpose_label"] and document["recordings"][0]["legal_basis"]
    assert [c["decision"] for c in document["consents"]] == ["granted", "withdrawn"]
    assert document["consents"][0]["channel_label"] == "IVR key press"
    # The access log: Bob's grant, by his role, never his name (the tenant did not opt in).
    granted = [e for e in document["access_log"] if e["action"] == "recording.access_granted"]
    assert len(granted) == 1
    assert granted[0]["actor_role"] == "supervisor"
    assert granted[0]["actor_role_label"] == "Supervisor"
    assert granted[0]["actor_name"] is None
    assert granted[0]["purpose_label"] == "Complaint investigation"
    assert granted[0]["justification"] == "Ticket 4411"
    assert granted[0]["action_label"] == "Listening granted for a stated purpose"
    assert granted[0]["call_id"] == "CALL:1@acd"
    assert {e["action"] for e in document["access_log"]} >= {"recording.ingested"}
    assert document["staff_names_included"] is False
    assert "bob" not in archive.read("subject.json").decode()
    assert "SOMEONE-ELSE" not in body.decode("latin-1") and "OTHER-TENANT" not in body.decode(
        "latin-1"
    )
    # Asked for, built and downloaded: each on the request's trail.
    for action in ("export_requested", "export_built", "export_downloaded"):
        events = AuditEvent.objects.filter(action=f"subject_request.{action}")
        assert [(e.target_id, e.extra["export"]) for e in events] == [(str(request.pk), export.pk)]
    # Stored encrypted like a recording: nothing of the ZIP in clear on disk.
    stored = (recordings_dir / export.storage_name).read_bytes()
    assert stored.startswith(crypto.AUDIO_MAGIC) and b"subject.json" not in stored


def test_staff_are_named_only_where_the_tenant_chose_so(cast, login):
    recording = ingest(cast.acme)
    with acting_for(cast.bob):
        access_grant_request(
            user=cast.bob,
            recording=recording,
            purpose="quality",
            justification="QA sampling, week 48",
        )
    cast.acme.export_names_staff = True
    cast.acme.save()
    export = _built(cast)
    _, body = _download(login(cast.alice), export)
    document = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("subject.json"))
    _validate(document)
    granted = [e for e in document["access_log"] if e["action"] == "recording.access_granted"]
    assert granted[0]["actor_name"] == "bob" and granted[0]["actor_role"] == "supervisor"
    assert document["staff_names_included"] is True


@pytest.mark.parametrize(
    ("language", "kind", "words"),
    [
        ("en", "access", "Your personal data held by Acme Insurance"),
        ("es", "portability", "Sus datos personales en poder de Acme Insurance"),
        ("fr", "access", "Vos données personnelles détenues par Acme Insurance"),
    ],
)
def test_the_readme_is_in_the_requesters_language(cast, login, language, kind, words):
    ingest(cast.acme)
    export = _built(cast, _request(cast, kind=kind, language=language))
    _, body = _download(login(cast.alice), export)
    archive = zipfile.ZipFile(io.BytesIO(body))
    readme = archive.read("README.txt").decode("utf-8")
    assert readme.startswith(words)
    document = json.loads(archive.read("subject.json"))
    _validate(document)
    assert (document["request"]["language"], document["request"]["kind"]) == (language, kind)


def test_every_field_of_the_schema_is_explained_in_every_language():
    """The README explains each property of subject.schema.json (a `_label` field through the
    field it names), so a field added to the document without its explanation fails here."""
    explained = {(section, name) for section, name, _ in FIELDS}
    properties = set()
    for name, schema in SCHEMA["properties"].items():
        if schema.get("type") == "object":
            properties |= {(name, inner) for inner in schema["properties"]}
        elif schema.get("type") != "array":
            properties.add(("", name))
    for section in ("recordings", "consents", "access_log"):
        definition = SCHEMA["properties"][section]["items"]["$ref"].rsplit("/", 1)[1]
        properties |= {(section, inner) for inner in SCHEMA["$defs"][definition]["properties"]}
    labels = {(section, name) for section, name in properties if name.endswith("_label")}
    assert {(s, n.removesuffix("_label")) for s, n in labels} <= explained
    assert {n.removesuffix("_label") for _, n in labels} <= LABELLED
    assert properties - labels == explained
    for _, _, explanations in FIELDS:
        assert set(explanations) == set(LANGUAGES) and all(explanations.values())
    for language in LANGUAGES:
        text = readme_text(
            language=language,
            kind="access",
            controller="Acme",
            reference=7,
            received="2026-11-28T09:15:00+01:00",
            generated="2026-11-29T10:00:00+01:00",
            recordings=2,
            audio_files=1,
        )
        assert all(f"- {name}" in text for _, name, _ in FIELDS)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("identity not verified", "identity_method"),
        ("erasure request", "kind"),
        ("closed request", "status"),
        ("not the handler", "actor"),
        ("another tenant's officer", "actor"),
    ],
)
def test_nothing_is_exported_when_it_may_not_be(cast, case, field):
    request = _request(
        cast,
        kind="erasure" if case == "erasure request" else "access",
        verified=case != "identity not verified",
    )
    actor = cast.alice
    if case == "closed request":
        request = subject_request_close(actor=cast.alice, request=request, status="completed")
    elif case == "not the handler":
        actor = UserFactory(username="frank")
        membership_grant(actor="test", user=actor, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    elif case == "another tenant's officer":
        actor = cast.erin
    with pytest.raises(Refused) as refused:
        subject_export_start(actor=actor, request=request)
    assert refused.value.field == field
    assert not SubjectExport.objects.exists()
    refusal = AuditEvent.objects.get(action="subject_request.export_refused")
    assert refusal.outcome == "denied" and refusal.extra["field"] == field


def test_a_build_rechecks_the_request_and_exports_nothing_once_it_is_closed(cast, recordings_dir):
    ingest(cast.acme)
    request = _request(cast)
    export = subject_export_start(actor=cast.alice, request=request)
    subject_request_close(actor=cast.alice, request=request, status="completed")
    export = subject_export_build(export_id=export.pk)
    assert export.status == ExportStatus.FAILED and "closed" in export.failure
    assert _export_files(recordings_dir) == set()


# --- downloading ---------------------------------------------------------------------------------


def test_only_the_handler_still_an_officer_downloads_each_download_audited(cast, login, client):
    ingest(cast.acme)
    export = _built(cast)
    url = reverse("recordings:subject_export_download", args=[export.pk])
    frank = UserFactory(username="frank")  # another officer of Acme, not the handler
    membership_grant(actor="test", user=frank, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    expected = {
        cast.alice: 200,
        cast.root: 200,
        cast.bob: 403,
        cast.carol: 403,
        cast.dave: 403,
        frank: 403,
        cast.erin: 404,
    }
    for user, status in expected.items():
        response, body = _download(login(user), export)
        assert response.status_code == status, user.username
        if status != 200:
            assert b"PK" not in body[:2]
    assert _events("subject_request.export_downloaded") == 2
    denied = AuditEvent.objects.filter(action="subject_request.export_download_denied")
    assert sorted(e.extra["user"] for e in denied) == ["bob", "carol", "dave", "frank"]
    probe = AuditEvent.objects.get(action="access.cross_tenant_refused")
    assert (probe.tenant_id, probe.extra["user"]) == (cast.acme.pk, "erin")
    # A missing id is the same 404 as another tenant's, and leaves no cross-tenant event.
    response = login(cast.erin).get(
        reverse("recordings:subject_export_download", args=[export.pk + 1000])
    )
    assert response.status_code == 404
    assert _events("access.cross_tenant_refused") == 1
    # The handler who is no longer a compliance officer there may not download any more.
    membership_grant(actor="test", user=cast.alice, tenant=cast.acme, role=Role.SUPERVISOR)
    response, _ = _download(login(cast.alice), export)
    assert response.status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    assert Membership.objects.filter(user=cast.alice, role=Role.SUPERVISOR).exists()


def test_an_expired_export_is_refused_then_deleted_by_the_nightly_job(cast, login, recordings_dir):
    ingest(cast.acme)
    old, kept = _built(cast), _built(cast, _request(cast))
    SubjectExport.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response, _ = _download(login(cast.alice), old)
    assert response.status_code == 410
    assert b"expired" in response.content
    assert (recordings_dir / old.storage_name).exists()

    summary = expire_subject_exports()  # the beat's task, run here

    assert summary["deleted"] == 1
    old.refresh_from_db()
    assert old.status == ExportStatus.EXPIRED and old.deleted_at is not None
    assert old.wrapped_key is None  # a copy of the file in a backup no longer decrypts
    assert not (recordings_dir / old.storage_name).exists()
    assert (recordings_dir / kept.storage_name).exists()
    deleted = AuditEvent.objects.get(action="subject_request.export_deleted")
    assert deleted.extra["export"] == old.pk
    assert _download(login(cast.alice), old)[0].status_code == 410
    assert _download(login(cast.alice), kept)[0].status_code == 200
    assert expire_subject_exports()["deleted"] == 0  # once


def test_an_erasure_of_the_subject_deletes_their_exports_now(cast, login, recordings_dir):
    from recordings.subject_requests.erasure import erasure_execute

    ingest(cast.acme)
    export = _built(cast)
    other_subject = _request(cast)
    SubjectRequest.objects.filter(pk=other_subject.pk).update(customer_numbers=["+33699999999"])
    elsewhere = _built(cast, SubjectRequest.objects.get(pk=other_subject.pk))
    erasure = _request(cast, kind="erasure")

    erasure_execute(actor=cast.alice, request=erasure)

    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED and export.wrapped_key is None
    assert not (recordings_dir / export.storage_name).exists()
    assert _download(login(cast.alice), export)[0].status_code == 410
    deleted = AuditEvent.objects.get(action="subject_request.export_deleted")
    assert deleted.extra == {"export": export.pk, "erasure_request": erasure.pk}
    # Another subject's export stays.
    elsewhere.refresh_from_db()
    assert elsewhere.status == ExportStatus.READY


def test_the_orphan_sweep_keeps_ready_exports(cast, recordings_dir):
    recording = ingest(cast.acme)
    export = _built(cast)
    assert orphan_files_sweep(grace=timedelta(0)) == []
    assert (recordings_dir / export.storage_name).exists()
    assert (recordings_dir / recording.storage_name).exists()


# --- faults --------------------------------------------------------------------------------------


def test_a_decryption_failing_mid_way_leaves_no_ready_export_and_no_file_then_a_rerun_works(
    cast, recordings_dir, monkeypatch
):
    for _ in range(4):
        ingest(cast.acme, seconds=2)
    request = _request(cast)
    export = subject_export_start(actor=cast.alice, request=request)
    real = export_module.plain_audio_chunks
    served = []

    def failing_on_the_third(recording):
        served.append(recording.pk)
        if len(served) == 3:

            def broken():
                yield b"RIFF"
                raise OSError("storage went away")

            return broken()
        return real(recording)

    monkeypatch.setattr(export_module, "plain_audio_chunks", failing_on_the_third)
    with pytest.raises(OSError, match="storage went away"):
        subject_export_build(export_id=export.pk)

    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED and "storage went away" in export.failure
    assert _export_files(recordings_dir) == set()  # neither the partial file nor the ZIP
    assert _events("subject_request.export_failed") == 1

    monkeypatch.setattr(export_module, "plain_audio_chunks", real)
    export = build_subject_export(export.pk)  # the task, run again
    assert export["status"] == ExportStatus.READY
    export = SubjectExport.objects.get(pk=export["export"])
    assert _export_files(recordings_dir) == {export.storage_name}
    assert export.audio_files == 4
    assert _events("subject_request.export_built") == 1


def test_a_build_left_behind_is_cleaned_up_by_the_nightly_job(cast, recordings_dir):
    ingest(cast.acme)
    export = subject_export_start(actor=cast.alice, request=_request(cast))
    partial = recordings_dir / f"{export.storage_name}.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"half a zip")
    long_ago = timezone.now() - timedelta(hours=3)
    SubjectExport.objects.filter(pk=export.pk).update(created_at=long_ago, attempted_at=long_ago)

    assert subject_exports_expire().abandoned == 1

    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert not partial.exists()
    assert _events("subject_request.export_failed") == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_way_leaves_no_ready_export_and_the_task_runs_again(
    cast, recordings_dir
):
    """A real process building the export, SIGKILLed while it writes the ZIP."""
    audio = tone_wav(62.5)  # 1 MB
    for index in range(40):
        _ingest_bytes(cast.acme, f"K-{index}", audio)
    export = subject_export_start(actor=cast.alice, request=_request(cast))
    partial = recordings_dir / f"{export.storage_name}.part"
    database = connection.settings_dict
    host = quote(database["HOST"] or "", safe="")
    port = f":{database['PORT']}" if database["PORT"] else ""
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{host}{port}/{database['NAME']}",
        "RECORDINGS_ROOT": str(recordings_dir),
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "RECORDINGS_MASTER_KEY": settings.RECORDINGS_MASTER_KEY,
        "DEBUG": "true",
    }
    code = f"from recordings.tasks import build_subject_export; build_subject_export({export.pk})"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if partial.exists() and partial.stat().st_size > 2_000_000:
                break
            time.sleep(0.002)
        assert process.poll() is None, "the build ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)

    export.refresh_from_db()
    assert export.status == ExportStatus.BUILDING  # nothing to download
    assert not (recordings_dir / export.storage_name).exists()
    assert _export_files(recordings_dir) <= {f"{export.storage_name}.part"}

    summary = build_subject_export(export.pk)  # Celery delivers the task again

    assert summary["status"] == ExportStatus.READY
    assert _export_files(recordings_dir) == {export.storage_name}
    export.refresh_from_db()
    assert export.audio_files == 40
    assert _events("subject_request.export_built") == 1


# --- memory --------------------------------------------------------------------------------------


def _ingest_bytes(tenant, call_id: str, audio: bytes) -> Recording:
    fields = {
        "call_id": call_id,
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": NUMBER,
        "purpose": "quality",
    }
    return recording_ingest(tenant=tenant, api_key=None, audio=audio, fields=fields).recording


def test_memory_stays_flat_whatever_the_exports_size(cast, recordings_dir):
    audio = tone_wav(62.5)  # 1 MB
    for index in range(40):
        _ingest_bytes(cast.acme, f"M-{index}", audio)
    export = subject_export_start(actor=cast.alice, request=_request(cast))
    tracemalloc.start()
    try:
        export = subject_export_build(export_id=export.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert export.status == ExportStatus.READY
    assert export.size_bytes > 40 * len(audio)
    # About three pieces of a megabyte (one read, one decrypted, one held back until the tag
    # verifies) and the rows: far below the 40 MB of audio.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_an_altered_file_never_reaches_a_reader_whole(cast, recordings_dir):
    """The chunked decryption hands out the last piece only once the tag verified."""
    recording = _ingest_bytes(cast.acme, "T-1", tone_wav(200))  # 3.2 MB: several pieces
    path = recordings_dir / recording.storage_name
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 1  # in the last piece
    path.write_bytes(bytes(blob))
    from recordings.storage import plain_audio_chunks

    received = []
    with pytest.raises(crypto.DecryptionFailed):
        for piece in plain_audio_chunks(recording):
            received.append(piece)
    assert 0 < sum(map(len, received)) < recording.size_bytes


# --- the real worker -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_export_is_built_by_a_real_worker(cast, celery_worker, login):
    ingest(cast.acme)
    export = subject_export_start(actor=cast.alice, request=_request(cast))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.status != ExportStatus.BUILDING:
            break
        time.sleep(0.1)
    assert export.status == ExportStatus.READY
    response, body = _download(login(cast.alice), export)
    assert response.status_code == 200
    _validate(json.loads(zipfile.ZipFile(io.BytesIO(body)).read("subject.json")))
    built = AuditEvent.objects.get(action="subject_request.export_built")
    assert built.actor_username == "task:recordings.tasks.build_subject_export"


# --- the request's page --------------------------------------------------------------------------


def test_the_handler_builds_the_export_from_the_requests_page_and_finds_it_listed(
    cast, login, django_capture_on_commit_callbacks
):
    ingest(cast.acme)
    request = _request(cast)
    page = reverse("admin:compliance_subjectrequest_change", args=[request.pk])
    step = reverse("admin:compliance_subjectrequest_export", args=[request.pk])
    client = login(cast.alice)
    assert step.encode() in client.get(page).content  # the "Build export" action
    assert client.get(step).status_code == 200  # its confirmation page

    with django_capture_on_commit_callbacks() as sent:
        response = client.post(step, {"confirm": "yes"})

    assert response.status_code == 302 and response["Location"] == page
    export = SubjectExport.objects.get(request=request)
    assert export.status == ExportStatus.BUILDING and len(sent) == 1  # the task, once committed
    subject_export_build(export_id=export.pk)  # what the worker does
    export.refresh_from_db()
    listing = client.get(page).content.decode()
    download = reverse("recordings:subject_export_download", args=[export.pk])
    assert download in listing
    assert "Ready to download" in listing and f'title="{export.sha256}"' in listing
    # Another officer of Acme sees the list but no link, and cannot build one: the form says
    # why, and the refusal is on the trail.
    frank = UserFactory(username="frank")
    membership_grant(actor="test", user=frank, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    client = login(frank)
    listing = client.get(page).content.decode()
    assert "Ready to download" in listing and download not in listing and step not in listing
    response = client.post(step, {"confirm": "yes"})
    assert response.status_code == 200 and "handler" in response.content.decode()
    assert SubjectExport.objects.count() == 1
    assert _events("subject_request.export_refused") == 1


def test_no_build_action_before_the_identity_is_verified(cast, login):
    request = _request(cast, verified=False)
    client = login(cast.alice)
    page = client.get(reverse("admin:compliance_subjectrequest_change", args=[request.pk]))
    step = reverse("admin:compliance_subjectrequest_export", args=[request.pk])
    assert step.encode() not in page.content
    response = client.post(step, {"confirm": "yes"})
    assert response.status_code == 200 and "identity" in response.content.decode()
    assert not SubjectExport.objects.exists()


def test_a_master_key_rotation_rewraps_ready_exports(cast, login, settings):
    import base64

    from django.core.management import call_command

    ingest(cast.acme)
    export = _built(cast)
    _, before = _download(login(cast.alice), export)
    old_key = settings.RECORDINGS_MASTER_KEY
    settings.RECORDINGS_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    settings.RECORDINGS_PREVIOUS_MASTER_KEYS = [old_key]
    call_command("rotate_master_key")
    settings.RECORDINGS_PREVIOUS_MASTER_KEYS = []  # the old key can go
    export.refresh_from_db()
    assert export.master_key_id == crypto.current_master_key().key_id
    response, after = _download(login(cast.alice), export)
    assert response.status_code == 200 and after == before
    rotated = AuditEvent.objects.get(action="recording.master_key_rotated")
    assert rotated.extra["exports_rewrapped"] == 1
