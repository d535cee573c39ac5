"""Consent receipts: printable page and JSON, for any decision, with the caller's full history for
the purpose; only for people who may view consents, in their own tenants, and always audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent
from compliance.services.consents import consent_record

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def _record(tenant, *, decision: str, hours_ago: float, number: str = "+33644444444", **evidence):
    return consent_record(
        recorded_by=evidence.pop("recorded_by", "api_key:0a1b2c3d"),
        tenant=tenant,
        customer_number=number,
        purpose_code=evidence.pop("purpose_code", "telemarketing"),
        decision=decision,
        decided_at=timezone.now() - timedelta(hours=hours_ago),
        channel=evidence.pop("channel", "ivr"),
        **evidence,
    )


@pytest.fixture
def history(cast) -> dict[str, Consent]:
    """A caller of Acme who granted, then withdrew; a refusal arrived late, back-dated."""
    granted = _record(
        cast.acme,
        decision="granted",
        hours_ago=48,
        ivr_prompt_id="consent-fr-1",
        ivr_prompt_version="3",
        call_id="ivr-call-77",
        operator="OP-12",
        subject_reference="customer 4711",
    )
    withdrawn = _record(
        cast.acme, decision="withdrawn", hours_ago=2, channel="web_form", recorded_by="alice"
    )
    late_refusal = _record(cast.acme, decision="refused", hours_ago=72, channel="agent")
    # Noise: another caller, another purpose, another tenant.
    _record(cast.acme, decision="granted", hours_ago=1, number="+33655555555")
    _record(cast.acme, decision="refused", hours_ago=1, purpose_code="insurance_telesales")
    _record(cast.globex, decision="granted", hours_ago=1)
    return {"granted": granted, "withdrawn": withdrawn, "late_refusal": late_refusal}


def _json_url(consent: Consent) -> str:
    return f"/compliance/consents/{consent.pk}/receipt.json"


def _html_url(consent: Consent) -> str:
    return f"/compliance/consents/{consent.pk}/receipt/"


def _local(instant) -> str:
    return instant.astimezone(PARIS).isoformat()


# --- content ----------------------------------------------------------------------------------


def test_json_receipt_shows_the_decision_its_evidence_and_the_history(cast, login, history):
    granted, withdrawn, late = history["granted"], history["withdrawn"], history["late_refusal"]
    response = login(cast.alice).get(_json_url(granted))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["id"] == granted.pk
    assert body["data_controller"] == {"name": "Acme Insurance", "country_code": "FR"}
    assert body["customer_number"] == "+33644444444"
    assert body["subject_reference"] == "customer 4711"
    assert body["purpose"] == {
        "code": "telemarketing",
        "name": "Telemarketing",
        "legal_basis": "consent",
        "legal_basis_label": "Consent (Art. 6(1)(a))",
    }
    assert (body["decision"], body["channel"]) == ("granted", "ivr")
    assert body["decided_at"] == _local(granted.decided_at)
    assert body["evidence"] == {
        "ivr_prompt_id": "consent-fr-1",
        "ivr_prompt_version": "3",
        "call_id": "ivr-call-77",
        "operator": "OP-12",
    }
    assert body["recorded_by"] == "api_key:0a1b2c3d"
    assert body["recorded_at"] == _local(Consent.objects.get(pk=granted.pk).recorded_at)
    assert body["in_force"] is False
    assert body["decision_in_force"]["id"] == withdrawn.pk
    assert body["decision_in_force"]["decision"] == "withdrawn"
    assert [(d["id"], d["decision"], d["in_force"]) for d in body["history"]] == [
        (withdrawn.pk, "withdrawn", True),
        (granted.pk, "granted", False),
        (late.pk, "refused", False),
    ]
    assert body["history"][0]["recorded_by"] == "alice"


def test_the_receipt_of_the_decision_in_force_says_so(cast, login, history):
    body = login(cast.alice).get(_json_url(history["withdrawn"])).json()
    assert body["in_force"] is True
    assert body["decision_in_force"]["id"] == history["withdrawn"].pk


def test_a_receipt_exists_for_a_refusal_too(cast, login, history):
    body = login(cast.alice).get(_json_url(history["late_refusal"])).json()
    assert (body["decision"], body["channel"], body["in_force"]) == ("refused", "agent", False)
    assert len(body["history"]) == 3


def test_printable_receipt_shows_what_a_data_subject_or_regulator_needs(cast, login, history):
    granted, withdrawn = history["granted"], history["withdrawn"]
    response = login(cast.alice).get(_html_url(granted))
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == [
        "compliance/consent_receipt.html",
        "admin/base_site.html",
    ]
    page = response.content.decode()
    for text in [
        "Acme Insurance",  # the data controller
        "+33644444444",
        "customer 4711",
        "Telemarketing",
        "Consent (Art. 6(1)(a))",
        "Granted",
        "IVR key press",
        "consent-fr-1",
        "version 3",
        "ivr-call-77",
        "OP-12",
        "api_key:0a1b2c3d",
        # In the data controller's zone, named, as every page writes times.
        granted.decided_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S %Z"),
        "compliance/consent_receipt.css",  # its print styles, a file the CSP allows
        f"/compliance/consents/{granted.pk}/receipt.json",
    ]:
        assert text in page, text
    assert "@media print" in Path(finders.find("compliance/consent_receipt.css")).read_text()
    assert f"the decision in force is no. {withdrawn.pk}, withdrawn" in page
    rows = page.split('<table id="decision-history">')[1].split("</table>")[0]
    assert rows.index(f">{withdrawn.pk}</a>") < rows.index(f">{granted.pk}</a>")
    assert rows.index(f">{granted.pk}</a>") < rows.index(f">{history['late_refusal'].pk}</a>")
    in_force_row = rows.split('<tr class="in-force')[1].split("</tr>")[0]
    assert f">{withdrawn.pk}</a>" in in_force_row and "in force" in in_force_row
    assert rows.count("in force") == 1
    assert "+33655555555" not in page  # another caller's decisions are not in this history


def test_viewing_a_receipt_is_audited_as_personal_data_access(cast, login, history):
    granted = history["granted"]
    client = login(cast.alice)
    client.get(_json_url(granted), headers={"X-Request-Id": "receipt-1"})
    client.get(_html_url(granted))
    events = AuditEvent.objects.filter(action="consent.receipt_viewed").order_by("sequence")
    assert [e.extra["format"] for e in events] == ["json", "html"]
    first = events[0]
    assert (first.actor_id, first.tenant_id, first.outcome) == (
        cast.alice.pk,
        cast.acme.pk,
        "allowed",
    )
    assert (first.target_type, first.target_id) == ("compliance.consent", str(granted.pk))
    assert first.request_id == "receipt-1"
    assert "customer_number" in first.extra["fields"]
    assert sorted(first.extra["decisions"]) == sorted(c.pk for c in history.values())
    assert "644444444" not in first.target_label


# --- who may see which receipt ------------------------------------------------------------------


@pytest.mark.parametrize("url", [_json_url, _html_url])
def test_compliance_officer_of_another_tenant_gets_404(cast, login, history, url):
    response = login(cast.erin).get(url(history["granted"]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="consent.receipt_viewed").exists()
    # On Acme's trail: Erin reached for Acme's decision (the "cross-tenant probe").
    probe = AuditEvent.objects.get(action="access.cross_tenant_refused")
    assert (probe.outcome, probe.actor_id, probe.tenant_id) == (
        "denied",
        cast.erin.pk,
        cast.acme.pk,
    )
    assert (probe.target_type, probe.target_id) == (
        "compliance.consent",
        str(history["granted"].pk),
    )
    assert probe.extra["view"].startswith("consent receipt")
    assert not AuditEvent.objects.filter(action="consent.receipt_denied").exists()


def test_an_unknown_receipt_is_a_404_on_the_platforms_trail(cast, login, history):
    response = login(cast.erin).get("/compliance/consents/999999/receipt.json")
    assert response.status_code == 404
    denied = AuditEvent.objects.get(action="consent.receipt_denied")
    assert (denied.tenant_id, denied.extra["reason"]) == (None, "not_found")
    assert not AuditEvent.objects.filter(action="access.cross_tenant_refused").exists()


@pytest.mark.parametrize("url", [_json_url, _html_url])
def test_quality_analyst_without_view_consent_gets_403(cast, login, history, url):
    response = login(cast.carol).get(url(history["granted"]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="consent.receipt_viewed").exists()
    denied = AuditEvent.objects.get(action="consent.receipt_denied")
    assert (denied.actor_id, denied.tenant_id, denied.extra["reason"]) == (
        cast.carol.pk,
        cast.acme.pk,
        "permission",
    )


def test_auditor_of_the_tenant_may_read_receipts(cast, login, history):
    granted = history["granted"]
    response = login(cast.dave).get(_json_url(granted))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["decision"], body["customer_number"]) == (
        granted.pk,
        "granted",
        "+33644444444",
    )
    viewed = AuditEvent.objects.get(action="consent.receipt_viewed")
    assert (viewed.actor_id, viewed.tenant_id, viewed.target_id) == (
        cast.dave.pk,
        cast.acme.pk,
        str(granted.pk),
    )


def test_platform_operator_sees_every_tenants_receipts(cast, login, history):
    globex = Consent.objects.get(tenant=cast.globex)
    response = login(cast.root).get(_json_url(globex))
    assert response.status_code == 200
    body = response.json()
    assert body["data_controller"]["name"] == "Globex Telecom"
    assert body["decided_at"].endswith("+01:00") or body["decided_at"].endswith("+02:00")


def test_receipt_of_a_decision_that_does_not_exist_is_404(cast, login):
    assert login(cast.alice).get("/compliance/consents/999999/receipt/").status_code == 404


def test_signed_out_visitor_is_sent_to_the_sign_in_page(cast, client, history):
    response = client.get(_html_url(history["granted"]))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not AuditEvent.objects.filter(action="consent.receipt_viewed").exists()


def test_receipts_are_read_only(cast, login, history):
    response = login(cast.alice).post(_json_url(history["granted"]))
    assert response.status_code == 405


def test_a_decisions_page_links_to_its_receipt(cast, login, history):
    consent = history["granted"]
    for viewer in (cast.alice, cast.dave):
        page = login(viewer).get(f"/admin/compliance/consent/{consent.pk}/change/")
        assert page.status_code == 200
        tools = page.content.decode()
        tools = tools[tools.index('class="object-tools"') :]
        assert f'<a href="{_html_url(consent)}">Receipt</a>' in tools[: tools.index("</ul>")]
