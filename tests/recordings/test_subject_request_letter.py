"""The answer letter of a closed data-subject request (recordings/subject_requests/letter.py), in
English, Spanish and French: what was asked and when, what the tenant holds, what was done,
erased, kept and refused and why, and where to complain; each view on the trail."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import RequestFactory
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import SubjectRequest
from compliance.services.subject_requests import (
    subject_request_close,
    subject_request_extend,
    subject_request_receive,
    subject_request_verify_identity,
)
from compliance.supervisory_authorities import supervisory_authority_for
from kit.refusals import Refused
from recordings.subject_requests.letter import subject_request_letter

from ..factories import TenantFactory, UserFactory
from .test_subject_data import ingest

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def receive(cast, *, tenant=None, actor=None, language="en", **fields):
    values = {
        "kind": "access",
        "customer_numbers": ["06 12 34 56 78"],
        "channel": "email",
        "requester_name": "Jeanne Martin",
        "requester_contact": "jeanne.martin@example.org",
        **fields,
    }
    return subject_request_receive(
        actor=actor or cast.alice, tenant=tenant or cast.acme, language=language, **values
    )


def answer(cast, request, *, actor=None, status="completed", **fields):
    actor = actor or cast.alice
    request = subject_request_verify_identity(actor=actor, request=request, method="call_back")
    return subject_request_close(actor=actor, request=request, status=status, **fields)


def letter(cast, request, *, user=None, **options) -> str:
    http_request = RequestFactory().get(f"/admin/compliance/subjectrequest/{request.pk}/letter/")
    http_request.user = user or cast.alice
    response = subject_request_letter(http_request, request, **options)
    assert response.status_code == 200
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_an_access_answer_in_english_says_what_is_held_and_where_to_complain(cast):
    ingest(cast.acme, "c-1")
    ingest(cast.acme, "c-2")
    request = receive(cast, received_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    request = answer(cast, request, outcome="We sent you a copy of both recordings.")
    text = letter(cast, request)
    assert "Re: your request for access to your personal data (Art. 15 GDPR)" in text
    assert f"request no. {request.pk}" in text
    assert "Dear Jeanne Martin," in text
    assert "jeanne.martin@example.org" in text
    # 23:30 UTC on 30 November is 00:30 on 1 December in Paris: the tenant's day and hour.
    assert "We received your request on 1 December 2026 at 00:30 (Europe/Paris time)" in text
    assert "the telephone number +33612345678" in text
    assert "Our answer was due by 1 January 2027." in text
    assert "granted in full" in text
    assert "2 recordings of your calls" in text
    assert "We sent you a copy of both recordings." in text
    assert "Commission nationale de l'informatique et des libertés (CNIL)" in text
    assert "3 Place de Fontenoy" in text and "https://www.cnil.fr/fr/plaintes" in text
    assert "Art. 79 GDPR" in text
    event = AuditEvent.objects.get(action="subject_request.letter_viewed")
    assert (event.tenant_id, event.target_id) == (cast.acme.pk, str(request.pk))
    assert event.extra["user"] == "alice" and event.extra["language"] == "en"
    assert "requester_name" in event.extra["fields"]


REPORT_LINES = {
    # The shape the brief announces, and the one the erasure writes (recording, certificate,
    # reasons as objects with a code, a label and a detail): both are read.
    "deleted": [
        {"call_id": "CALL-0001", "certificate_id": 41},
        {"recording": 7, "call_id": "CALL-0002", "certificate": 42},
    ],
    "kept": [
        {
            "recording": 8,
            "call_id": "CALL-0003",
            "reasons": [
                {
                    "code": "legal_hold",
                    "label": "Under a legal hold (GDPR Art. 17(3)(e))",
                    "detail": "legal hold Case 7",
                }
            ],
        },
        {"call_id": "CALL-0004", "reasons": ["legal_retention", "a reason in words"]},
        {"call_id": "CALL-0005", "reasons": [{"code": "new_code", "label": "A new reason"}]},
        "not an entry",
        {"call_id": "CALL-0006", "reasons": "not a list"},
    ],
    "consents_kept": {"count": 2, "reason": "Consent decisions are kept"},
}


def _erasure(cast, language: str) -> SubjectRequest:
    request = receive(cast, kind="erasure", language=language)
    request = answer(
        cast,
        request,
        status="partial",
        outcome="Two recordings erased.",
        refusal_reason="Two recordings are kept for the reasons listed.",
    )
    SubjectRequest.objects.filter(pk=request.pk).update(report=REPORT_LINES)
    request.refresh_from_db()
    return request


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Re: your request for erasure of your data (Art. 17 GDPR)",
                "granted in part",
                "We granted it only in part, for the following reason:",
                "We erased 2 recordings; each erasure has its deletion certificate:",
                "<td>CALL-0001</td><td>41</td>",
                "<td>CALL-0002</td><td>42</td>",
                "We kept 4 recordings",
                "under a legal hold: needed for the establishment, exercise or defence of legal "
                "claims (Art. 17(3)(e) GDPR) — legal hold Case 7",
                "kept to comply with a legal obligation (Art. 17(3)(b) GDPR); a reason in words",
                "A new reason",
                "We keep the 2 records of your decisions",
                "Yours sincerely,",
            ],
        ),
        (
            "es",
            [
                "Asunto: su solicitud — supresión de sus datos (artículo 17 del RGPD)",
                "Estimado/a Jeanne Martin:",
                "atendida parcialmente",
                "Solo la hemos atendido en parte, por el siguiente motivo:",
                "Hemos suprimido 2 grabaciones; cada supresión tiene su certificado:",
                "<td>CALL-0002</td><td>42</td>",
                "Hemos conservado 4 grabaciones, por los siguientes motivos:",
                "sujeta a una retención por motivos legales: necesaria para la formulación, el "
                "ejercicio o la defensa de reclamaciones (artículo 17.3.e) del RGPD) — legal hold "
                "Case 7",
                "conservada para cumplir una obligación legal (artículo 17.3.b) del RGPD)",
                "Conservamos 2 registros de sus decisiones",
                "Puede presentar una reclamación ante una autoridad de control (artículo 77 del "
                "RGPD)",
                "Atentamente,",
            ],
        ),
        (
            "fr",
            [
                "Objet : votre demande — effacement de vos données (article 17 du RGPD)",
                "Madame, Monsieur,",
                "satisfaite en partie",
                "Nous n'y avons fait droit qu'en partie, pour le motif suivant :",
                "Nous avons effacé 2 enregistrements ; chaque effacement a son certificat de "
                "suppression :",
                "<td>CALL-0001</td><td>41</td>",
                "Nous avons conservé 4 enregistrements, pour les motifs suivants :",
                "placé sous conservation pour un litige : nécessaire à la constatation, à "
                "l'exercice ou à la défense de droits en justice (article 17, paragraphe 3, "
                "point e) du RGPD) — legal hold Case 7",
                "conservé pour respecter une obligation légale",
                "Nous conservons 2 traces de vos choix",
                "Vous pouvez introduire une réclamation auprès d'une autorité de contrôle "
                "(article 77 du RGPD)",
                "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations "
                "distinguées.",
            ],
        ),
    ],
)
def test_an_erasure_letter_lists_what_was_erased_and_kept_in_each_language(
    cast, language, expected
):
    request = _erasure(cast, language)
    text = letter(cast, request)
    for passage in expected:
        assert passage in text, passage
    assert "Two recordings are kept for the reasons listed." in text
    assert "CALL-0006" in text  # its reasons are unreadable: listed, with none
    assert "not an entry" not in text
    assert "new_code" not in text
    assert f'lang="{language}"' in text


@pytest.mark.parametrize(
    ("language", "received", "due"),
    [
        ("en", "1 December 2026", "1 January 2027"),
        ("es", "1 de diciembre de 2026", "1 de enero de 2027"),
        ("fr", "1 décembre 2026", "1 janvier 2027"),
    ],
)
def test_dates_are_the_tenants_written_in_the_letters_language(cast, language, received, due):
    request = receive(
        cast, language=language, received_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    )
    request = answer(cast, request)
    text = letter(cast, request)
    assert received in text and "00:30" in text and "Europe/Paris" in text
    assert due in text


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "We hold <strong>no data</strong> about you under the numbers and reference"),
        ("es", "<strong>No tratamos ningún dato</strong> sobre usted con los números y la"),
        ("fr", "Nous ne détenons <strong>aucune donnée</strong> vous concernant sous les numéros"),
    ],
)
def test_a_subject_of_whom_nothing_is_held_is_told_so(cast, language, sentence):
    ingest(cast.acme, "someone-else", number="+33699999999")
    request = answer(cast, receive(cast, language=language, customer_numbers=["+33611111111"]))
    text = letter(cast, request)
    assert sentence in text


def test_a_refusal_gives_its_reason_and_the_spanish_authority(cast):
    request = receive(
        cast, tenant=cast.globex, actor=cast.erin, language="es", customer_numbers=["612345678"]
    )
    request = subject_request_close(
        actor=cast.erin,
        request=request,
        status="refused",
        refusal_reason="No hemos podido verificar su identidad.",
    )
    text = letter(cast, request, user=cast.erin)
    assert "denegada" in text and "La hemos denegado, por el siguiente motivo:" in text
    assert "No hemos podido verificar su identidad." in text
    assert "Agencia Española de Protección de Datos (AEPD)" in text
    assert "C/ Jorge Juan, 6" in text and "https://sedeagpd.gob.es" in text
    assert "zona horaria Europe/Madrid" in text
    assert "Se refiere al número de teléfono +34612345678." in text


def test_an_extension_and_a_late_answer_are_said(cast):
    request = receive(cast, received_at=timezone.now() - timedelta(days=20))
    request = subject_request_extend(
        actor=cast.alice,
        request=request,
        months=1,
        reason="Your calls span ten years of archives.",
        told_on=cast.acme.today(),
    )
    request = answer(cast, request)
    text = letter(cast, request)
    assert "We extended this time limit by 1 month, to " in text
    assert "Your calls span ten years of archives." in text
    assert "we apologise for the delay" not in text


@pytest.mark.parametrize(
    ("country", "authority"),
    [("FR", "CNIL"), ("ES", "AEPD"), ("GB", "ICO"), ("DE", "EDPB"), ("", "EDPB")],
)
def test_the_supervisory_authority_is_the_tenants_countrys(country, authority):
    assert supervisory_authority_for(country).short_name == authority


def test_a_tenant_elsewhere_is_pointed_to_the_list_of_authorities(cast):
    berlin = TenantFactory(name="Berlin GmbH", slug="berlin", country_code="DE")
    officer = UserFactory(username="olaf", is_superuser=True)
    request = receive(
        cast, tenant=berlin, actor=officer, customer_numbers=["+49 30 1234567"], language="fr"
    )
    request = answer(cast, request, actor=officer)
    text = letter(cast, request, user=officer)
    assert "le Comité européen de la protection des données en publie la liste" in text
    assert "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en" in text


def test_an_open_request_has_no_letter_yet_and_nothing_is_recorded(cast):
    request = receive(cast)
    with pytest.raises(Refused) as refused:
        letter(cast, request)
    assert (refused.value.field, refused.value.status) == ("status", 409)
    request = answer(cast, request)
    with pytest.raises(Refused) as refused:
        letter(cast, request, language="de")
    assert refused.value.field == "language"
    assert not AuditEvent.objects.filter(action="subject_request.letter_viewed").exists()
    letter(cast, request, language="fr")  # another language than the request's, on demand
    assert AuditEvent.objects.get(action="subject_request.letter_viewed").extra["language"] == "fr"


def test_the_admin_mounts_the_letter_of_a_closed_request_and_refuses_an_open_one(cast, login):
    from django.urls import reverse

    from compliance.services.subject_requests import (
        subject_request_close,
        subject_request_verify_identity,
    )

    from ..factories import subject_request_for

    request = subject_request_for(tenant=cast.acme)
    url = reverse("admin:compliance_subjectrequest_letter", args=[request.pk])
    client = login(cast.alice)
    refused = client.get(url)
    assert refused.status_code == 302  # back to the request, with the reason as a message
    request = subject_request_verify_identity(actor=cast.alice, request=request, method="call_back")
    subject_request_close(actor=cast.alice, request=request, status="completed", outcome="Sent")
    page = client.get(url)
    assert page.status_code == 200
    spanish = client.get(url, {"language": "es"})
    assert spanish.status_code == 200 and 'lang="es"' in spanish.content.decode()
    change = client.get(reverse("admin:compliance_subjectrequest_change", args=[request.pk]))
    assert url in change.content.decode()
    # Another tenant's compliance officer: as for an unknown request.
    assert login(cast.erin).get(url).status_code == 404


@pytest.mark.parametrize(
    ("language", "purpose"),
    [
        ("en", "for: Quality monitoring."),
        ("es", "con la siguiente finalidad: Control de calidad."),
        ("fr", "pour la finalité suivante : Contrôle qualité."),
    ],
)
def test_an_objection_letter_names_the_purpose_in_the_letters_language(cast, language, purpose):
    request = receive(cast, kind="objection", objection_purpose="quality", language=language)
    text = letter(cast, answer(cast, request))
    assert purpose in text
    if language != "en":
        assert "Quality monitoring" not in text
