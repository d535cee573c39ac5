"""docs/architecture.md, invariant 6: no user sees or changes another tenant's data in the
admin."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from compliance.models import Consent, Role
from compliance.services.memberships import membership_grant
from compliance.tenancy import TenantListFilter, TenantScopedAdmin

from ..factories import SCOPED_FACTORIES

pytestmark = pytest.mark.django_db

SCOPED_ADMINS = [
    (model, model_admin)
    for model, model_admin in admin.site._registry.items()
    if isinstance(model_admin, TenantScopedAdmin)
]


def test_every_tenant_owned_model_admin_is_scoped_and_has_a_factory():
    tenant_owned = {
        model
        for model in admin.site._registry
        if any(
            field.is_relation and field.related_model._meta.label == "compliance.Tenant"
            for field in model._meta.get_fields()
            if field.concrete
        )
    }
    scoped = {model for model, _ in SCOPED_ADMINS}
    assert tenant_owned <= scoped, f"unscoped tenant-owned admins: {tenant_owned - scoped}"
    assert scoped <= set(SCOPED_FACTORIES), "add a factory to SCOPED_FACTORIES for new models"


def _grant_view(user, model):
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label=model._meta.app_label,
            codename=f"view_{model._meta.model_name}",
        )
    )


@pytest.mark.parametrize(("model", "model_admin"), SCOPED_ADMINS, ids=lambda x: str(x)[:40])
def test_member_sees_only_own_tenant_rows_in_every_scoped_admin(cast, login, model, model_admin):
    acme_row = SCOPED_FACTORIES[model](cast.acme)
    globex_row = SCOPED_FACTORIES[model](cast.globex)
    for user, own, foreign in [
        (cast.alice, acme_row, globex_row),
        (cast.erin, globex_row, acme_row),
    ]:
        _grant_view(user, model)
        client = login(user)
        info = (model._meta.app_label, model._meta.model_name)
        changelist = client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert changelist.status_code == 200
        listed = {obj.pk for obj in changelist.context["cl"].result_list}
        assert own.pk in listed
        assert foreign.pk not in listed
        own_page = client.get(reverse("admin:{}_{}_change".format(*info), args=[own.pk]))
        assert own_page.status_code == 200
        foreign_page = client.get(reverse("admin:{}_{}_change".format(*info), args=[foreign.pk]))
        # The admin answers an object outside the queryset with a redirect to the index and a
        # "does not exist" message: nothing of the foreign row is shown.
        assert foreign_page.status_code == 302
        assert str(foreign.pk) not in foreign_page.headers.get("Location", "").split("/")


def test_platform_operator_sees_every_tenant(cast, login):
    client = login(cast.root)
    response = client.get(reverse("admin:compliance_tenant_changelist"))
    names = {tenant.name for tenant in response.context["cl"].result_list}
    assert names == {"Acme Insurance", "Globex Telecom"}


def test_tenant_filter_lists_only_the_viewers_tenants(cast, login):
    client = login(cast.alice)
    response = client.get(reverse("admin:audit_auditevent_changelist"))
    assert response.status_code == 200
    assert b"Acme Insurance" in response.content
    assert b"Globex Telecom" not in response.content


def _tenants_offered(page) -> list[str]:
    (spec,) = [
        spec for spec in page.context["cl"].filter_specs if isinstance(spec, TenantListFilter)
    ]
    return [name for _, name in spec.lookup_choices]


def test_tenant_filter_offers_only_the_tenants_where_the_role_sees_the_model(cast, login):
    """Erin, Globex's compliance officer, is a quality analyst at Acme: she sees Acme's
    recordings, but neither its consents nor its audit trail, so only there is Acme offered."""
    membership_grant(actor="test", user=cast.erin, tenant=cast.acme, role=Role.QUALITY_ANALYST)
    client = login(cast.erin)
    for name in ("compliance_consent", "audit_auditevent", "compliance_apikey"):
        page = client.get(reverse(f"admin:{name}_changelist"))
        assert _tenants_offered(page) == ["Globex Telecom"], name
        chosen = client.get(reverse(f"admin:{name}_changelist"), {"tenant": cast.acme.pk})
        assert chosen.status_code == 302, name  # not a choice: ?e=1
    recordings = client.get(reverse("admin:recordings_recording_changelist"))
    assert _tenants_offered(recordings) == ["Acme Insurance", "Globex Telecom"]
    assert _tenants_offered(
        login(cast.root).get(reverse("admin:compliance_consent_changelist"))
    ) == [
        "Acme Insurance",
        "Globex Telecom",
    ]


def test_foreign_tenant_cannot_be_chosen_in_a_form(cast, login):
    from django.contrib.auth.models import Permission

    cast.alice.user_permissions.add(
        Permission.objects.get(codename="add_membership"),
        Permission.objects.get(codename="view_membership"),
    )
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_membership_add"),
        {"user": cast.bob.pk, "tenant": cast.globex.pk, "role": "auditor"},
    )
    assert response.status_code == 200
    assert "tenant" in response.context["adminform"].form.errors
    assert not cast.globex.memberships.filter(user=cast.bob).exists()


def test_the_tenant_column_is_listed_only_to_a_viewer_of_several_tenants(cast, login):
    SCOPED_FACTORIES[Consent](cast.acme)
    url = reverse("admin:compliance_consent_changelist")
    assert "column-tenant" not in login(cast.alice).get(url).content.decode()
    assert "column-tenant" in login(cast.root).get(url).content.decode()
    membership_grant(
        actor="test", user=cast.alice, tenant=cast.globex, role=Role.COMPLIANCE_OFFICER
    )
    assert "column-tenant" in login(cast.alice).get(url).content.decode()
