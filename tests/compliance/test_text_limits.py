"""Free text a person types has a documented ceiling (kit.limits, README "Limits on free
text"): past it, a form error or a refusal naming the field, and nothing written — not a row,
not an event on the append-only trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import LegalHold, Purpose, RetentionPolicy
from compliance.services.legal_holds import legal_hold_place, legal_hold_release
from kit import limits
from kit.refusals import Refused
from recordings.models import AccessGrant
from recordings.services.access import access_grant_request

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

HUGE = "x" * 2_000_000


def _trail_length() -> int:
    return AuditEvent.objects.count()


def test_a_two_million_character_hold_reason_is_refused_and_nothing_written(cast, login):
    client = login(cast.alice)
    before = _trail_length()
    response = client.post(
        reverse("admin:compliance_legalhold_add"),
        {"tenant": cast.acme.pk, "reference": "RG 1", "reason": HUGE, "campaign": "spring"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert str(limits.LEGAL_HOLD_REASON) in errors["reason"][0]
    assert not LegalHold.objects.exists()
    assert _trail_length() == before


def test_the_service_refuses_a_hold_reason_past_the_limit(cast):
    before = _trail_length()
    with pytest.raises(Refused) as refused:
        legal_hold_place(
            actor=cast.alice,
            tenant=cast.acme,
            reference="RG 1",
            reason="x" * (limits.LEGAL_HOLD_REASON + 1),
            campaign="spring",
        )
    assert refused.value.field == "reason"
    assert not LegalHold.objects.exists()
    assert _trail_length() == before
    # At the limit exactly, it is a reason like any other.
    hold = legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="RG 1",
        reason="x" * limits.LEGAL_HOLD_REASON,
        campaign="spring",
    )
    assert len(hold.reason) == limits.LEGAL_HOLD_REASON


@pytest.mark.parametrize("field", ["reference", "campaign"])
def test_the_service_refuses_other_hold_text_longer_than_its_column(cast, field):
    values = {"reference": "RG 1", "campaign": "spring", field: "y" * 1000}
    with pytest.raises(Refused) as refused:
        legal_hold_place(actor=cast.alice, tenant=cast.acme, reason="Litigation", **values)
    assert refused.value.field == field
    assert not LegalHold.objects.exists()


def test_a_release_reason_past_the_limit_is_a_form_error_and_the_hold_stays(cast, login):
    hold = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="RG 1", reason="Litigation", campaign="c"
    )
    client = login(cast.alice)
    before = _trail_length()
    response = client.post(
        reverse("admin:compliance_legalhold_release", args=[hold.pk]), {"release_reason": HUGE}
    )
    assert response.status_code == 200
    assert "release_reason" in response.context["form"].errors
    hold.refresh_from_db()
    assert hold.released_at is None
    assert _trail_length() == before
    with pytest.raises(Refused) as refused:
        legal_hold_release(actor=cast.alice, hold=hold, release_reason=HUGE)
    assert refused.value.field == "release_reason"


def test_a_justification_past_the_limit_is_refused_and_nothing_is_written(cast):
    recording = ingest(cast.acme)
    before = _trail_length()
    with pytest.raises(Refused) as refused:
        access_grant_request(
            user=cast.carol, recording=recording, purpose="quality", justification=HUGE
        )
    assert refused.value.field == "justification"
    assert not AccessGrant.objects.exists()
    assert _trail_length() == before  # a slip to correct, not a denial: the trail keeps none


def test_a_justification_past_the_limit_is_a_form_error(cast, login):
    recording = ingest(cast.acme)
    response = login(cast.carol).post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "quality", "justification": HUGE},
    )
    assert response.status_code == 200
    assert str(limits.ACCESS_JUSTIFICATION) in response.context["form"].errors["justification"][0]
    assert not AccessGrant.objects.exists()


def test_a_purpose_description_past_the_limit_is_a_form_error(cast, login):
    response = login(cast.alice).post(
        reverse("admin:compliance_purpose_add"),
        {
            "tenant": cast.acme.pk,
            "code": "complaints",
            "name": "Complaints",
            "description": HUGE,
            "legal_basis": "legitimate_interest",
            "default_retention_months": 6,
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "description" in response.context["adminform"].form.errors
    assert not Purpose.objects.filter(code="complaints").exists()


def test_a_policys_legal_reference_past_the_limit_is_a_form_error(cast, login):
    quality = Purpose.objects.get(code="quality", tenant=None)
    response = login(cast.alice).post(
        reverse("admin:compliance_retentionpolicy_add"),
        {
            "tenant": cast.acme.pk,
            "purpose": quality.pk,
            "name": "Acme quality",
            "retention_months": 3,
            "action_at_expiry": "delete",
            "legal_reference": HUGE,
            "effective_from": "2026-01-01",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "legal_reference" in response.context["adminform"].form.errors
    assert not RetentionPolicy.objects.filter(tenant=cast.acme).exists()


def test_every_free_text_column_of_our_models_has_a_ceiling():
    """A TextField added later without a limit fails here: each is listed in kit.limits."""
    from django.apps import apps
    from django.db import models

    unbounded = [
        f"{model._meta.label}.{field.name}"
        for app in ("compliance", "recordings")
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.TextField) and field.max_length is None
    ]
    assert unbounded == []
