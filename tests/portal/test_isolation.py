"""docs/architecture.md, invariant 6, over every URL of the project: nobody reaches another
tenant's data, and nobody writes what their role does not allow.

The test walks the URL resolver and classifies every pattern (admin changelists, add, change,
delete and history pages, django-simple-history's version forms, the views admins add, the
admin site's own pages, autocomplete, view-on-site, the receipts, the player, the API). It
builds a world with objects of every registered model in Acme and in Globex, each carrying a
marker string, and for every member of the cast requests the other tenant's objects through
every pattern: the answer is a 4xx, a redirect to sign in, ?e=1 or the admin's "does not exist"
redirect, and exactly the answer for an id that does not exist; no body holds the other tenant's
markers; no table changes. Within their own tenant, a role POSTs every write it is not allowed
(add, change, delete, actions, custom views) and nothing changes either. Every changelist
refuses a lookup on each of its model's fields.

A URL pattern or a registered admin this test cannot classify fails it: a new page, or a new
admin that forgets its scoping, must be added to the tables below (with the kind of probe it
needs) before the suite passes again.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.incidents import incident_open
from audit.models import (
    Alert,
    AlertRuleSetting,
    AlertStatus,
    AuditEvent,
    Incident,
    PlaybookAction,
    SiemForwarder,
)
from compliance.dnc_models import Campaign, DncList, DncOptOut, DncScrub
from compliance.models import (
    ApiKey,
    Consent,
    Dpia,
    LegalHold,
    Membership,
    Processor,
    Purpose,
    RetentionPolicy,
    Risk,
    Role,
    SubjectRequest,
    Tenant,
)
from compliance.roles import role_grants
from compliance.services.api_keys import api_key_create
from compliance.services.legal_holds import legal_hold_place
from compliance.services.memberships import membership_grant
from compliance.services.subject_requests import (
    subject_request_receive,
    subject_request_verify_identity,
)
from compliance.tenancy import PortalAdmin, TenantScopedAdmin, tenant_field_of
from recordings.models import DeletionCertificate, PurgeRun, Recording, SubjectExport
from recordings.services.purge.erasure import recording_erase
from recordings.services.purge.run import purge_expired_recordings
from recordings.subject_requests.export import subject_export_build, subject_export_start

from ..factories import (
    SCOPED_FACTORIES,
    PurposeFactory,
    RetentionPolicyFactory,
    UserFactory,
    alert_for,
    alert_rule_setting_for,
    audit_event_for,
    campaign_for,
    consent_for,
    dnc_list_for,
    dnc_opt_out_for,
    dpia_for,
    playbook_action_for,
    processor_for,
    risk_for,
    siem_forwarder_for,
    subject_request_for,
)
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

User = get_user_model()

# --- what the test knows about each URL ----------------------------------------------------------

# The views Django's ModelAdmin (and django-simple-history's) gives every admin, by URL name
# suffix: probed for every registered model.
STANDARD_ADMIN_VIEWS = ("changelist", "add", "change", "delete", "history", "simple_history")


@dataclass(frozen=True)
class ObjectView:
    """A view of one object (its id in the path). `writes` names the permission that lets a
    POST change something (none: it only reads), `data` the POST's body."""

    model: type
    writes: str = ""
    data: dict = field(default_factory=dict)


