"""Consent receipts: what a caller decided about one purpose, with its evidence and the full
history of that caller's decisions for the purpose — as a printable page for the data subject or
a regulator, and as JSON (GDPR Art. 7(1): the controller must be able to demonstrate consent).

Both are admin views (signed-in staff only, never cached) and need `compliance.view_consent`. A
decision outside the viewer's tenants is a 404, never a 403 that would reveal it exists. A
receipt shows the caller's full number, so every view of one is personal-data access on the
trail (docs/architecture.md, invariant 4), and so is every refused attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from audit.models import Outcome
from audit.services import event_record, home_tenant_id

from .api import tenant_time
from .models import Consent
from .roles import tenants_permitting
from .services.consents import consent_target
from .tenancy import cross_tenant_refusal_record

PERMISSION = "compliance.view_consent"
# What a receipt discloses beyond ids and codes: the personal data the trail must account for.
DISCLOSED_FIELDS = ["customer_number", "subject_reference", "call_id", "operator"]


@dataclass(frozen=True)
class Receipt:
    consent: Consent
    history: list[Consent]  # latest first; the first is the decision in force

    @property
    def in_force(self) -> Consent:
        return self.history[0]

    @property
    def is_in_force(self) -> bool:
        return self.in_force.pk == self.consent.pk


def consent_receipt_refusal_record(*, user, consent_id: object, reason: str) -> None:
    """A receipt was asked for without the permission, or for a decision that does not exist (then
    no tenant is named). Another tenant's decision is a cross-tenant refusal on that tenant's
    trail instead (compliance/tenancy.py::cross_tenant_refusal_record)."""
    with transaction.atomic():
        event_record(
            action="consent.receipt_denied",
            tenant=home_tenant_id(user) if reason == "permission" else None,
            outcome=Outcome.DENIED,
            extra={"reason": reason, "user": user.get_username()},
            **consent_target(consent_id),
        )


@transaction.atomic
def consent_receipt_view_record(*, user, receipt: Receipt, output: str) -> None:
    consent = receipt.consent
    event_record(
        action="consent.receipt_viewed",
        tenant=consent.tenant_id,
        extra={
            "user": user.get_username(),
            "format": output,
            "fields": DISCLOSED_FIELDS,
            "decisions": [decision.pk for decision in receipt.history],
        },
        **consent_target(consent.pk),
    )


def _receipt(request: HttpRequest, consent_id: int, view: str) -> Receipt:
    if not request.user.has_perm(PERMISSION):
        consent_receipt_refusal_record(
            user=request.user, consent_id=consent_id, reason="permission"
        )
        raise PermissionDenied("You may not view consent records.")
    consents = Consent.objects.all()
    if not request.user.is_superuser:
        # Of the tenants where the viewer's role carries the permission, not of every tenant
        # they belong to: the permission itself may come from their role in another tenant.
        consents = consents.filter(tenant__in=tenants_permitting(request.user, PERMISSION))
    consent = consents.select_related("tenant", "purpose").filter(pk=consent_id).first()
    if consent is None:
        # Another tenant's decision goes on that tenant's trail; an unknown id on the platform's.
        if not cross_tenant_refusal_record(request, Consent, consent_id, view=view):
            consent_receipt_refusal_record(
                user=request.user, consent_id=consent_id, reason="not_found"
            )
        raise Http404("No such consent decision.")
    history = list(
        Consent.objects.for_subject(
            tenant=consent.tenant,
            customer_number=consent.customer_number,
            purpose=consent.purpose,
        )
        .select_related("tenant", "purpose")
        .latest_first()
    )
    return Receipt(consent=consent, history=history)


def _decision_summary(consent: Consent, *, in_force: bool) -> dict[str, object]:
    return {
        "id": consent.pk,
        "decision": consent.decision,
        "decided_at": tenant_time(consent.tenant, consent.decided_at),
        "channel": consent.channel,
        "recorded_by": consent.recorded_by,
        "recorded_at": tenant_time(consent.tenant, consent.recorded_at),
        "in_force": in_force,
    }


def receipt_body(receipt: Receipt) -> dict[str, object]:
    consent, tenant, purpose = receipt.consent, receipt.consent.tenant, receipt.consent.purpose
    return {
        "id": consent.pk,
        "data_controller": {"name": tenant.name, "country_code": tenant.country_code},
        "customer_number": consent.customer_number,
        "subject_reference": consent.subject_reference,
        "purpose": {
            "code": purpose.code,
            "name": purpose.name,
            "legal_basis": purpose.legal_basis,
            "legal_basis_label": purpose.get_legal_basis_display(),
        },
        "decision": consent.decision,
        "decided_at": tenant_time(tenant, consent.decided_at),
        "channel": consent.channel,
        "evidence": {
            "ivr_prompt_id": consent.ivr_prompt_id,
            "ivr_prompt_version": consent.ivr_prompt_version,
            "call_id": consent.call_id,
            "operator": consent.operator,
        },
        "recorded_by": consent.recorded_by,
        "recorded_at": tenant_time(tenant, consent.recorded_at),
        "in_force": receipt.is_in_force,
        "decision_in_force": _decision_summary(receipt.in_force, in_force=True),
        "history": [
            _decision_summary(decision, in_force=decision.pk == receipt.in_force.pk)
            for decision in receipt.history
        ],
    }


@require_GET
def consent_receipt_json(request: HttpRequest, consent_id: int) -> HttpResponse:
    receipt = _receipt(request, consent_id, "consent receipt (JSON)")
    consent_receipt_view_record(user=request.user, receipt=receipt, output="json")
    return JsonResponse(receipt_body(receipt), json_dumps_params={"ensure_ascii": False})


@require_GET
def consent_receipt(request: HttpRequest, consent_id: int) -> HttpResponse:
    receipt = _receipt(request, consent_id, "consent receipt")
    consent_receipt_view_record(user=request.user, receipt=receipt, output="html")
    context = {
        **admin.site.each_context(request),
        "title": gettext("Consent receipt no. %(number)s") % {"number": receipt.consent.pk},
        "receipt": receipt,
        "consent": receipt.consent,
        "tenant": receipt.consent.tenant,
        "purpose": receipt.consent.purpose,
        "json_url": reverse("consent_receipt_json", args=[receipt.consent.pk]),
    }
    return render(request, "compliance/consent_receipt.html", context)
