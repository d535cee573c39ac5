"""A purpose whose legal basis is consent requires the caller's consent before the call is
recorded (GDPR Art. 6(1)(a)): otherwise ingestion would record it without asking anyone."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import LegalBasis, Purpose

from ..factories import PurposeFactory

pytestmark = pytest.mark.django_db

CONSTRAINT = "purpose_consent_basis_requires_consent"


def _purpose_form(cast, **overrides) -> dict:
    data = {
        "tenant": cast.acme.pk,
        "code": "acme-offers",
        "name": "Acme offers",
        "legal_basis": LegalBasis.CONSENT,
        "default_retention_months": 6,
        "active": "on",
    }
    data.update(overrides)
    return data


def test_admin_form_refuses_a_consent_purpose_that_does_not_require_consent(cast, login):
    client = login(cast.alice)
    response = client.post(reverse("admin:compliance_purpose_add"), _purpose_form(cast))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == ["requires_consent"]
    assert "must require the caller's consent" in form.errors["requires_consent"][0]
    assert not Purpose.objects.filter(code="acme-offers").exists()
    assert not AuditEvent.objects.filter(action="purpose.created").exists()

    response = client.post(
        reverse("admin:compliance_purpose_add"), _purpose_form(cast, requires_consent="on")
    )
    assert response.status_code == 302
    assert Purpose.objects.get(code="acme-offers").requires_consent


def test_admin_form_refuses_changing_a_purposes_basis_to_consent_without_requiring_it(cast, login):
    purpose = PurposeFactory(tenant=cast.acme, code="acme-coaching", name="Acme coaching")
    url = reverse("admin:compliance_purpose_change", args=[purpose.pk])
    response = login(cast.alice).post(
        url, _purpose_form(cast, code=purpose.code, name=purpose.name)
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["requires_consent"]
    purpose.refresh_from_db()
    assert purpose.legal_basis == LegalBasis.LEGITIMATE_INTEREST


def test_model_validation_names_the_field(cast):
    purpose = PurposeFactory.build(tenant=cast.acme, legal_basis=LegalBasis.CONSENT)
    with pytest.raises(ValidationError) as invalid:
        purpose.full_clean()
    assert list(invalid.value.message_dict) == ["requires_consent"]


def test_the_database_refuses_it_whatever_the_path(cast):
    with pytest.raises(IntegrityError, match=CONSTRAINT), transaction.atomic():
        Purpose.objects.create(
            tenant=cast.acme,
            code="acme-offers",
            name="Acme offers",
            legal_basis=LegalBasis.CONSENT,
            requires_consent=False,
            default_retention_months=6,
        )
    with pytest.raises(IntegrityError, match=CONSTRAINT), transaction.atomic():
        Purpose.objects.filter(code="telemarketing").update(requires_consent=False)
    # Other bases may or may not require it (insurance telesales: a legal obligation that
    # records the caller's agreement; quality monitoring: legitimate interest, no consent).
    shipped = dict(Purpose.objects.filter(tenant=None).values_list("code", "requires_consent"))
    assert shipped["insurance_telesales"] and not shipped["quality"]


def test_the_migration_makes_a_stored_consent_purpose_require_it_before_the_constraint(cast):
    """A tenant's purpose stored before the constraint: it is made to require consent, with
    a line in its history, and the constraint can then be added."""
    constraint = next(c for c in Purpose._meta.constraints if c.name == CONSTRAINT)
    with connection.schema_editor() as editor:
        editor.remove_constraint(Purpose, constraint)
    stored = PurposeFactory(tenant=cast.acme, legal_basis=LegalBasis.CONSENT)
    untouched = PurposeFactory(tenant=cast.acme)
    assert not stored.requires_consent

    migration = importlib.import_module("compliance.migrations.0010_purpose_consent_basis")
    migration.require_consent_where_it_is_the_basis(django_apps, None)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # rows inserted in this transaction
    with connection.schema_editor() as editor:
        editor.add_constraint(Purpose, constraint)

    stored.refresh_from_db()
    untouched.refresh_from_db()
    assert stored.requires_consent and not untouched.requires_consent
    latest = stored.history.latest()
    assert (latest.history_type, latest.requires_consent) == ("~", True)
    assert latest.history_change_reason == migration.CHANGE_REASON