# Views added by an admin's get_urls, or mounted outside the admin, that take an object's id.
OBJECT_VIEWS: dict[str, ObjectView] = {
    "admin:compliance_legalhold_release": ObjectView(
        LegalHold, "compliance.release_legalhold", {"release_reason": "probe"}
    ),
    "admin:auth_user_password_change": ObjectView(
        User, "auth.change_user", {"password1": "Probe-password-9", "password2": "Probe-password-9"}
    ),
    "consent_receipt": ObjectView(Consent),
    "consent_receipt_json": ObjectView(Consent),
    "recordings:listen": ObjectView(
        Recording,
        "recordings.listen_recording",
        {"purpose": "complaint", "justification": "probe", "download": "on"},
    ),
    "recordings:player": ObjectView(Recording),
    "recordings:stream": ObjectView(Recording),
    "recordings:download": ObjectView(Recording),
    # A data subject's export (a ZIP of their recordings): its request's handler only.
    "recordings:subject_export_download": ObjectView(SubjectExport),
    "admin:audit_alert_triage": ObjectView(
        Alert, "audit.triage_alert", {"to_status": "investigating", "note": "probe"}
    ),
    "admin:audit_incident_close": ObjectView(
        Incident, "audit.change_incident", {"closing_note": "probe"}
    ),
    "admin:compliance_subjectrequest_take": ObjectView(
        SubjectRequest, "compliance.change_subjectrequest"
    ),
    "admin:compliance_subjectrequest_verifying": ObjectView(
        SubjectRequest, "compliance.change_subjectrequest"
    ),
    "admin:compliance_subjectrequest_verify": ObjectView(
        SubjectRequest,
        "compliance.change_subjectrequest",
        {"method": "call_back", "note": "probe"},
    ),
    "admin:compliance_subjectrequest_extend": ObjectView(
        SubjectRequest,
        "compliance.change_subjectrequest",
        {"months": "1", "reason": "probe", "told_on": timezone.localdate().isoformat()},
    ),
    "admin:compliance_subjectrequest_close": ObjectView(
        SubjectRequest,
        "compliance.change_subjectrequest",
        {"status": "refused", "refusal_reason": "probe"},
    ),
    "admin:compliance_subjectrequest_erase": ObjectView(
        SubjectRequest, "compliance.change_subjectrequest", {"confirm": "on"}
    ),
    "admin:compliance_subjectrequest_object": ObjectView(
        SubjectRequest,
        "compliance.change_subjectrequest",
        {"confirm": "on", "compelling_ground": "probe"},
    ),
    "admin:compliance_subjectrequest_restrict": ObjectView(
        SubjectRequest, "compliance.change_subjectrequest", {"confirm": "yes"}
    ),
    "admin:compliance_subjectrequest_lift": ObjectView(
        SubjectRequest, "compliance.change_subjectrequest", {"reason": "probe"}
    ),
    "admin:compliance_subjectrequest_rectify": ObjectView(
        SubjectRequest,
        "compliance.change_subjectrequest",
        {"target": "", "field": "campaign", "value": "probe"},
    ),
    "admin:compliance_subjectrequest_letter": ObjectView(SubjectRequest),
    "admin:compliance_subjectrequest_export": ObjectView(
        SubjectRequest, "compliance.change_subjectrequest", {"confirm": "yes"}
    ),
    # A tenant's documents: the Art. 30 register, the risk analysis (read), adopting the
    # default risks (a write), a DPIA's summary.
    "admin:compliance_processor_register": ObjectView(Tenant),
    "admin:compliance_processor_register_csv": ObjectView(Tenant),
    "admin:compliance_processor_register_xlsx": ObjectView(Tenant),
    "admin:compliance_risk_analysis": ObjectView(Tenant),
    "admin:compliance_risk_analysis_csv": ObjectView(Tenant),
    "admin:compliance_risk_adopt": ObjectView(Tenant, "compliance.add_risk"),
    "admin:compliance_dpia_summary": ObjectView(Dpia),
    # A campaign's pages: its numbers uploaded, the file for a screening service exported (a
    # download), the service's answer imported.
    "admin:compliance_campaign_numbers": ObjectView(
        Campaign, "compliance.change_campaign", {"max_rejected": "0"}
    ),
    "admin:compliance_campaign_export": ObjectView(
        Campaign, "compliance.change_campaign", {"source": "bloctel"}
    ),
    "admin:compliance_campaign_submitted_file": ObjectView(Campaign, "compliance.change_campaign"),
    "admin:compliance_campaign_answer": ObjectView(
        Campaign, "compliance.change_campaign", {"screened_on": "2026-01-01"}
    ),
    # A tenant's compliance dashboard on a page of its own (reads only).
    "admin:dashboard": ObjectView(Tenant),
    "admin:otp_totp_totpdevice_config": ObjectView(TOTPDevice),
    "admin:otp_totp_totpdevice_qrcode": ObjectView(TOTPDevice),
}

# Views that take no object id, by how they are probed:
#   page      — GET: no other tenant's marker, nothing written;
#   export    — a CSV of a list: as a page, and a filter naming another tenant is refused;
#   api       — the machine clients' API: without a key, a 401 that writes nothing;
#   api_object — the same for an API URL naming one of the other tenant's objects (DncScrub);
#   app_list  — the admin's page of one app, for each app label;
#   autocomplete, view_on_site — probed for every relation field and every model;
#   catch_all — the admin's answer to any other path under /admin/;
#   command   — a POST that starts something for the viewer's tenants (COMMANDS names its
#               permission): a GET is refused; a role without the permission writes nothing.
OTHER_VIEWS: dict[str, str] = {
    "admin:index": "page",
    "admin:login": "page",
    "admin:logout": "page",  # GET is refused (405); a POST would sign the viewer out
    "admin:password_change": "page",
    "admin:password_change_done": "page",
    "admin:jsi18n": "page",
    "admin:app_list": "app_list",
    "admin:autocomplete": "autocomplete",
    "scoped_view_on_site": "view_on_site",
    "admin:audit_auditevent_export": "export",
    "api_recordings_create": "api",
    "api_consents_create": "api",
    "api_subject_requests_create": "api",
    "api_dnc_opt_outs_create": "api",
    "api_dnc_check": "api",
    "api_dnc_scrub": "api",
    # A scrub's removed rows, by the scrub's id: without a key, a 401 that writes nothing.
    "api_dnc_scrub_removed": "api_object",
    "health": "page",
    "signin:verify": "page",
    "signin:enrol": "page",
    "set_language": "page",  # GET changes nothing; a POST sets the cookie and the account's choice
    # A purge dry run (what the next purge would delete), from the purge runs' page.
    "admin:recordings_purgerun_dry_run": "command",
}
# The permission each command needs.
COMMANDS: dict[str, str] = {
    "admin:recordings_purgerun_dry_run": "recordings.start_purge_dry_run",
}
# Patterns without a name, by route.
UNNAMED_VIEWS: dict[str, str] = {
    "": "page",  # / redirects to /admin/
    "admin/(?P<url>.*)$": "catch_all",
}
# Shadowed by a route listed before it, which answers in its place (checked below).
SHADOWED = {"admin:view_on_site": "scoped_view_on_site"}

