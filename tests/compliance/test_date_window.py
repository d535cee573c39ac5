"""Dates a person or a client gives must be dates the product can live with: not before
2000-01-01, not more than a day ahead (compliance.date_window). Outside the window: a 400 naming
the field, or a form error, and nothing written; never a row that breaks the pages showing it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent, LegalHold, Purpose, RetentionPolicy
from compliance.services.api_keys import api_key_create
from compliance.services.legal_holds import legal_hold_place
from kit.refusals import Refused

pytestmark = pytest.mark.django_db

CONSENTS = "/api/v1/consents"
YEAR_ONE = "0001-01-01T00:00:00+14:00"  # 1 BC in UTC


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme IVR")[1]


def _decide(token: str, decided_at: str):
    return Client().post(
        CONSENTS,
        json.dumps(
            {
                "customer_number": "06 44 44 44 44",
                "purpose": "telemarketing",
                "decision": "granted",
                "decided_at": decided_at,
                "channel": "ivr",
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.parametrize(
    "decided_at",
    [
        YEAR_ONE,
        "0001-01-01T00:00:00-14:00",
        "1999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+14:00",
    ],
)
def test_a_decision_outside_the_window_is_a_400_and_the_pages_keep_working(
    cast, login, acme_token, decided_at
):
    response = _decide(acme_token, decided_at)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "decided_at"
    assert "2000-01-01" in response.json()["error"]
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.filter(action="consent.recorded").exists()
    assert AuditEvent.objects.get(action="consent.refused").extra["field"] == "decided_at"
    # What the finding broke for good: Acme's consent list.
    assert login(cast.alice).get(reverse("admin:compliance_consent_changelist")).status_code == 200


def test_the_first_day_of_the_window_is_accepted(cast, acme_token):
    response = _decide(acme_token, "2000-01-01T00:00:00+00:00")
    assert response.status_code == 201, response.content


def test_a_decision_a_year_ahead_is_refused_by_the_service_too(cast):
    from compliance.services.consents import consent_record

    with pytest.raises(Refused) as refused:
        consent_record(
            recorded_by="test",
            tenant=cast.acme,
            customer_number="+33644444444",
            purpose_code="telemarketing",
            decision="granted",
            decided_at=timezone.now() + timedelta(days=365),
            channel="ivr",
        )
    assert refused.value.field == "decided_at"
    assert not Consent.objects.exists()


def test_a_decision_in_1999_is_a_form_error_in_the_admin(cast, login):
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_consent_add"),
        {
            "tenant": cast.acme.pk,
            "customer_number": "06 12 34 56 78",
            "purpose": Purpose.objects.get(code="telemarketing").pk,
            "decision": "refused",
            "decided_at_0": "1999-12-31",
            "decided_at_1": "12:00:00",
            "channel": "agent",
        },
    )
    assert response.status_code == 200
    assert "decided_at" in response.context["adminform"].form.errors
    assert not Consent.objects.exists()


@pytest.mark.parametrize("year", ["0001", "0002"])
def test_a_decision_in_year_one_is_a_form_error_in_the_admin(cast, login, year):
    response = login(cast.alice).post(
        reverse("admin:compliance_consent_add"),
        {
            "tenant": cast.acme.pk,
            "customer_number": "06 12 34 56 78",
            "purpose": Purpose.objects.get(code="telemarketing").pk,
            "decision": "refused",
            "decided_at_0": f"{year}-01-01",
            "decided_at_1": "00:00:00",
            "channel": "agent",
        },
    )
    assert response.status_code == 200
    assert "decided_at" in response.context["adminform"].form.errors
    assert not Consent.objects.exists()


# --- legal holds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("started_from", datetime(1999, 12, 31, tzinfo=UTC)),
        ("started_until", datetime(1, 1, 2, tzinfo=UTC)),
        ("started_until", timezone.now() + timedelta(days=30)),
    ],
)
def test_a_hold_range_outside_the_window_is_refused(cast, field, value):
    with pytest.raises(Refused) as refused:
        legal_hold_place(
            actor=cast.alice,
            tenant=cast.acme,
            reference="RG 1",
            reason="Litigation",
            **{field: value},
        )
    assert refused.value.field == field
    assert not LegalHold.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="legal_hold.").exists()


def test_a_hold_range_in_year_one_is_a_form_error_in_the_admin(cast, login):
    response = login(cast.alice).post(
        reverse("admin:compliance_legalhold_add"),
        {
            "tenant": cast.acme.pk,
            "reference": "RG 24/01234",
            "reason": "Customer litigation",
            "started_from_0": "0001-01-01",
            "started_from_1": "00:00:00",
            "campaign": "",
        },
    )
    assert response.status_code == 200
    assert "started_from" in response.context["adminform"].form.errors
    assert not LegalHold.objects.exists()


# --- retention policies ------------------------------------------------------------------------


@pytest.mark.parametrize("effective_from", ["0001-01-01", "1999-12-31", "9999-12-31"])
def test_a_policy_effective_outside_the_window_is_a_form_error(cast, login, effective_from):
    quality = Purpose.objects.get(code="quality", tenant=None)
    response = login(cast.alice).post(
        reverse("admin:compliance_retentionpolicy_add"),
        {
            "tenant": cast.acme.pk,
            "purpose": quality.pk,
            "name": "Acme quality",
            "retention_months": 3,
            "action_at_expiry": "delete",
            "legal_reference": "CNIL",
            "effective_from": effective_from,
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "effective_from" in response.context["adminform"].form.errors
    assert not RetentionPolicy.objects.filter(tenant=cast.acme).exists()


def test_a_policy_effective_today_is_accepted(cast, login):
    quality = Purpose.objects.get(code="quality", tenant=None)
    response = login(cast.alice).post(
        reverse("admin:compliance_retentionpolicy_add"),
        {
            "tenant": cast.acme.pk,
            "purpose": quality.pk,
            "name": "Acme quality",
            "retention_months": 3,
            "action_at_expiry": "delete",
            "legal_reference": "CNIL",
            "effective_from": date.today().isoformat(),
            "active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
