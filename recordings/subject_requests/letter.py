"""The answer letter of a closed data-subject request: a printable page, in the requester's
language (English, Spanish or French), saying what the request was, what the tenant holds about
the subject, what was done, what was refused or kept and why, and how to complain to the
supervisory authority (GDPR Art. 12(1), (4); Art. 77).

`subject_request_letter(http_request, subject_request)` renders it; the compliance officer's admin
mounts it (scoping the request to the viewer's tenants and checking the permission is the
admin's). The letter names the subject (their numbers, name and address), so every view of it is
a `subject_request.letter_viewed` event.

What it reads:

- the request: its kind, receipt, due date and extension, closing, outcome and reason for
  refusing, objection and restriction;
- what the tenant holds about the subject today, from the finder (recordings/subject_requests/
  finder.py), counted: after an erasure, the erased recordings are no longer the subject's;
- for an erasure (or an accepted objection), `request.report`: `deleted` (each a call id and its
  deletion certificate) and `kept` (each a call id and its reasons). The report's shape is its
  writer's; it is read defensively here: a certificate as `certificate_id` or `certificate`, a
  reason as a code, a text, or a `{"code", "label", "detail"}` object; anything else is left out
  rather than failing the letter.

Dates are the tenant's (the data controller's) days and times, its zone named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.services import event_record
from compliance.models import SubjectRequest, Tenant
from compliance.register.strings import translate
from compliance.subject_request_models import CLOSED_STATUSES, RequestLanguage
from compliance.supervisory_authorities import SupervisoryAuthority, supervisory_authority_for
from kit.refusals import Refused
from kit.times import tenant_day

from .finder import subject_data_find

TEMPLATES = {
    language: f"recordings/subject_request_letter_{language}.html"
    for language in RequestLanguage.values
}
# What the letter discloses: the trail records which personal data each view showed.
DISCLOSED_FIELDS = ["customer_numbers", "subject_reference", "requester_name", "requester_contact"]

# What was asked, as the letter says it ("your request for ...").
KIND_LABELS = {
    "en": {
        "access": "access to your personal data (Art. 15 GDPR)",
        "portability": "a copy of your data in a portable format (Art. 20 GDPR)",
        "erasure": "erasure of your data (Art. 17 GDPR)",
        "rectification": "rectification of your data (Art. 16 GDPR)",
        "objection": "objection to the processing of your data (Art. 21 GDPR)",
        "restriction": "restriction of the processing of your data (Art. 18 GDPR)",
    },
    "es": {
        "access": "acceso a sus datos personales (artículo 15 del RGPD)",
        "portability": "portabilidad de sus datos (artículo 20 del RGPD)",
        "erasure": "supresión de sus datos (artículo 17 del RGPD)",
        "rectification": "rectificación de sus datos (artículo 16 del RGPD)",
        "objection": "oposición al tratamiento de sus datos (artículo 21 del RGPD)",
        "restriction": "limitación del tratamiento de sus datos (artículo 18 del RGPD)",
    },
    "fr": {
        "access": "accès à vos données personnelles (article 15 du RGPD)",
        "portability": "portabilité de vos données (article 20 du RGPD)",
        "erasure": "effacement de vos données (article 17 du RGPD)",
        "rectification": "rectification de vos données (article 16 du RGPD)",
        "objection": "opposition au traitement de vos données (article 21 du RGPD)",
        "restriction": "limitation du traitement de vos données (article 18 du RGPD)",
    },
}
# The decision, as the letter says it ("your request was ...").
STATUS_LABELS = {
    "en": {"completed": "granted in full", "partial": "granted in part", "refused": "refused"},
    "es": {
        "completed": "atendida en su totalidad",
        "partial": "atendida parcialmente",
        "refused": "denegada",
    },
    "fr": {
        "completed": "satisfaite en totalité",
        "partial": "satisfaite en partie",
        "refused": "refusée",
    },
}
# Why a recording is kept despite an erasure or an objection, by the report's reason code.
KEPT_REASONS = {
    "en": {
        "legal_hold": "under a legal hold: needed for the establishment, exercise or defence of "
        "legal claims (Art. 17(3)(e) GDPR)",
        "legal_retention": "kept to comply with a legal obligation (Art. 17(3)(b) GDPR)",
        "pending_claim": "needed for a pending legal claim (Art. 17(3)(e) GDPR)",
        "restricted": "its processing is restricted at your request (Art. 18 GDPR): kept, "
        "unused, until the restriction is lifted",
        "compelling_ground": "compelling legitimate grounds which override your interests "
        "(Art. 21(1) GDPR)",
    },
    "es": {
        "legal_hold": "sujeta a una retención por motivos legales: necesaria para la "
        "formulación, el ejercicio o la defensa de reclamaciones (artículo 17.3.e) del RGPD)",
        "legal_retention": "conservada para cumplir una obligación legal (artículo 17.3.b) del "
        "RGPD)",
        "pending_claim": "necesaria para una reclamación judicial en curso (artículo 17.3.e) del "
        "RGPD)",
        "restricted": "su tratamiento está limitado a petición suya (artículo 18 del RGPD): se "
        "conserva, sin utilizarse, hasta que se levante la limitación",
        "compelling_ground": "motivos legítimos imperiosos que prevalecen sobre sus intereses "
        "(artículo 21.1 del RGPD)",
    },
    "fr": {
        "legal_hold": "placé sous conservation pour un litige : nécessaire à la constatation, à "
        "l'exercice ou à la défense de droits en justice (article 17, paragraphe 3, point e) du "
        "RGPD)",
        "legal_retention": "conservé pour respecter une obligation légale (article 17, "
        "paragraphe 3, point b) du RGPD)",
        "pending_claim": "nécessaire à une action en justice en cours (article 17, paragraphe 3, "
        "point e) du RGPD)",
        "restricted": "son traitement est limité à votre demande (article 18 du RGPD) : il est "
        "conservé, sans être utilisé, jusqu'à la levée de la limitation",
        "compelling_ground": "motifs légitimes et impérieux qui prévalent sur vos intérêts "
        "(article 21, paragraphe 1, du RGPD)",
    },
}


@dataclass(frozen=True)
class LetterLine:
    """One recording of the erasure report, as the letter lists it."""

    call_id: str
    certificate: str = ""
    reasons: tuple[str, ...] = ()


@dataclass
class Letter:
    request: SubjectRequest
    tenant: Tenant
    language: str
    authority: SupervisoryAuthority
    counts: dict[str, int]
    written_on: date
    received_at: datetime
    answered_on: date | None
    kind_label: str
    status_label: str
    deleted: list[LetterLine] = field(default_factory=list)
    kept: list[LetterLine] = field(default_factory=list)
    consents_kept: int | None = None
    # The purpose objected to, as the letter's language names it (the shipped purposes are
    # translated as in the register; a tenant's own, as typed).
    objection_purpose_name: str = ""

    @property
    def zone(self) -> str:
        return self.tenant.time_zone

    @property
    def nothing_found(self) -> bool:
        """Nothing held about the subject today, and nothing erased or kept by this request."""
        return not any(self.counts.values()) and not self.deleted and not self.kept

    @property
    def late(self) -> bool:
        return self.answered_on is not None and self.answered_on > self.request.deadline

    @property
    def has_report(self) -> bool:
        return bool(self.deleted or self.kept or self.consents_kept is not None)


def _reason_text(reason: object, language: str) -> str:
    """A kept recording's reason in the letter's language: its code's wording (with the report's
    detail, such as a hold's reference or a law), else the text it carries."""
    labels = KEPT_REASONS[language]
    if isinstance(reason, str):
        return labels.get(reason, reason)
    if not isinstance(reason, Mapping):
        return ""
    code, detail = reason.get("code"), reason.get("detail")
    text = labels.get(code) if isinstance(code, str) else None
    if text is None:
        label = reason.get("label") or code
        text = label if isinstance(label, str) else ""
    if isinstance(detail, str) and detail.strip() and text:
        return f"{text} — {detail.strip()}"
    return text