# Registered admins of models that belong to no tenant: who may see them and what a tenant's
# member sees there. Every other registered model must be tenant-owned, have a
# TenantScopedAdmin and a factory in tests/factories.py's SCOPED_FACTORIES.
PLATFORM_ADMINS: dict[type, str] = {
    User: "operators only",
    Group: "operators only",
    PurgeRun: "spans every tenant: members see their own tenants' figures only",
    AccessAttempt: "operators only",
    TOTPDevice: "operators only",
    StaticDevice: "operators only",
}

# The permission a write needs where it is not Django's add/change/delete_<model>.
WRITE_PERMISSIONS = {(LegalHold, "add"): "compliance.place_legalhold"}

# Written by every audited request, or by signing in: not "a write" of the probed request.
UNCHECKED_TABLES = {"audit_auditevent", "audit_chainhead", "django_session"}
# Part of the trail too: a refused API call counts towards its window of failed authentications.
UNCHECKED_TABLES |= {"compliance_apiauthfailurewindow"}
# Pages that write the viewer's own rows, and which table: checked to hold the viewer's row only.
OWN_WRITES = {
    # Opening enrolment prepares the viewer's authenticator (unconfirmed until its first code).
    "signin:enrol": ("otp_totp_totpdevice", TOTPDevice),
}


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    model_admin: ModelAdmin | None


def _routes(patterns, prefix: str = "", namespace: str = "") -> list[Route]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            routes += _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            routes.append(Route(prefix + str(pattern.pattern), name, _owner(pattern.callback)))
    return routes


def _owner(callback) -> ModelAdmin | None:
    """The ModelAdmin whose view this is (Django marks its own; admin_view keeps the method)."""
    owner = getattr(callback, "model_admin", None)
    if owner is None:
        owner = getattr(getattr(callback, "__wrapped__", None), "__self__", None)
    return owner if isinstance(owner, ModelAdmin) else None


def _kind(route: Route) -> str | None:
    """How the route is probed, or None when the test does not know it."""
    if route.name in SHADOWED:
        return "shadowed"
    if route.name in OBJECT_VIEWS:
        return "object"
    if route.name in OTHER_VIEWS:
        return OTHER_VIEWS[route.name]
    if route.name is None:
        if route.model_admin is not None and route.route.endswith("<path:object_id>/"):
            return "legacy_redirect"  # Django's /admin/<app>/<model>/<id>/ → …/<id>/change/
        return UNNAMED_VIEWS.get(route.route)
    if route.model_admin is not None:
        meta = route.model_admin.model._meta
        for suffix in STANDARD_ADMIN_VIEWS:
            if route.name == f"admin:{meta.app_label}_{meta.model_name}_{suffix}":
                return suffix
    return None


ROUTES = _routes(get_resolver().url_patterns)


def _model_admins() -> dict[type, ModelAdmin]:
    return dict(admin.site._registry)


def test_every_url_pattern_and_every_admin_is_known_to_this_test():
    unknown = [f"{route.route} (name {route.name!r})" for route in ROUTES if _kind(route) is None]
    assert not unknown, (
        "URL patterns the isolation test cannot classify; add each to OBJECT_VIEWS, OTHER_VIEWS "
        "or UNNAMED_VIEWS in tests/portal/test_isolation.py with how to probe it: "
        + "; ".join(unknown)
    )
    for name, answering in SHADOWED.items():
        path = reverse(name, args=[1, 1])
        assert resolve(path).url_name == answering.split(":")[-1], path
    unguarded = [
        model._meta.label
        for model, model_admin in _model_admins().items()
        if not isinstance(model_admin, PortalAdmin)
    ]
    assert not unguarded, (
        "Registered admins that do not inherit compliance.tenancy.PortalAdmin (the query-string "
        "guards and the read-only history page): " + ", ".join(unguarded)
    )
    unscoped = []
    for model, model_admin in _model_admins().items():
        if model in PLATFORM_ADMINS:
            continue
        if not isinstance(model_admin, TenantScopedAdmin) or model not in SCOPED_FACTORIES:
            unscoped.append(model._meta.label)
    assert not unscoped, (
        "Registered admins that are neither tenant-scoped (TenantScopedAdmin, with a factory in "
        "SCOPED_FACTORIES) nor listed in PLATFORM_ADMINS of tests/portal/test_isolation.py: "
        + ", ".join(unscoped)
    )


# --- the world ------------------------------------------------------------------------------------


@dataclass
class TenantWorld:
    tenant: Tenant
    markers: tuple[str, ...]
    objects: dict[type, Any]

    def object(self, model) -> Any:
        try:
            return self.objects[model]
        except KeyError:
            raise AssertionError(
                f"No {model._meta.label} in the isolation test's world: create one in "
                "_tenant_world (or, for a platform model, in the world fixture) of "
                "tests/portal/test_isolation.py"
            ) from None

    def leaked(self, body: bytes) -> list[str]:
        text = body.decode("utf-8", "replace").lower()
        return [marker for marker in self.markers if marker in text]


LONG_AGO = timezone.now() - timedelta(days=400)


