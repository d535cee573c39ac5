"""A role counts in its own tenant only: a compliance officer of Globex who is a quality analyst
at Acme holds no compliance officer's power over Acme's data."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import Role
from compliance.services.api_keys import api_key_create, api_key_revoke
from compliance.services.legal_holds import legal_hold_place, legal_hold_release
from compliance.services.memberships import membership_grant
from kit.refusals import Refused
from recordings.services.telesales import telesales_outcome_record

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def erin_also_analyst_at_acme(cast):
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    return cast.erin


def test_officer_elsewhere_cannot_release_or_place_holds_here(cast, erin_also_analyst_at_acme):
    recording = ingest(cast.acme)
    hold = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case", reason="x", recordings=[recording]
    )
    with pytest.raises(Refused) as refused:
        legal_hold_release(actor=erin_also_analyst_at_acme, hold=hold, release_reason="mine")
    assert refused.value.status == 403
    hold.refresh_from_db()
    assert hold.released_at is None
    with pytest.raises(Refused):
        legal_hold_place(
            actor=erin_also_analyst_at_acme,
            tenant=cast.acme,
            reference="X",
            reason="y",
            campaign="c",
        )
    legal_hold_place(
        actor=erin_also_analyst_at_acme,
        tenant=cast.globex,
        reference="G",
        reason="y",
        campaign="c",
    )


def test_officer_elsewhere_cannot_create_api_keys_or_record_contract_outcomes_here(
    cast, erin_also_analyst_at_acme
):
    with pytest.raises(Refused):
        api_key_create(actor=erin_also_analyst_at_acme, tenant=cast.acme, name="mine")
    recording = ingest(cast.acme)
    with pytest.raises(Refused, match="does not record contract outcomes"):
        telesales_outcome_record(
            actor=erin_also_analyst_at_acme, recordings=[recording], signed_on=None
        )
    recording.refresh_from_db()
    assert recording.deletion_reason == "expired"


@pytest.mark.parametrize("also_analyst_at_acme", [False, True], ids=["globex only", "acme analyst"])
def test_officer_elsewhere_cannot_revoke_this_tenants_api_keys(cast, login, also_analyst_at_acme):
    if also_analyst_at_acme:
        membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    acme_key, _ = api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme recorder")
    globex_key, _ = api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex dialer")

    with pytest.raises(Refused) as refused:
        api_key_revoke(actor=cast.erin, api_key=acme_key)
    assert (refused.value.field, refused.value.status) == ("actor", 403)

    client = login(cast.erin)
    changelist = reverse("admin:compliance_apikey_changelist")
    response = client.post(
        changelist, {"action": "revoke_selected", "_selected_action": [acme_key.pk]}
    )
    assert response.status_code == 302
    acme_key.refresh_from_db()
    assert acme_key.revoked_at is None
    assert not AuditEvent.objects.filter(action="api_key.revoked").exists()

    # Her own tenant's key she revokes, through the same action.
    client.post(changelist, {"action": "revoke_selected", "_selected_action": [globex_key.pk]})
    globex_key.refresh_from_db()
    assert globex_key.revoked_at is not None
    assert AuditEvent.objects.get(action="api_key.revoked").tenant_id == cast.globex.pk


def test_hold_page_offers_no_release_where_the_role_held_cannot_release(cast, login):
    """Erin, Globex's officer, holds the permission to release holds through that role. As
    Acme's auditor she reads Acme's holds, but may not release them: the page offers no release
    and the release page answers 403. As Acme's quality analyst she does not see them at all."""
    recording = ingest(cast.acme)
    hold = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="RG 24/1", reason="x", recordings=[recording]
    )
    page_url = reverse("admin:compliance_legalhold_change", args=[hold.pk])
    release_url = reverse("admin:compliance_legalhold_release", args=[hold.pk])
    client = login(cast.erin)

    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.AUDITOR)
    page = client.get(page_url)
    assert page.status_code == 200
    assert b"Release this hold" not in page.content
    assert client.get(release_url).status_code == 403
    assert client.post(release_url, {"release_reason": "mine"}).status_code == 403

    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    assert client.get(page_url).status_code == 302  # "does not exist"
    assert client.get(release_url).status_code == 404
    assert client.post(release_url, {"release_reason": "mine"}).status_code == 404
    hold.refresh_from_db()
    assert hold.released_at is None

    # Her own tenant's hold she may release.
    globex_hold = legal_hold_place(
        actor=cast.erin, tenant=cast.globex, reference="G-1", reason="y", campaign="c"
    )
    page = client.get(reverse("admin:compliance_legalhold_change", args=[globex_hold.pk]))
    assert b"Release this hold" in page.content
    response = client.post(
        reverse("admin:compliance_legalhold_release", args=[globex_hold.pk]),
        {"release_reason": "Case closed"},
    )
    assert response.status_code == 302