def _lines(entries: object, language: str, *, kept: bool) -> list[LetterLine]:
    if not isinstance(entries, list):
        return []
    lines = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        call_id = entry.get("call_id") or entry.get("recording") or ""
        certificate = entry.get("certificate_id", entry.get("certificate")) or ""
        reasons = entry.get("reasons") if kept else None
        if not isinstance(reasons, list | tuple):
            reasons = ()
        texts = tuple(filter(None, (_reason_text(reason, language) for reason in reasons)))
        lines.append(LetterLine(call_id=str(call_id), certificate=str(certificate), reasons=texts))
    return lines


def letter_build(request: SubjectRequest, language: str) -> Letter:
    tenant = request.tenant
    report = request.report if isinstance(request.report, Mapping) else {}
    consents_kept = report.get("consents_kept")
    if isinstance(consents_kept, Mapping):
        consents_kept = consents_kept.get("count")
    return Letter(
        request=request,
        tenant=tenant,
        language=language,
        authority=supervisory_authority_for(tenant.country_code),
        counts=subject_data_find(request).counts(),
        written_on=tenant.today(),
        received_at=request.received_at,
        answered_on=tenant_day(request.closed_at, tenant),
        kind_label=KIND_LABELS[language][request.kind],
        status_label=STATUS_LABELS[language].get(request.status, request.get_status_display()),
        deleted=_lines(report.get("deleted"), language, kept=False),
        kept=_lines(report.get("kept"), language, kept=True),
        consents_kept=consents_kept if isinstance(consents_kept, int) else None,
        objection_purpose_name=(
            translate(language, request.objection_purpose.name) if request.objection_purpose else ""
        ),
    )


def subject_request_letter_view_record(*, user, request: SubjectRequest, language: str) -> None:
    """Someone opened the letter: it shows the subject's numbers, name and address."""
    with transaction.atomic():
        event_record(
            action="subject_request.letter_viewed",
            tenant=request.tenant_id,
            target=request,
            extra={
                "user": user.get_username() if user is not None else "",
                "language": language,
                "fields": DISCLOSED_FIELDS,
            },
        )


def subject_request_letter(
    http_request: HttpRequest, subject_request: SubjectRequest, *, language: str | None = None
) -> HttpResponse:
    """The printable answer letter of a closed request, in `language` (the request's own by
    default). Refused (naming the field) for an open request or an unknown language."""
    request = SubjectRequest.objects.select_related("tenant", "objection_purpose").get(
        pk=subject_request.pk
    )
    if request.status not in CLOSED_STATUSES:
        raise Refused(
            format_lazy(
                _(
                    "the request is {lower}: its answer letter is written once it is "
                    "completed, refused or partially fulfilled"
                ),
                lower=request.get_status_display().lower(),
            ),
            field="status",
            status=409,
        )
    language = language or request.language
    if language not in TEMPLATES:
        raise Refused(
            format_lazy(
                _("language must be one of {value}"), value=", ".join(RequestLanguage.values)
            ),
            field="language",
        )
    letter = letter_build(request, language)
    subject_request_letter_view_record(user=http_request.user, request=request, language=language)
    context = {
        **admin.site.each_context(http_request),
        "title": format_lazy(_("Answer letter, {request}"), request=request),
        "letter": letter,
    }
    return render(http_request, TEMPLATES[language], context)