def _tenant_world(tenant: Tenant, root) -> TenantWorld:
    """One object of every registered model in `tenant`, each holding the marker
    '<slug>-secret' where it has text (the tenant's name is a marker too)."""
    secret = f"{tenant.slug}-secret"
    number = "+33612345678" if tenant.country_code == "FR" else "+34612345678"
    member = UserFactory(username=f"{secret}-member")
    membership = membership_grant(actor="test", user=member, tenant=tenant, role=Role.SUPERVISOR)
    purpose = PurposeFactory(tenant=tenant, code=f"{secret}-purpose", name=f"{secret} purpose")
    policy = RetentionPolicyFactory(tenant=tenant, purpose=purpose, name=f"{secret} policy")
    recording = ingest(
        tenant, call_id=f"{secret}-call", campaign=f"{secret}-campaign", number=number
    )
    erased = ingest(tenant, call_id=f"{secret}-erased", number=number)
    recording_erase(actor=None, recording=erased)
    subject_request = subject_request_receive(
        actor=root,
        tenant=tenant,
        kind="access",
        customer_numbers=[number],
        channel="email",
        requester_name=f"{secret} requester",
    )
    subject_request_verify_identity(actor=root, request=subject_request, method="call_back")
    subject_export = subject_export_build(
        export_id=subject_export_start(actor=root, request=subject_request).pk
    )
    alert = alert_for(
        tenant=tenant,
        status=AlertStatus.REAL_DANGER,
        subject=member,
        summary=f"{secret} volume of plays",
    )
    incident = incident_open(
        actor=root,
        tenant=tenant,
        title=f"{secret} breach",
        nature="other",
        alerts=[alert],
        description=f"{secret} description",
    )
    campaign = campaign_for(
        tenant=tenant,
        name=f"{secret} campaign",
        numbers=("0612345678" if tenant.country_code == "FR" else "612345678",),
    )
    objects = {
        Tenant: tenant,
        Membership: membership,
        Purpose: purpose,
        RetentionPolicy: policy,
        ApiKey: api_key_create(actor=None, tenant=tenant, name=f"{secret} key")[0],
        Consent: consent_for(tenant=tenant, number=number, call_id=f"{secret}-consent"),
        LegalHold: legal_hold_place(
            actor=root,
            tenant=tenant,
            reference=f"{secret}-hold",
            reason=f"{secret} litigation",
            campaign=f"{secret}-campaign",
        ),
        Recording: recording,
        DeletionCertificate: DeletionCertificate.objects.get(recording_id=erased.pk),
        SubjectExport: subject_export,
        AuditEvent: audit_event_for(tenant=tenant),
        AlertRuleSetting: alert_rule_setting_for(tenant=tenant),
        Alert: alert,
        Incident: incident,
        PlaybookAction: playbook_action_for(tenant=tenant, text=f"{secret} call the DPO"),
        SiemForwarder: siem_forwarder_for(tenant=tenant, name=f"{secret} SOC"),
        SubjectRequest: subject_request_for(
            tenant=tenant, number=number, reference=f"{secret}-subject"
        ),
        Processor: processor_for(
            tenant=tenant,
            name=f"{secret} storage",
            purposes=[purpose],
            security_contact=f"{secret}-soc@example.com",
        ),
        Risk: risk_for(tenant=tenant, threat=f"{secret} threat", owner=f"{secret} owner"),
        Dpia: dpia_for(tenant=tenant, purpose=purpose, necessity=f"{secret} necessity"),
        # The tenant's internal do-not-call list (a version in force) and an opt-out.
        DncList: dnc_list_for(tenant=tenant, version=f"{secret}-list", file_name=f"{secret}.csv"),
        DncOptOut: dnc_opt_out_for(tenant=tenant, number=number, note=f"{secret} asked by phone"),
        # A campaign with one number of the tenant's country, to export for its screening.
        Campaign: campaign,
        # A scrub of the campaign, its removed rows kept (the API's download URL).
        DncScrub: DncScrub.objects.create(
            tenant=tenant,
            campaign=campaign,
            api_key_prefix="probe",
            expires_at=timezone.now() + timedelta(hours=1),
            file_name=f"{secret}.removed",
            file_key=b"0" * 32,
        ),
        User: member,
        # A member's sign-in defences: their pages name the member, a marker of the tenant.
        AccessAttempt: AccessAttempt.objects.create(
            username=member.username,
            ip_address="203.0.113.7",
            user_agent="probe",
            failures_since_start=1,
            get_data="",
            post_data="",
            http_accept="",
            path_info="/admin/login/",
        ),
        TOTPDevice: TOTPDevice.objects.create(user=member, name=f"{secret} phone"),
        StaticDevice: StaticDevice.objects.create(user=member, name=f"{secret} recovery codes"),
    }
    return TenantWorld(tenant=tenant, markers=(secret, tenant.name.lower()), objects=objects)


@pytest.fixture
def world(cast) -> dict[str, TenantWorld]:
    worlds = {
        "acme": _tenant_world(cast.acme, cast.root),
        "globex": _tenant_world(cast.globex, cast.root),
    }
    # A purge run over both tenants (one expired recording each): it names both in its preview.
    for tenant_world in worlds.values():
        ingest(tenant_world.tenant, started_at=LONG_AGO, number="+33612345679")
    run = purge_expired_recordings()
    for tenant_world in worlds.values():
        tenant_world.objects[PurgeRun] = run
        tenant_world.objects[Group] = Group.objects.order_by("pk").first()
    return worlds


