"""The risk analysis (GDPR Art. 32, 35(7)) and the DPIA summaries (Art. 35): the shipped risks
adopted and adapted, the CNIL scale enforced, what is overdue flagged, measures pointing at live
evidence in Custodia, the DPIA versioned and printable."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import Dpia, Measure, Risk
from compliance.risk_defaults import DEFAULT_RISKS
from compliance.risk_models import RiskLevel, risk_level
from compliance.services.risks import risk_defaults_adopt, risk_flags
from recordings.services.purge.run import purge_expired_recordings

from ..factories import dpia_for, risk_for

pytestmark = pytest.mark.django_db

ADD = "/admin/compliance/risk/add/"
INLINE = {"measures-TOTAL_FORMS": "0", "measures-INITIAL_FORMS": "0"}


def risk_form(tenant, **overrides) -> dict:
    data = {
        "tenant": tenant.pk,
        "threat": "Recordings sent by e-mail",
        "description": "An agent mails a call to a colleague.",
        "likelihood": "2",
        "severity": "3",
        "residual_likelihood": "",
        "residual_severity": "",
        "owner": "DPO",
        "review_on": (tenant.today() + timedelta(days=365)).isoformat(),
        **INLINE,
    }
    data.update(overrides)
    return data


def test_a_likelihood_of_7_is_a_form_error(cast, login):
    response = login(cast.alice).post(ADD, risk_form(cast.acme, likelihood="7"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "7 is not one of the available choices" in errors["likelihood"][0]
    assert not Risk.objects.filter(threat="Recordings sent by e-mail").exists()


def test_a_residual_risk_is_assessed_on_both_axes(cast, login):
    response = login(cast.alice).post(ADD, risk_form(cast.acme, residual_likelihood="1"))
    errors = response.context["adminform"].form.errors
    assert errors["residual_severity"] == ["Assess the residual risk on both axes, or on neither."]


def test_a_risk_and_its_measures_are_saved_through_the_services(cast, login):
    data = risk_form(
        cast.acme,
        residual_likelihood="1",
        residual_severity="2",
        **{
            "measures-TOTAL_FORMS": "2",
            "measures-0-action": "Outgoing mail filtered for audio attachments",
            "measures-0-done_by": "IT security manager",
            "measures-0-status": "in_place",
            "measures-0-evidence_link": "",
            "measures-1-action": "Agents trained",
            "measures-1-done_by": "Operations",
            "measures-1-status": "planned",
            "measures-1-due_on": "",
            "measures-1-evidence_link": "",
        },
    )
    client = login(cast.alice)
    response = client.post(ADD, data)
    # A planned measure without its due date is refused on its line, and nothing is saved.
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[1].errors["due_on"] == ["A planned measure needs its due date."]
    assert not Risk.objects.exists()
    data["measures-1-due_on"] = (cast.acme.today() + timedelta(days=60)).isoformat()
    assert client.post(ADD, data).status_code == 302
    risk = Risk.objects.get(threat="Recordings sent by e-mail")
    assert risk.level == RiskLevel.HIGH and risk.residual_level == RiskLevel.LOW
    assert risk.measures.count() == 2
    actions = AuditEvent.objects.filter(target_type="compliance.risk", target_id=str(risk.pk))
    assert sorted(actions.values_list("action", flat=True)) == [
        "risk.created",
        "risk.measure_saved",
        "risk.measure_saved",
    ]


@pytest.mark.parametrize(
    ("likelihood", "severity", "level"),
    [(1, 1, "low"), (1, 2, "low"), (1, 4, "moderate"), (2, 2, "moderate"), (2, 3, "high"),
     (2, 4, "high"), (3, 3, "critical"), (4, 4, "critical"), (None, 3, None)],
)  # fmt: skip
def test_the_level_of_a_risk_on_the_cnil_scale(likelihood, severity, level):
    assert risk_level(likelihood, severity) == level


def test_a_tenant_adopts_the_shipped_risks_once_and_adapts_them(cast, login):
    client = login(cast.alice)
    adopt = reverse("admin:compliance_risk_adopt", args=[cast.acme.pk])
    page = client.get(adopt)
    assert page.status_code == 200 and b"Unauthorised listening" in page.content
    assert client.post(adopt).status_code == 302
    risks = Risk.objects.filter(tenant=cast.acme)
    assert risks.count() == len(DEFAULT_RISKS) >= 8
    assert all(risk.measures.exists() for risk in risks)
    assert not Risk.objects.filter(tenant=cast.globex).exists()
    # Adapted, then adopted again: nothing is duplicated or overwritten.
    listening = risks.get(default_code="unauthorised_listening")
    listening.likelihood = 1
    listening.save()
    assert risk_defaults_adopt(actor=cast.alice, tenant=cast.acme) == []
    assert risks.count() == len(DEFAULT_RISKS)
    assert risks.get(default_code="unauthorised_listening").likelihood == 1
    assert AuditEvent.objects.filter(action="risk.defaults_adopted").count() == 2
    # A supervisor reads the analysis but adopts nothing.
    assert login(cast.bob).post(adopt).status_code == 403


def test_the_analysis_in_one_click_with_live_evidence(cast, login):
    risk_defaults_adopt(actor=cast.alice, tenant=cast.acme)
    purge_expired_recordings()
    client = login(cast.alice)
    analysis = reverse("admin:compliance_risk_analysis", args=[cast.acme.pk])
    assert analysis.encode() in client.get("/admin/").content
    page = client.get(analysis)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Unauthorised listening to recordings" in body
    # Live evidence: the policies in force, the holds, the last purge run, linked.
    assert reverse("admin:compliance_retentionpolicy_changelist") in body
    assert "0 legal hold(s) in force" in body
    assert "Last purge run finished" in body
    assert "The audit chain has not been verified yet" in body
    event = AuditEvent.objects.get(action="risk_analysis.exported")
    assert event.extra == {"format": "html", "risks": len(DEFAULT_RISKS)}
    response = client.get(reverse("admin:compliance_risk_analysis_csv", args=[cast.acme.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    measures = sum(len(risk.measures) for risk in DEFAULT_RISKS)
    assert len(rows) == measures
    assert {row["threat"] for row in rows} == {risk.threat for risk in DEFAULT_RISKS}
    assert (
        client.get(reverse("admin:compliance_risk_analysis", args=[cast.globex.pk])).status_code
        == 404
    )


def test_a_passed_review_and_an_overdue_planned_measure_are_flagged(cast, login):
    today = cast.acme.today()
    late = risk_for(tenant=cast.acme, threat="Late review", review_on=today - timedelta(days=1))
    on_time = risk_for(tenant=cast.acme, threat="On time", review_on=today + timedelta(days=9))
    Measure.objects.create(
        risk=on_time, action="Encrypt", done_by="IT", status="planned", due_on=today
    )
    assert risk_flags(late, today) == [f"Review date passed ({late.review_on})"]
    assert risk_flags(on_time, today) == []
    # The day after its due date, a measure still planned is overdue.
    tomorrow = today + timedelta(days=1)
    assert risk_flags(on_time, tomorrow) == ["1 planned measure(s) past their due date"]
    Measure.objects.filter(risk=on_time).update(status="in_place")
    assert risk_flags(on_time, tomorrow) == []
    page = login(cast.alice).get("/admin/")
    assert [risk.threat for risk, _ in page.context["flagged_risks"]] == ["Late review"]


def test_month_end_reviews(cast):
    risk = Risk(review_on=date(2026, 2, 28), likelihood=1, severity=1)
    assert not risk.review_overdue(date(2026, 2, 28))
    assert risk.review_overdue(date(2026, 3, 1))
    leap = Risk(review_on=date(2028, 2, 29), likelihood=1, severity=1)
    assert not leap.review_overdue(date(2028, 2, 29))
    assert leap.review_overdue(date(2028, 3, 1))


# --- DPIA -------------------------------------------------------------------------------------


def test_a_dpia_is_versioned_and_its_summary_printable(cast, login):
    from compliance.models import Purpose

    quality = Purpose.objects.get(tenant=None, code="quality")
    client = login(cast.alice)
    data = {
        "tenant": cast.acme.pk,
        "purpose": quality.pk,
        "necessity": "Quality sampling of 2% of calls.",
        "proportionality": "",
        "dpo_name": "Marie Curie",
        "dpo_opinion": "Favourable.",
        "dpo_opinion_on": "",
    }
    response = client.post("/admin/compliance/dpia/add/", data)
    assert response.context["adminform"].form.errors["dpo_opinion_on"] == [
        "Give the date of the DPO's opinion."
    ]
    data["dpo_opinion_on"] = cast.acme.today().isoformat()
    assert client.post("/admin/compliance/dpia/add/", data).status_code == 302
    dpia = Dpia.objects.get(tenant=cast.acme)
    change = reverse("admin:compliance_dpia_change", args=[dpia.pk])
    del data["tenant"]
    data["proportionality"] = "Agents may object to a sampled call."
    assert client.post(change, data).status_code == 302
    assert dpia.history.count() == 2
    assert dpia.history.latest().history_user == cast.alice
    risk_for(tenant=cast.acme, threat="Unauthorised listening")
    summary = client.get(reverse("admin:compliance_dpia_summary", args=[dpia.pk]))
    body = summary.content.decode()
    assert "Legitimate interest (Art. 6(1)(f))" in body
    assert "6 months, then deleted" in body and "CNIL" in body
    assert "masked in every list" in body
    assert "Unauthorised listening" in body
    assert "Favourable." in body and "Marie Curie" in body
    assert summary.context["version"] == 2
    events = AuditEvent.objects.filter(target_id=str(dpia.pk), target_type="compliance.dpia")
    assert list(events.order_by("sequence").values_list("action", flat=True)) == [
        "dpia.created",
        "dpia.changed",
        "dpia.summary_viewed",
    ]
    assert events.get(action="dpia.changed").extra["changed"] == ["proportionality"]
    # One DPIA per purpose.
    again = client.post("/admin/compliance/dpia/add/", {**data, "tenant": cast.acme.pk})
    assert "purpose" in again.context["adminform"].form.errors
    # The auditor reads it; Globex's officer gets Acme's as an unknown one.
    assert (
        login(cast.dave).get(reverse("admin:compliance_dpia_summary", args=[dpia.pk])).status_code
        == 200
    )
    erin = login(cast.erin).get(reverse("admin:compliance_dpia_summary", args=[dpia.pk]))
    assert erin.status_code == 404


def test_a_dpia_names_a_purpose_of_its_own_tenant(cast):
    from compliance.services.dpia import dpia_check
    from kit.refusals import Refused

    theirs = dpia_for(tenant=cast.globex)
    with pytest.raises(Refused) as refused:
        dpia_check(dpia=Dpia(tenant=cast.acme, purpose=theirs.purpose, necessity="x"))
    assert refused.value.field == "purpose"
