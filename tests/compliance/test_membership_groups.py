"""A person's Django groups are exactly the roles their memberships give them: a role changed or
taken away in a tenant takes its permissions away, unless another tenant's membership still
gives that role. What each role may do in which tenant is then per tenant (admin and services)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent, Membership, Purpose, Role
from compliance.services.memberships import membership_grant, membership_revoke

from ..factories import consent_for
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db


def _groups(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def _consent(tenant, number: str) -> Consent:
    return consent_for(tenant=tenant, number=number)


def test_demoted_supervisor_loses_the_supervisors_permissions(cast, login):
    trail = reverse("admin:audit_auditevent_changelist")
    assert login(cast.bob).get(trail).status_code == 200

    membership_grant(actor="test", user=cast.bob, tenant=cast.acme, role=Role.QUALITY_ANALYST)

    assert _groups(cast.bob) == {"Quality analyst"}
    assert not cast.bob.has_perm("audit.view_auditevent")  # the caller's instance too
    assert login(cast.bob).get(trail).status_code == 403
    event = AuditEvent.objects.filter(action="membership.granted").latest("sequence")
    assert (event.extra["role"], event.extra["old_role"]) == ("quality_analyst", "supervisor")


def test_role_still_held_in_another_tenant_keeps_its_group(cast):
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.COMPLIANCE_OFFICER)
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    assert _groups(cast.erin) == {"Compliance officer", "Quality analyst"}  # Globex's officer

    membership_grant(actor="test", user=cast.erin, tenant=cast.globex, role=Role.AUDITOR)
    assert _groups(cast.erin) == {"Auditor", "Quality analyst"}


def test_revoked_membership_takes_its_group_and_is_audited(cast, login):
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.SUPERVISOR)
    membership_revoke(
        actor="test", membership=Membership.objects.get(user=cast.erin, tenant=cast.acme)
    )
    assert _groups(cast.erin) == {"Compliance officer"}

    membership_revoke(actor="test", membership=Membership.objects.get(user=cast.erin))
    assert _groups(cast.erin) == set()
    assert login(cast.erin).get(reverse("admin:compliance_consent_changelist")).status_code == 403
    event = AuditEvent.objects.filter(action="membership.revoked").latest("sequence")
    assert (event.tenant_id, event.extra["user"], event.extra["old_role"]) == (
        cast.globex.pk,
        "erin",
        "compliance_officer",
    )


def test_groups_that_are_no_role_are_left_alone(cast):
    reviewers = Group.objects.create(name="Internal reviewers")
    cast.bob.groups.add(reviewers)
    membership_grant(actor="test", user=cast.bob, tenant=cast.acme, role=Role.AUDITOR)
    assert _groups(cast.bob) == {"Auditor", "Internal reviewers"}


def test_officer_elsewhere_sees_nothing_of_a_tenant_where_she_is_an_analyst(cast, login):
    """Erin holds the officer's group for Globex; at Acme she is a quality analyst, whose role
    reads neither consents nor the audit trail nor purge runs, and records no consent."""
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    acme_consent = _consent(cast.acme, "+33612345678")
    globex_consent = _consent(cast.globex, "+34612345678")
    client = login(cast.erin)

    consents = client.get(reverse("admin:compliance_consent_changelist"))
    assert {consent.pk for consent in consents.context["cl"].result_list} == {globex_consent.pk}
    events = client.get(reverse("admin:audit_auditevent_changelist"))
    assert events.context["cl"].result_list
    assert {event.tenant_id for event in events.context["cl"].result_list} == {cast.globex.pk}
    page = client.get(reverse("admin:compliance_consent_change", args=[acme_consent.pk]))
    assert page.status_code == 302  # "does not exist": nothing of the row is shown
    receipt = client.get(reverse("consent_receipt", args=[acme_consent.pk]))
    assert receipt.status_code == 404
    assert client.get(reverse("consent_receipt", args=[globex_consent.pk])).status_code == 200

    long_ago = timezone.now() - timedelta(days=400)
    ingest(cast.acme, started_at=long_ago)
    ingest(cast.globex, started_at=long_ago, number="+34612345678")
    runs = client.get(reverse("admin:recordings_purgerun_changelist"))
    assert [row["tenant_id"] for row in runs.context["preview"]] == [cast.globex.pk]

    decided = timezone.localtime() - timedelta(minutes=10)
    response = client.post(
        reverse("admin:compliance_consent_add"),
        {
            "tenant": cast.acme.pk,
            "customer_number": "06 12 34 56 79",
            "purpose": Purpose.objects.get(code="telemarketing").pk,
            "decision": "refused",
            "decided_at_0": decided.strftime("%Y-%m-%d"),
            "decided_at_1": decided.strftime("%H:%M:%S"),
            "channel": "agent",
        },
    )
    assert response.status_code == 200
    assert "tenant" in response.context["adminform"].form.errors
    assert not Consent.objects.filter(tenant=cast.acme, customer_number="+33612345679").exists()


def test_officer_elsewhere_cannot_change_a_tenant_purpose_she_may_only_view(cast, login):
    from ..factories import PurposeFactory

    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    acme_purpose = PurposeFactory(tenant=cast.acme, name="Acme coaching")
    client = login(cast.erin)
    url = reverse("admin:compliance_purpose_change", args=[acme_purpose.pk])
    assert client.get(url).status_code == 200  # analysts read purposes
    response = client.post(
        url,
        {
            "code": acme_purpose.code,
            "name": "Renamed by Globex's officer",
            "legal_basis": acme_purpose.legal_basis,
            "default_retention_months": 6,
            "active": "on",
        },
    )
    assert response.status_code == 403
    acme_purpose.refresh_from_db()
    assert acme_purpose.name == "Acme coaching"


def test_platform_operator_changes_and_removes_roles_in_the_admin_through_the_services(cast, login):
    client = login(cast.root)
    membership = Membership.objects.get(user=cast.bob)
    response = client.post(
        reverse("admin:compliance_membership_change", args=[membership.pk]),
        {"role": Role.AUDITOR},
    )
    assert response.status_code == 302
    assert _groups(cast.bob) == {"Auditor"}
    assert AuditEvent.objects.filter(
        action="membership.granted", extra__old_role="supervisor", extra__role="auditor"
    ).exists()

    response = client.post(
        reverse("admin:compliance_membership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(user=cast.bob).exists()
    assert _groups(cast.bob) == set()
    assert AuditEvent.objects.filter(action="membership.revoked", extra__user="bob").exists()


def test_tenant_page_memberships_go_through_the_services(cast, login):
    client = login(cast.root)
    page = client.get(reverse("admin:compliance_tenant_change", args=[cast.globex.pk]))
    formset = page.context["inline_admin_formsets"][0].formset
    erin_membership = Membership.objects.get(user=cast.erin)
    data = {
        "name": cast.globex.name,
        "slug": cast.globex.slug,
        "country_code": cast.globex.country_code,
        "time_zone": cast.globex.time_zone,
        "working_hours_start": "09:00",
        "working_hours_end": "18:00",
        f"{formset.prefix}-TOTAL_FORMS": "2",
        f"{formset.prefix}-INITIAL_FORMS": "1",
        f"{formset.prefix}-0-id": erin_membership.pk,
        f"{formset.prefix}-0-tenant": cast.globex.pk,
        f"{formset.prefix}-0-user": cast.erin.pk,
        f"{formset.prefix}-0-role": Role.COMPLIANCE_OFFICER,
        f"{formset.prefix}-0-DELETE": "on",
        f"{formset.prefix}-1-tenant": cast.globex.pk,
        f"{formset.prefix}-1-user": cast.carol.pk,
        f"{formset.prefix}-1-role": Role.SUPERVISOR,
    }
    response = client.post(reverse("admin:compliance_tenant_change", args=[cast.globex.pk]), data)
    assert response.status_code == 302, response.context["errors"]
    assert _groups(cast.erin) == set()
    assert _groups(cast.carol) == {"Quality analyst", "Supervisor"}
    assert AuditEvent.objects.filter(action="membership.revoked", extra__user="erin").exists()
    assert AuditEvent.objects.filter(
        action="membership.granted", tenant=cast.globex, extra__user="carol"
    ).exists()


def test_migration_aligns_groups_left_behind_by_earlier_role_changes(cast):
    cast.bob.groups.add(Group.objects.get(name="Compliance officer"))  # a stale group
    cast.root.groups.add(Group.objects.get(name="Auditor"))  # no membership at all
    migration = importlib.import_module("compliance.migrations.0009_role_groups_from_memberships")
    migration.align_role_groups(django_apps, None)
    assert _groups(cast.bob) == {"Supervisor"}
    assert _groups(cast.root) == set()
    assert _groups(cast.alice) == {"Compliance officer"}