# --- probing --------------------------------------------------------------------------------------


def _table_digests() -> dict[str, int]:
    """How many rows each table has had inserted, updated or deleted in this test's transaction
    (PostgreSQL's own counters, which cost nothing to read): a write anywhere (but in
    UNCHECKED_TABLES) changes one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
        )
        return {table: count for table, count in cursor.fetchall() if table not in UNCHECKED_TABLES}


@dataclass
class Probe:
    method: str
    path: str
    data: dict = field(default_factory=dict)
    # For a view of one object: the same request for an id that does not exist.
    missing_path: str = ""
    # Statuses this probe must answer with (None: any, as long as nothing leaks or is written).
    refused: bool = True
    # A table the probe may write, and its model, whose new rows must all be the viewer's.
    own_write: tuple[str, type] | None = None
    # The probed object belongs to a tenant (the other one): a "not found" answer to a member
    # of no role there leaves exactly one `access.cross_tenant_refused` on the trail.
    foreign_object: bool = False
    # The route's name, or for view-on-site the model's label (the coverage check).
    view: str = ""


CROSS_TENANT = "access.cross_tenant_refused"


class Prober:
    """Requests probes as one user (None: someone not signed in) and collects every problem
    found."""

    def __init__(self, user, foreign: TenantWorld | None):
        self.user = user
        self.name = user.username if user is not None else "anonymous"
        self.foreign = foreign
        self.client = Client()
        if user is not None:
            self.client.force_login(user)
        self.problems: list[str] = []
        self.digests = _table_digests()
        self.last_sequence = _last_sequence()
        # The views whose "not found" answer to this prober was a cross-tenant refusal.
        self.refusals_recorded: set[str] = set()
        # The last id of each model a page may write for its viewer, before any request.
        self._floors: dict[type, int] = {
            model: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            for _, model in OWN_WRITES.values()
        }

    def request(self, method: str, path: str, data: dict | None = None):
        if method == "GET":
            response = self.client.get(path, data or {})
        else:
            response = self.client.post(path, data or {})
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response, body

    def problem(self, probe: Probe, message: str) -> None:
        self.problems.append(f"{self.name} {probe.method} {probe.path}: {message}")

    def check_writes(self, probe: Probe) -> None:
        after = _table_digests()
        changed = sorted(
            table for table, digest in after.items() if self.digests.get(table, 0) != digest
        )
        if probe.own_write is not None and probe.own_write[0] in changed:
            table, model = probe.own_write
            changed.remove(table)
            others = model.objects.exclude(user=self.user).filter(pk__gt=self._floors[model])
            if others.exists():
                changed.append(f"{table} (a row of another person)")
        if changed:
            self.problem(probe, f"wrote to {', '.join(changed)}")
        self.digests = after

    def cross_tenant_events(self) -> int:
        last = _last_sequence()
        count = AuditEvent.objects.filter(
            action=CROSS_TENANT, sequence__gt=self.last_sequence
        ).count()
        self.last_sequence = last
        return count

    def check_cross_tenant_refusal(self, probe: Probe, response) -> None:
        """Another tenant's object answered "not found" leaves one refusal on the trail (none for
        a platform operator, or a role turned away before the look-up); anything else none."""
        expected = int(
            probe.foreign_object
            and self.user is not None
            and not self.user.is_superuser
            and _answers_not_found(response)
        )
        found = self.cross_tenant_events()
        if found != expected:
            self.problem(
                probe,
                f"answered {response.status_code} leaving {found} {CROSS_TENANT}, not {expected}",
            )
        elif found:
            self.refusals_recorded.add(probe.view)

    def run(self, probe: Probe) -> None:
        response, body = self.request(probe.method, probe.path, probe.data)
        self.check_writes(probe)
        self.check_cross_tenant_refusal(probe, response)
        if self.foreign is not None:
            # A redirect to sign in carries the request itself back (?next=), markers included.
            location = response.get("Location", "").partition("?next=")[0]
            leaked = self.foreign.leaked(body + location.encode())
            if leaked:
                self.problem(probe, f"answered {response.status_code} showing {leaked}")
        if probe.refused and not _is_refusal(response):
            self.problem(probe, f"answered {response.status_code}, not a refusal")
        if probe.missing_path:
            missing, _ = self.request(probe.method, probe.missing_path, probe.data)
            self.check_writes(probe)
            if self.cross_tenant_events():
                self.problem(probe, f"an id that does not exist left {CROSS_TENANT}")
            if _shape(response, probe.path) != _shape(missing, probe.missing_path):
                self.problem(
                    probe,
                    f"answered {_shape(response, probe.path)}, but an id that does not exist "
                    f"{_shape(missing, probe.missing_path)}",
                )


def _last_sequence() -> int:
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def _answers_not_found(response) -> bool:
    """A 404, or the admin's redirect for an object it cannot find."""
    return response.status_code == 404 or (
        response.status_code == 302 and response["Location"] == reverse("admin:index")
    )


def _is_refusal(response) -> bool:
    if response.status_code in (400, 401, 403, 404, 405):
        return True
    if response.status_code != 302:
        return False
    location = response["Location"]
    return (
        location.startswith(reverse("admin:login"))
        or location.endswith("?e=1")
        # The admin's answer for an object it cannot find, the same for an id that does not
        # exist (the probe's missing_path checks it).
        or location == reverse("admin:index")
    )


