"""The history pages django-simple-history adds to the purposes and retention policies admins
(/history/ and the form of one version, /history/<version>/): read-only for everyone, and scoped
and role-checked like the change pages (issue 11, finding 1)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.models import Purpose

from ..factories import PurposeFactory, RetentionPolicyFactory

pytestmark = pytest.mark.django_db


def _history_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[obj.pk])


def _version_url(obj) -> str:
    meta = obj._meta
    version = obj.history.latest().history_id
    return reverse(
        f"admin:{meta.app_label}_{meta.model_name}_simple_history", args=[obj.pk, version]
    )


def _purpose_form(purpose: Purpose, **changes) -> dict:
    data = {
        "tenant": purpose.tenant_id or "",
        "code": purpose.code,
        "name": purpose.name,
        "description": purpose.description,
        "legal_basis": purpose.legal_basis,
        "default_retention_months": purpose.default_retention_months,
        "active": "on",
    }
    if purpose.requires_consent:
        data["requires_consent"] = "on"
    return {**data, **changes}


def test_erin_cannot_rename_or_move_acmes_purpose_through_its_history_form(cast, login):
    purpose = PurposeFactory(tenant=cast.acme, name="Acme telesales quality")
    client = login(cast.erin)
    response = client.post(
        _version_url(purpose),
        _purpose_form(purpose, name="Renamed by Globex", tenant=cast.globex.pk),
    )
    assert response.status_code in (403, 404, 405)
    purpose.refresh_from_db()
    assert (purpose.name, purpose.tenant_id) == ("Acme telesales quality", cast.acme.pk)


def test_erin_cannot_switch_acmes_purpose_off_consent_through_its_history_form(cast, login):
    purpose = Purpose.objects.create(
        tenant=cast.acme,
        code="acme-telemarketing",
        name="Acme telemarketing",
        legal_basis="consent",
        requires_consent=True,
        default_retention_months=6,
    )
    data = _purpose_form(purpose, legal_basis="legitimate_interest")
    del data["requires_consent"]
    response = login(cast.erin).post(_version_url(purpose), data)
    assert response.status_code in (403, 404, 405)
    purpose.refresh_from_db()
    assert purpose.requires_consent


def test_dave_the_auditor_cannot_change_a_platform_policy_through_its_history_form(cast, login):
    policy = RetentionPolicyFactory(tenant=None, name="Platform preset", retention_months=6)
    months = policy.retention_months
    response = login(cast.dave).post(
        _version_url(policy),
        {
            "purpose": policy.purpose_id,
            "name": policy.name,
            "retention_months": 0,
            "maximum_months": "",
            "action_at_expiry": policy.action_at_expiry,
            "legal_reference": policy.legal_reference,
            "effective_from": policy.effective_from.isoformat(),
            "active": "on",
        },
    )
    assert response.status_code in (403, 405)
    policy.refresh_from_db()
    assert policy.retention_months == months


def test_no_post_to_a_history_page_saves_even_for_the_platform_operator(cast, login):
    """Reverting is not a product feature: a policy changes through its change page, audited."""
    purpose = PurposeFactory(tenant=cast.acme, name="Before")
    client = login(cast.root)
    for url in (_version_url(purpose), _history_url(purpose)):
        response = client.post(url, _purpose_form(purpose, name="After"))
        assert response.status_code == 405, url
    purpose.refresh_from_db()
    assert purpose.name == "Before"


def test_another_tenants_history_pages_are_404_and_show_nothing(cast, login):
    purpose = PurposeFactory(tenant=cast.acme, name="Acme secret purpose")
    policy = RetentionPolicyFactory(tenant=cast.acme, name="Acme secret policy")
    client = login(cast.erin)
    for obj in (purpose, policy):
        for url in (_history_url(obj), _version_url(obj)):
            response = client.get(url)
            assert response.status_code == 404, url
            assert b"Acme secret" not in response.content, url


def test_a_role_that_cannot_view_the_model_gets_403_on_its_history(cast, login):
    """Carol, a quality analyst, sees purposes but not retention policies."""
    policy = RetentionPolicyFactory(tenant=cast.acme, name="Acme policy")
    client = login(cast.carol)
    for url in (_history_url(policy), _version_url(policy)):
        assert client.get(url).status_code == 403, url


def test_own_tenants_history_is_readable_and_the_version_form_has_no_inputs(cast, login):
    purpose = PurposeFactory(tenant=cast.acme, name="Acme quality")
    client = login(cast.alice)
    history = client.get(_history_url(purpose))
    assert history.status_code == 200
    assert b"Acme quality" in history.content
    version = client.get(_version_url(purpose))
    assert version.status_code == 200
    assert b"Acme quality" in version.content
    assert b'name="name"' not in version.content
    assert b'<input type="submit"' not in version.content  # no Revert, no Save


def test_a_purpose_or_policy_saved_by_the_service_names_its_actor_in_the_history(cast):
    """Outside a request (a command, a shell, a task) the history still says who made the
    change: the service's actor, as the admin's request user does."""
    from compliance.services.policies import purpose_save, retention_policy_save

    purpose = PurposeFactory.build(tenant=cast.acme, code="acme-coaching", name="Acme coaching")
    purpose_save(actor=cast.alice, purpose=purpose, created=True)
    purpose.name = "Acme agent coaching"
    purpose_save(actor=cast.alice, purpose=purpose, created=False)
    policy = RetentionPolicyFactory(tenant=cast.acme)
    policy.retention_months = 1
    retention_policy_save(actor=cast.root, policy=policy, created=False)
    assert [row.history_user for row in purpose.history.order_by("history_id")] == [
        cast.alice,
        cast.alice,
    ]
    assert policy.history.latest().history_user == cast.root
