"""Least-privilege permissions of each role. Groups are kept in step by data migrations.

Groups say *what kind* of data a person may act on; memberships say *in which tenants*.
"""

from __future__ import annotations

from .models import Membership, Role

# (app_label, codename) pairs. Later slices add their models' permissions here and ship a data
# migration that calls `sync_role_groups` again.
ROLE_PERMISSIONS: dict[str, set[tuple[str, str]]] = {
    Role.COMPLIANCE_OFFICER: {
        ("compliance", "view_tenant"),
        ("compliance", "view_membership"),
        ("compliance", "view_purpose"),
        ("compliance", "add_purpose"),
        ("compliance", "change_purpose"),
        ("compliance", "view_retentionpolicy"),
        ("compliance", "add_retentionpolicy"),
        ("compliance", "change_retentionpolicy"),
        ("compliance", "view_apikey"),
        ("compliance", "add_apikey"),
        ("compliance", "change_apikey"),
        ("compliance", "view_consent"),
        ("compliance", "add_consent"),
        ("compliance", "view_legalhold"),
        ("compliance", "place_legalhold"),
        ("compliance", "release_legalhold"),
        # Data-subject requests are received, verified and answered by the compliance officer.
        ("compliance", "view_subjectrequest"),
        ("compliance", "add_subjectrequest"),
        ("compliance", "change_subjectrequest"),
        # The processors' register, the risk analysis and the DPIAs (GDPR Art. 28, 30, 35) are
        # kept by the compliance officer; processors and risks are ended or reviewed, never
        # deleted (a measure may be).
        ("compliance", "view_processor"),
        ("compliance", "add_processor"),
        ("compliance", "change_processor"),
        ("compliance", "view_risk"),
        ("compliance", "add_risk"),
        ("compliance", "change_risk"),
        ("compliance", "view_measure"),
        ("compliance", "add_measure"),
        ("compliance", "change_measure"),
        ("compliance", "delete_measure"),
        ("compliance", "view_dpia"),
        ("compliance", "add_dpia"),
        ("compliance", "change_dpia"),
        # The tenant's do-not-call lists: its internal list uploaded, opt-outs added one by one
        # (never removed: an objection to direct marketing does not expire, GDPR Art. 21(3));
        # the platform's national lists are read only.
        ("compliance", "view_dnclist"),
        ("compliance", "add_dnclist"),
        ("compliance", "view_dncoptout"),
        ("compliance", "add_dncoptout"),
        # Marketing campaigns: created, their numbers imported, screened by Bloctel or Lista
        # Robinson (file exported, answer imported: changes of the campaign); never deleted.
        ("compliance", "view_campaign"),
        ("compliance", "add_campaign"),
        ("compliance", "change_campaign"),
        ("recordings", "view_purgerun"),
        # What the next purge would delete, counted now: nothing is deleted.
        ("recordings", "start_purge_dry_run"),
        ("recordings", "view_deletioncertificate"),
        ("recordings", "view_recording"),
        ("recordings", "listen_recording"),
        ("recordings", "download_recording"),
        ("recordings", "record_contract_outcome"),
        ("audit", "view_auditevent"),
        ("audit", "export_auditevent"),
        ("audit", "view_alertrulesetting"),
        ("audit", "add_alertrulesetting"),
        ("audit", "change_alertrulesetting"),
        # Alerts are triaged, and personal-data breaches handled, by the compliance officer.
        ("audit", "view_alert"),
        ("audit", "triage_alert"),
        ("audit", "view_incident"),
        ("audit", "add_incident"),
        ("audit", "change_incident"),
        ("audit", "view_playbookaction"),
        ("audit", "add_playbookaction"),
        ("audit", "change_playbookaction"),
        ("audit", "delete_playbookaction"),
        # Where the tenant's trail is forwarded (its SOC's collector); disabled, not deleted.
        ("audit", "view_siemforwarder"),
        ("audit", "add_siemforwarder"),
        ("audit", "change_siemforwarder"),
    },
    Role.SUPERVISOR: {
        ("compliance", "view_tenant"),
        ("compliance", "view_purpose"),
        # They read the register of processing, the risk analysis and the DPIAs.
        ("compliance", "view_processor"),
        ("compliance", "view_risk"),
        ("compliance", "view_measure"),
        ("compliance", "view_dpia"),
        ("recordings", "view_recording"),
        ("recordings", "listen_recording"),
        ("audit", "view_auditevent"),
        ("audit", "view_alert"),
        ("audit", "view_incident"),
        ("audit", "view_playbookaction"),
    },
    Role.QUALITY_ANALYST: {
        ("compliance", "view_tenant"),
        ("compliance", "view_purpose"),
        ("recordings", "view_recording"),
        ("recordings", "listen_recording"),
    },
    Role.AUDITOR: {
        ("compliance", "view_tenant"),
        # They read the register of processing, the risk analysis and the DPIAs.
        ("compliance", "view_processor"),
        ("compliance", "view_risk"),
        ("compliance", "view_measure"),
        ("compliance", "view_dpia"),
        ("compliance", "view_consent"),
        ("compliance", "view_legalhold"),
        ("compliance", "view_dnclist"),
        ("compliance", "view_dncoptout"),
        ("compliance", "view_campaign"),
        ("recordings", "view_purgerun"),
        ("recordings", "view_deletioncertificate"),
        ("compliance", "view_purpose"),
        ("compliance", "view_retentionpolicy"),
        ("recordings", "view_recording"),
        ("audit", "view_auditevent"),
        ("audit", "export_auditevent"),
        ("audit", "view_alertrulesetting"),
        ("audit", "view_alert"),
        ("audit", "view_incident"),
        ("audit", "view_playbookaction"),
    },
}