def _shape(response, path: str) -> tuple[int, str]:
    return response.status_code, response.get("Location", "").replace(path, "<path>")


def _root_request(root, path: str = "/admin/"):
    request = RequestFactory().get(path)
    request.user = root
    return request


def _form_data(model_admin: ModelAdmin, root, obj, *, change: bool, replace: tuple[str, str]):
    """The admin form's POST body for `obj` (its own values, text with `replace` applied), as
    a browser would send it; with empty inline formsets."""
    request = _root_request(root)
    form = model_admin.get_form(request, obj if change else None)(instance=obj)
    data: dict[str, Any] = {}
    for name, form_field in form.fields.items():
        value = form[name].value()
        widget = form_field.widget
        if isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        elif value is not None:
            data[name] = str(value).replace(*replace)
    for inline in model_admin.get_inline_instances(request, obj if change else None):
        prefix = inline.get_formset(request, obj).get_default_prefix()
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def _history_version(obj) -> int | None:
    history = getattr(obj, "history", None)
    return history.latest().history_id if history is not None else None


def _missing_id(model) -> int | uuid.UUID:
    if model._meta.pk.get_internal_type() == "UUIDField":
        return uuid.uuid4()
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
    return last + 100_000


def _object_probes(route: Route, kind: str, obj, root, replace) -> list[Probe]:
    """The probes of a view of `obj` (and the same for an id that does not exist)."""
    if kind == "object":
        view = OBJECT_VIEWS[route.name]
        path = reverse(route.name, args=[obj.pk])
        missing = reverse(route.name, args=[_missing_id(view.model)])
        return [Probe("GET", path, {}, missing), Probe("POST", path, view.data, missing)]
    model_admin = route.model_admin
    name = route.name
    if kind == "simple_history":
        version = _history_version(obj)
        path = reverse(name, args=[obj.pk, version])
        missing = reverse(name, args=[_missing_id(type(obj)), version])
        data = _form_data(model_admin, root, obj, change=True, replace=replace)
        return [Probe("GET", path, {}, missing), Probe("POST", path, data, missing)]
    path = reverse(name, args=[obj.pk])
    missing = reverse(name, args=[_missing_id(type(obj))])
    if kind == "change":
        data = _form_data(model_admin, root, obj, change=True, replace=replace)
    elif kind == "delete":
        data = {"post": "yes"}
    else:
        data = {}
    return [Probe("GET", path, {}, missing), Probe("POST", path, data, missing)]


def _model_of(route: Route, kind: str):
    if kind == "object":
        return OBJECT_VIEWS[route.name].model
    return route.model_admin.model


def _foreign_probes(world: TenantWorld, root) -> list[Probe]:
    """Every probe of another tenant's objects, through every URL pattern."""
    probes: list[Probe] = []
    secret = world.markers[0]
    replace = (secret, "probe")
    for route in ROUTES:
        kind = _kind(route)
        if kind in ("object", "change", "delete", "history", "simple_history"):
            model = _model_of(route, kind)
            if kind == "simple_history" and not hasattr(model, "history"):
                continue
            refused = model not in PLATFORM_ADMINS or PLATFORM_ADMINS[model] == "operators only"
            for probe in _object_probes(route, kind, world.object(model), root, replace):
                probe.refused = refused
                probe.foreign_object = tenant_field_of(model) is not None
                probe.view = route.name
                if not refused:
                    probe.missing_path = ""  # a platform row: every member sees the same
                probes.append(probe)
        elif kind == "legacy_redirect":
            obj = world.object(route.model_admin.model)
            meta = route.model_admin.model._meta
            path = f"/{route.route.replace('<path:object_id>/', f'{obj.pk}/')}"
            probes.append(Probe("GET", path, refused=False))
            assert meta.model_name in path
        elif kind == "changelist":
            probes += _changelist_probes(route, world, root, replace)
        elif kind == "add":
            model_admin = route.model_admin
            obj = world.object(model_admin.model)
            data = _form_data(model_admin, root, obj, change=False, replace=replace)
            path = reverse(route.name)
            probes += [Probe("GET", path, refused=False), Probe("POST", path, data, refused=False)]
        elif kind == "autocomplete":
            probes += _autocomplete_probes(world)
        elif kind == "view_on_site":
            for model, obj in world.objects.items():
                content_type = ContentType.objects.get_for_model(model)
                probes.append(
                    Probe(
                        "GET",
                        reverse(route.name, args=[content_type.pk, obj.pk]),
                        missing_path=reverse(
                            route.name, args=[content_type.pk, _missing_id(model)]
                        ),
                        foreign_object=tenant_field_of(model) is not None,
                        view=f"{route.name} {model._meta.label}",
                    )
                )
        elif kind == "export":
            path = reverse(route.name)
            probes.append(Probe("GET", path, refused=False))
            probes.append(Probe("GET", path, {"tenant": world.tenant.pk}))
        elif kind == "app_list":
            for app_label in {model._meta.app_label for model in _model_admins()}:
                probes.append(Probe("GET", reverse(route.name, args=[app_label]), refused=False))
        elif kind == "catch_all":
            probes.append(Probe("GET", f"/admin/{secret}/", refused=False))
        elif kind == "api":
            probes.append(Probe("POST", reverse(route.name), {"tenant": world.tenant.pk}))
        elif kind == "api_object":
            probes.append(Probe("GET", reverse(route.name, args=[world.object(DncScrub).pk])))
        elif kind == "page":
            path = "/" + route.route if not route.name else reverse(route.name)
            probes.append(Probe("GET", path, refused=False, own_write=OWN_WRITES.get(route.name)))
        elif kind == "command":
            probes.append(Probe("GET", reverse(route.name)))  # POST only
    return probes


