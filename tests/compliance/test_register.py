"""The register of processing activities (GDPR Art. 30(1)): generated from the purposes, the
retention policies, the processors and the security measures in force, for one tenant only; as
a page, a CSV and an XLSX workbook, in English, Spanish and French, each an audited export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from audit.models import AuditEvent
from compliance.models import Processor
from compliance.register.build import register_build
from compliance.security_measures import security_measures_in_force
from compliance.services.processors import processor_save

from ..factories import (
    PurposeFactory,
    RetentionPolicyFactory,
    consent_for,
    processor_for,
    recording_for,
)

pytestmark = pytest.mark.django_db


def url(name: str, tenant, language: str = "") -> str:
    path = reverse(f"admin:compliance_processor_{name}", args=[tenant.pk])
    return f"{path}?language={language}" if language else path


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def acme_processing(cast):
    """Acme records quality calls (a platform purpose), asks consent for telemarketing, and has
    a purpose of its own; its storage provider backs up to the United States under SCCs."""
    recording_for(tenant=cast.acme)  # quality
    consent_for(tenant=cast.acme)  # telemarketing
    own = PurposeFactory(
        tenant=cast.acme,
        code="complaints",
        name="Complaint handling",
        data_subjects="Complaining customers",
        data_categories="Audio; number",
        data_source="The call",
    )
    RetentionPolicyFactory(
        tenant=cast.acme, purpose=own, name="Complaints: 3 months", legal_reference="Own rule"
    )
    storage = processor_for(tenant=cast.acme, name="Cloud storage")
    processor_for(
        tenant=cast.acme,
        name="Backup Inc.",
        parent=storage,
        country="US",
        transfer_safeguard="scc",
        scc_signed_on=date(2025, 3, 1),
        purposes=[own],
    )
    # Globex's own purpose and processor never appear in Acme's register.
    PurposeFactory(tenant=cast.globex, code="globex-retention", name="Globex retention desk")
    processor_for(tenant=cast.globex, name="Globex call analytics")
    recording_for(tenant=cast.globex)
    return own


def test_the_register_lists_exactly_the_tenants_own_purposes_and_processors(cast, acme_processing):
    register = register_build(cast.acme)
    assert [activity["purpose"] for activity in register.activities] == [
        "complaints",
        "quality",
        "telemarketing",
    ]
    assert [processor["name"] for processor in register.processors] == [
        "Contact centre (Custodia)",
        "Cloud storage",
        "Backup Inc.",
    ]
    globex = register_build(cast.globex)
    assert [activity["purpose"] for activity in globex.activities] == [
        "globex-retention",
        "quality",
    ]
    assert [p["name"] for p in globex.processors] == [
        "Contact centre (Custodia)",
        "Globex call analytics",
    ]
    complaints = register.activities[0]
    assert complaints["retention"]["months"] == 3
    assert complaints["retention"]["legal_reference"] == "Own rule"
    backup = register.processors[2]
    # The backup serves the complaints only; the platform and the storage serve everything.
    assert complaints["transfers"] == [backup["id"]]
    assert register.activities[1]["transfers"] == []
    assert backup["chain"] == ["Cloud storage", "Contact centre (Custodia)"]


def test_a_purpose_switched_off_stays_in_the_register_while_its_recordings_are_kept(cast):
    from recordings.services.purge.erasure import recording_erase

    from ..recordings.helpers import ingest

    own = PurposeFactory(tenant=cast.acme, code="surveys", name="Satisfaction surveys")
    recording = ingest(cast.acme, purpose="surveys")
    PurposeFactory(tenant=cast.acme, code="unused", name="Never used", active=False)
    own.active = False
    own.save()
    listed = [activity["purpose"] for activity in register_build(cast.acme).activities]
    # Keeping the recordings is processing: the purpose stays until they are gone.
    assert "surveys" in listed and "unused" not in listed
    recording_erase(actor=None, recording=recording)
    listed = [activity["purpose"] for activity in register_build(cast.acme).activities]
    assert "surveys" not in listed


def test_a_sub_processor_still_active_under_an_ended_processor_stays_in_the_register(
    cast, acme_processing, login
):
    """Ending a processor does not end the sub-processors engaged under it: while the backup in
    the United States is active, the register lists it and its transfer (Art. 30(1)(d), (e))."""
    storage = Processor.objects.get(tenant=cast.acme, name="Cloud storage")
    storage.status = "ended"
    processor_save(actor=cast.alice, processor=storage, purposes=[], created=False)
    register = register_build(cast.acme)
    assert [processor["name"] for processor in register.processors] == [
        "Contact centre (Custodia)",
        "Backup Inc.",
    ]
    backup = register.processors[1]
    assert backup["chain"] == ["Cloud storage", "Contact centre (Custodia)"]
    complaints = register.activities[0]
    assert complaints["transfers"] == [backup["id"]]
    rows = csv_rows(login(cast.alice).get(url("register_csv", cast.acme)))
    assert "Backup Inc. (US)" in rows[0]["Transfers outside the EEA and safeguards"]


def test_the_page_shows_the_tenants_register_only_and_each_export_is_audited(
    cast, acme_processing, login
):
    client = login(cast.alice)
    page = client.get(url("register", cast.acme))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Complaint handling" in body and "Backup Inc." in body
    assert "Standard contractual clauses (Art. 46(2)(c)), signed on 2025-03-01" in body
    assert "Globex" not in body
    digest = page.context["register"].digest
    assert digest in body
    event = AuditEvent.objects.get(action="processing_register.exported")
    assert event.actor_username == "alice" and event.tenant_id == cast.acme.pk
    assert event.extra["format"] == "html" and event.extra["digest"] == digest
    # Globex's register is refused like an unknown tenant, on Globex's trail.
    assert client.get(url("register", cast.globex)).status_code == 404
    refused = AuditEvent.objects.get(action="access.cross_tenant_refused")
    assert refused.tenant_id == cast.globex.pk


def test_the_csv_opens_with_the_csv_module_with_one_row_per_purpose(cast, acme_processing, login):
    response = login(cast.alice).get(url("register_csv", cast.acme))
    assert response["Content-Disposition"] == 'attachment; filename="register-acme-en.csv"'
    rows = csv_rows(response)
    assert [row["Purpose"] for row in rows] == [
        "Complaint handling",
        "Quality monitoring",
        "Telemarketing",
    ]
    telemarketing = rows[2]
    assert telemarketing["Legal basis"] == "Consent (Art. 6(1)(a))"
    assert telemarketing["Erasure time limit"] == "6 months, then deleted"
    assert "CNIL" in telemarketing["Legal reference"]
    assert "Callers" in rows[1]["Categories of data subjects"]
    assert (
        "Backup Inc. (US): Standard contractual clauses"
        in rows[0]["Transfers outside the EEA and safeguards"]
    )
    assert rows[1]["Transfers outside the EEA and safeguards"] == "None"
    assert "AES-256-GCM" in rows[0]["Security measures"]
    assert {row["Content hash (SHA-256)"] for row in rows} == {register_build(cast.acme).digest}
    assert AuditEvent.objects.filter(
        action="processing_register.exported", extra__format="csv"
    ).exists()


def test_a_typed_formula_stays_text_in_the_csv(cast, login):
    PurposeFactory(tenant=cast.acme, code="evil", name='=HYPERLINK("http://x")')
    rows = csv_rows(login(cast.alice).get(url("register_csv", cast.acme)))
    assert rows[0]["Purpose"].startswith("'=")


def test_a_control_character_typed_into_a_processor_still_gives_a_workbook(cast, login):
    """Text pasted from a PDF or a word processor carries control characters (a vertical tab
    for a line break, an escape): the admin stores them, and the XLSX (whose XML cannot hold
    them) shows a space instead of failing with a 500."""
    client = login(cast.alice)
    today = cast.acme.today()
    response = client.post(
        reverse("admin:compliance_processor_add"),
        {
            "tenant": cast.acme.pk,
            "name": "Cloud\x0bstorage",
            "services": "Object storage\x1b of the audio",
            "country": "FR",
            "agreement_signed_on": (today - timedelta(days=30)).isoformat(),
            "security_contact": "soc\x01@storage.example",
            "status": "active",
        },
    )
    assert response.status_code == 302
    response = client.get(url("register_xlsx", cast.acme))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    processors = list(workbook["Processors and sub-processors"].values)
    cloud = next(row for row in processors if str(row[0]).startswith("Cloud"))
    assert cloud[0] == "Cloud storage"
    assert cloud[2] == "Object storage  of the audio"
    assert cloud[10] == "soc @storage.example"


def test_the_xlsx_workbook_opens_with_its_sheets(cast, acme_processing, login):
    response = login(cast.dave).get(url("register_xlsx", cast.acme, "fr"))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Registre des activités de trait",
        "Activités de traitement",
        "Sous-traitants et sous-traitant",
        "Mesures de sécurité",
    ]
    activities = list(workbook["Activités de traitement"].values)
    assert activities[0][0] == "Finalité"
    assert [row[0] for row in activities[1:]] == [
        "Complaint handling",  # typed by Acme: as typed
        "Contrôle qualité",
        "Prospection commerciale par téléphone",
    ]
    # The shipped presets' legal references are translated too.
    assert "les enregistrements sont conservés 6 mois au plus" in activities[3][7]
    processors = list(workbook["Sous-traitants et sous-traitant"].values)
    assert processors[3][1] == (
        "Sous-traitant ultérieur de Cloud storage ← Contact centre (Custodia)"
    )
    event = AuditEvent.objects.get(action="processing_register.exported")
    assert (event.actor_username, event.extra["format"], event.extra["language"]) == (
        "dave",
        "xlsx",
        "fr",
    )


@pytest.mark.parametrize(
    ("language", "heading", "basis"),
    [
        ("en", "Legal basis", "Legitimate interest (Art. 6(1)(f))"),
        ("es", "Base jurídica", "Interés legítimo (art. 6, apartado 1, letra f)"),
        ("fr", "Base légale", "Intérêt légitime (art. 6, paragraphe 1, point f)"),
    ],
)
def test_the_register_speaks_english_spanish_and_french_with_one_hash(
    cast, acme_processing, login, language, heading, basis
):
    rows = csv_rows(login(cast.alice).get(url("register_csv", cast.acme, language)))
    assert basis in [row[heading] for row in rows]
    digests = {row[list(row)[-1]] for row in rows}
    assert digests == {register_build(cast.acme).digest}  # the content's, whatever the language


def test_the_hash_changes_with_the_content_only(cast, acme_processing):
    first = register_build(cast.acme)
    assert register_build(cast.acme).digest == first.digest
    processor_for(tenant=cast.acme, name="Another processor")
    assert register_build(cast.acme).digest != first.digest


def test_turning_off_a_security_setting_removes_it_from_the_register(cast, settings, login):
    settings.OTP_REQUIRED = True
    settings.SESSION_IDLE_MINUTES = 20
    codes = {measure.code for measure in security_measures_in_force()}
    assert {
        "access_log",
        "encryption_at_rest",
        "lockout",
        "purpose_bound_listening",
        "role_based_access",
        "session_timeout",
        "two_factor",
    } <= codes
    # (With two factors required, a page needs a second factor: the register is read directly.)
    measures = " ".join(measure.text("en") for measure in register_build(cast.acme).measures)
    assert "Two-factor sign-in" in measures
    assert "Sessions end after 20 minutes without activity." in measures
    settings.OTP_REQUIRED = False
    settings.AXES_ENABLED = False
    codes = {measure.code for measure in security_measures_in_force()}
    assert "two_factor" not in codes and "lockout" not in codes
    body = login(cast.alice).get(url("register", cast.acme)).content.decode()
    assert "Two-factor" not in body and "Accounts locked" not in body
    assert "AES-256-GCM" in body  # what stays on is still stated


def test_only_roles_that_read_the_register_get_it(cast, login):
    assert login(cast.carol).get(url("register", cast.acme)).status_code == 403
    assert login(cast.bob).get(url("register", cast.acme)).status_code == 200
    assert login(cast.alice).post(url("register", cast.acme)).status_code == 405
