"""A member reaching for another tenant's object gets the 404 an unknown id gets, and the owning
tenant's trail shows who tried, what, and through which view (`access.cross_tenant_refused`, the
"cross-tenant probe" alert's input). Every object URL is walked by
tests/portal/test_isolation.py::test_no_member_reaches_another_tenants_objects_through_any_url;
these tests read one event closely."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import Purpose, Role
from compliance.services.memberships import membership_grant

from ..factories import PurposeFactory, consent_for

pytestmark = pytest.mark.django_db

CROSS_TENANT = "access.cross_tenant_refused"


@pytest.fixture
def acme_purpose(cast) -> Purpose:
    return PurposeFactory(tenant=cast.acme, code="acme-only", name="Acme only purpose")


def _change_url(purpose: Purpose) -> str:
    return reverse("admin:compliance_purpose_change", args=[purpose.pk])


def test_another_tenants_purpose_is_refused_like_a_missing_one_and_on_its_trail(
    cast, login, acme_purpose
):
    client = login(cast.erin)
    foreign = client.get(_change_url(acme_purpose), HTTP_X_WORKSTATION_ID="ws-12")
    missing = client.get(reverse("admin:compliance_purpose_change", args=[acme_purpose.pk + 999]))
    assert (foreign.status_code, foreign["Location"]) == (missing.status_code, missing["Location"])

    event = AuditEvent.objects.get(action=CROSS_TENANT)
    assert event.outcome == "denied"
    assert event.tenant_id == cast.acme.pk  # the owner's trail, not Globex's
    assert (event.actor_id, event.actor_username) == (cast.erin.pk, "erin")
    assert (event.target_type, event.target_id, event.target_label) == (
        "compliance.purpose",
        str(acme_purpose.pk),
        "Acme only purpose",
    )
    assert event.extra["view"] == "admin change page"
    assert event.workstation_id == "ws-12"
    # Acme's reviewers see it in their trail; Globex's officer does not.
    assert AuditEvent.objects.for_user(cast.alice).filter(action=CROSS_TENANT).exists()
    assert not AuditEvent.objects.for_user(cast.erin).filter(action=CROSS_TENANT).exists()


def test_history_and_view_on_site_name_their_view(cast, login, acme_purpose):
    client = login(cast.erin)
    assert (
        client.get(reverse("admin:compliance_purpose_history", args=[acme_purpose.pk])).status_code
        == 404
    )
    content_type = ContentType.objects.get_for_model(Purpose)
    assert (
        client.get(
            reverse("scoped_view_on_site", args=[content_type.pk, acme_purpose.pk])
        ).status_code
        == 404
    )
    views = list(
        AuditEvent.objects.filter(action=CROSS_TENANT)
        .order_by("sequence")
        .values_list("extra__view", flat=True)
    )
    assert views == ["history", "view on site"]


def test_a_platform_operator_is_never_refused(cast, login, acme_purpose):
    response = login(cast.root).get(_change_url(acme_purpose))
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action=CROSS_TENANT).exists()


def test_a_member_of_the_tenant_whose_role_cannot_see_it_is_no_cross_tenant_probe(cast, login):
    # Carol (quality analyst at Acme) may not see consents; asking for one is refused by her
    # role, not a probe of another tenant.
    consent = consent_for(tenant=cast.acme, number="+33612345678", call_id="c-1")
    response = login(cast.carol).get(reverse("admin:compliance_consent_change", args=[consent.pk]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=CROSS_TENANT).exists()


def test_membership_in_the_owning_tenant_is_what_counts(cast, login, acme_purpose):
    # Erin also becomes an auditor at Acme: she may read Acme's purposes, nothing is refused.
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.AUDITOR)
    assert login(cast.erin).get(_change_url(acme_purpose)).status_code == 200
    assert not AuditEvent.objects.filter(action=CROSS_TENANT).exists()