def _changelist_probes(route: Route, world: TenantWorld, root, replace) -> list[Probe]:
    """The list; each of its filters given the other tenant's ids; each action on its row."""
    model_admin = route.model_admin
    obj = world.object(model_admin.model)
    path = reverse(route.name)
    probes = [Probe("GET", path, refused=False)]
    request = _root_request(root, path)
    changelist = model_admin.get_changelist_instance(request)
    parameters = {name for spec in changelist.filter_specs for name in spec.expected_parameters()}
    for name in sorted(parameters):
        for value in {obj.pk, world.tenant.pk}:
            probes.append(Probe("GET", path, {name: value}, refused=False))
    for action in model_admin.get_actions(request):
        probes.append(
            Probe(
                "POST",
                path,
                {"action": action, "_selected_action": [obj.pk], "index": 0, "post": "yes"},
                refused=False,
            )
        )
    return probes


def _autocomplete_probes(world: TenantWorld) -> list[Probe]:
    """Every relation of a registered model to a model whose admin can be searched: the
    answers for an empty term and for the other tenant's marker."""
    registry = _model_admins()
    probes = []
    for model in registry:
        for relation in model._meta.get_fields():
            if not (relation.is_relation and relation.concrete):
                continue
            if relation.related_model not in registry:
                continue
            for term in ("", world.markers[0]):
                probes.append(
                    Probe(
                        "GET",
                        reverse("admin:autocomplete"),
                        {
                            "app_label": model._meta.app_label,
                            "model_name": model._meta.model_name,
                            "field_name": relation.name,
                            "term": term,
                        },
                        refused=False,
                    )
                )
    return probes


def _report(problems: list[str]) -> str:
    shown = problems[:60]
    more = f"\n… and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return "\n".join(shown) + more


# Every URL as every member, against a world of every model: about 2 minutes on a quiet 2-core
# machine, over 4 under load; the suite's 300 s would cut it short there.
@pytest.mark.timeout(900)
def test_no_member_reaches_another_tenants_objects_through_any_url(cast, world, settings):
    # Every prober's API probes fail to authenticate from one address: past the limit they
    # would be answered 429 before any key check (compliance/api_auth.py), which is not what
    # this test is about.
    settings.API_AUTH_FAILURE_LIMIT = 10_000
    probes = {
        "globex": _foreign_probes(world["globex"], cast.root),
        "acme": _foreign_probes(world["acme"], cast.root),
    }
    assert len(probes["globex"]) > 200
    problems = []
    recorded: set[str] = set()
    for user, foreign in [
        (cast.alice, "globex"),
        (cast.bob, "globex"),
        (cast.carol, "globex"),
        (cast.dave, "globex"),
        (cast.erin, "acme"),
        (None, "acme"),
    ]:
        prober = Prober(user, world[foreign])
        for probe in probes[foreign]:
            prober.run(probe)
        problems += prober.problems
        recorded |= prober.refusals_recorded
    assert not problems, _report(problems)
    # Every view of a tenant's object answered someone "not found" and recorded it; but delete
    # pages, which no role may use (a 403 before the look-up).
    expected = {
        probe.view
        for probe in probes["acme"]
        if probe.foreign_object and not probe.view.endswith("_delete")
    }
    assert expected - recorded == set(), "views that recorded no cross-tenant refusal"


# --- role-forbidden writes within one's own tenant ------------------------------------------------


def _permission(model, operation: str) -> str:
    meta = model._meta
    default = f"{meta.app_label}.{operation}_{meta.model_name}"
    return WRITE_PERMISSIONS.get((model, operation), default)


def _role_may(user, tenant: Tenant, permission: str) -> bool:
    if user.is_superuser:
        return True
    role = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True)
    return role_grants(role.first(), permission)