def sync_role_groups(apps) -> None:
    """Create one group per role holding exactly its permissions (usable inside a migration)."""
    from django.contrib.auth.management import create_permissions

    # Inside a migration, permissions do not exist yet (post_migrate creates them): create them
    # now. Migration app configs have no models module, which create_permissions requires.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = original

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=Role(role).label)
        # Permissions of models that a later migration creates are absent here; that migration
        # calls this function again.
        permissions = [
            permission
            for app_label, codename in sorted(codes)
            for permission in permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        ]
        group.permissions.set(permissions)


def tenant_role(*, user, tenant_id: int) -> Role | None:
    """The user's role in one tenant, or None when they are not a member."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    role = (
        Membership.objects.filter(user=user, tenant_id=tenant_id)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def role_grants(role: str | None, permission: str) -> bool:
    """Whether a role carries `permission` ("app.codename") in the tenant where it is held."""
    app_label, _, codename = permission.partition(".")
    return role is not None and (app_label, codename) in ROLE_PERMISSIONS.get(role, set())


def tenants_permitting(user, permission: str, memberships=None) -> list[int]:
    """The ids of the tenants where `user` may use `permission`: by `tenant_permits`' rule, for
    every tenant they belong to at once. `memberships`, (tenant id, role) pairs, saves reading
    them again (the admin reads them once per request). Not for platform operators, who may act
    in every tenant."""
    if user is None or not getattr(user, "is_active", False) or not user.has_perm(permission):
        return []
    if memberships is None:
        memberships = Membership.objects.filter(user=user).values_list("tenant_id", "role")
    return [tenant_id for tenant_id, role in memberships if role_grants(role, permission)]


def tenant_permits(user, tenant_id: int | None, permission: str) -> bool:
    """Whether `user` may use `permission` ("app.codename") on one tenant's data.

    Django's permissions come from groups and are global: a person who is a compliance officer
    at Globex and a quality analyst at Acme holds Globex's permissions at Acme too. So the role
    the person holds *in that tenant* must carry the permission as well. Platform operators
    (superusers) may act everywhere; platform rows (no tenant) are theirs alone."""
    if user is None or not getattr(user, "is_active", False) or not user.has_perm(permission):
        return False
    if user.is_superuser:
        return True
    if tenant_id is None:
        return False
    return role_grants(tenant_role(user=user, tenant_id=tenant_id), permission)