def _own_write_probes(user, world: TenantWorld, root) -> list[Probe]:
    """Every write the user's role in its tenant does not allow, on that tenant's objects."""
    probes = []
    replace = (world.markers[0], f"{world.markers[0]}-changed")
    for route in ROUTES:
        kind = _kind(route)
        if kind in ("history", "simple_history"):
            model = route.model_admin.model
            if kind == "simple_history" and not hasattr(model, "history"):
                continue
            # Nobody writes through a history page, the platform operator included.
            probes += _object_probes(route, kind, world.object(model), root, replace)
            continue
        if kind == "command":
            if not _role_may(user, world.tenant, COMMANDS[route.name]):
                probes.append(Probe("POST", reverse(route.name)))
            continue
        if kind == "object":
            view = OBJECT_VIEWS[route.name]
            if view.writes and not _role_may(user, world.tenant, view.writes):
                obj = world.object(view.model)
                probes.append(Probe("POST", reverse(route.name, args=[obj.pk]), view.data))
            continue
        if kind not in ("add", "change", "delete", "changelist"):
            continue
        model_admin = route.model_admin
        model = model_admin.model
        obj = world.object(model)
        if kind == "changelist":
            request = _root_request(root)
            for action, (function, _, _) in model_admin.get_actions(request).items():
                needed = getattr(function, "allowed_permissions", ())
                if all(_role_may(user, world.tenant, _permission(model, p)) for p in needed):
                    continue
                probes.append(
                    Probe(
                        "POST",
                        reverse(route.name),
                        {"action": action, "_selected_action": [obj.pk], "index": 0, "post": "yes"},
                    )
                )
            continue
        if _role_may(user, world.tenant, _permission(model, kind)):
            continue
        if kind == "add":
            data = _form_data(model_admin, root, obj, change=False, replace=replace)
            probes.append(Probe("POST", reverse(route.name), data))
        elif kind == "change":
            data = _form_data(model_admin, root, obj, change=True, replace=replace)
            probes.append(Probe("POST", reverse(route.name, args=[obj.pk]), data))
        else:
            probes.append(Probe("POST", reverse(route.name, args=[obj.pk]), {"post": "yes"}))
    for probe in probes:
        probe.refused = False  # the answer may be a page with an error; nothing may be written
        probe.missing_path = ""
    return probes


def test_no_role_writes_what_it_is_not_allowed_to_in_its_own_tenant(cast, world):
    problems = []
    for user, tenant in [
        (cast.dave, "acme"),
        (cast.carol, "acme"),
        (cast.bob, "acme"),
        (cast.alice, "acme"),
        (cast.erin, "globex"),
        (cast.root, "acme"),
    ]:
        prober = Prober(user, None)
        for probe in _own_write_probes(user, world[tenant], cast.root):
            prober.run(probe)
        problems += prober.problems
    assert not problems, _report(problems)


# --- query-string lookups -------------------------------------------------------------------------


def test_no_changelist_filters_by_a_lookup_it_does_not_declare(cast, login):
    client = login(cast.root)
    accepted = []
    for model in _model_admins():
        meta = model._meta
        path = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        for model_field in meta.concrete_fields:
            lookup = f"{model_field.name}__startswith"
            response = client.get(path, {lookup: "x"})
            if not (
                response.status_code == 400
                or (response.status_code == 302 and response["Location"] == f"{path}?e=1")
            ):
                accepted.append(f"{path}?{lookup}=x answered {response.status_code}")
    assert not accepted, "\n".join(accepted)
    refused = AuditEvent.objects.filter(action="admin.lookup_refused").count()
    assert refused == sum(len(model._meta.concrete_fields) for model in _model_admins())


def test_the_probes_cover_every_kind_of_view(cast, world):
    """The tables above stay in use: each kind of view is probed at least once."""
    kinds = {_kind(route) for route in ROUTES}
    assert kinds >= {
        "changelist",
        "add",
        "change",
        "delete",
        "history",
        "simple_history",
        "object",
        "autocomplete",
        "view_on_site",
        "export",
        "api",
        "api_object",
        "page",
        "catch_all",
        "legacy_redirect",
        "shadowed",
        "command",
    }
    assert re.search(r"history/", " ".join(route.route for route in ROUTES))


def test_the_write_detector_sees_a_write(cast):
    """The probes' "nothing written" is only as good as this: an update is seen."""
    prober = Prober(cast.alice, None)
    Tenant.objects.filter(pk=cast.acme.pk).update(name="Acme Insurance SA")
    prober.check_writes(Probe("GET", "/"))
    assert prober.problems == ["alice GET /: wrote to compliance_tenant"]


def test_an_api_key_reaches_no_other_tenants_campaign_or_scrub(cast, world, settings, tmp_path):
    """The do-not-call API names objects by id: another tenant's campaign (check, scrub) and
    another tenant's scrub (its removed rows) answer 404 in the API's shape, leak no marker of
    that tenant and write nothing."""
    settings.DNC_SCRUB_ROOT = tmp_path
    acme, globex = world["acme"], world["globex"]
    token = api_key_create(actor=None, tenant=acme.tenant, name="Acme dialer")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    campaign = globex.object(Campaign).pk
    digests = _table_digests()
    scrubs = DncScrub.objects.count()
    responses = {
        "check": client.get("/api/v1/dnc/check", {"number": "+34612345678", "campaign": campaign}),
        "scrub": client.post(
            f"/api/v1/dnc/scrub?campaign={campaign}",
            b"number\n+34612345678\n",
            content_type="text/csv",
        ),
        "removed": client.get(reverse("api_dnc_scrub_removed", args=[globex.object(DncScrub).pk])),
    }
    for name, response in responses.items():
        assert response.status_code == 404, name
        assert set(response.json()) == {"error", "field"}, name
        assert globex.leaked(response.content) == [], name
    assert DncScrub.objects.count() == scrubs
    changed = {table for table, digest in _table_digests().items() if digests.get(table) != digest}
    # The key's own use (last_used_at, the rate limit's counter) is all that is written.
    assert changed <= {"compliance_apikey", "compliance_apikeyrequestcount"}, changed
