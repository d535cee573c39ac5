"""The recording register in the admin: read-only, tenant-scoped, usable at 10 million rows.

Recordings arrive through the API only and their audio is never replaced; deletion is the purge's
job. The list masks customer numbers; the detail page shows the full number, so each display of it
goes on the audit trail (`recording.viewed`, docs/architecture.md, invariant 4). Nothing here
counts or scans the whole table: the paginator's count is capped, filters offer bounded choices,
search is exact (index lookups), and the only sortable column is the indexed start time.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from audit.admin_links import audit_trail_link
from audit.services import customer_number_search_record
from compliance.access_rules import AccessNeed, allowed_access_purposes, may_listen
from compliance.admin_lookups import DeclaredLookupsChangeList
from compliance.models import LegalBasis, RetentionPolicy, Tenant, shown_name
from compliance.phone import numbers_by_tenant
from compliance.purpose_names import purpose_name_by_code
from compliance.roles import tenant_permits
from compliance.tenancy import (
    PortalAdmin,
    PurposeListFilter,
    ReadOnlyAdminMixin,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedHistoryAdmin,
    viewer_tenant_ids,
)
from kit.paginators import CappedCountPaginator
from kit.refusals import Refused
from kit.times import tenant_day

from .models import (
    STORED_STATUSES,
    AccessGrant,
    DeletionCertificate,
    PurgeRun,
    Recording,
    Status,
)
from .services.access import active_grant, recording_view_record, restriction_barring
from .services.purge.certificates import call_id_hashes, certificate_is_valid
from .services.purge.preview import PreviewUnsettled, preview_named, purge_preview
from .services.purge.run import purge_expired_recordings
from .services.telesales import telesales_outcome_record
from .subject_requests import admin as subject_requests_admin  # noqa: F401  (registers it)


class RetentionEndsFilter(admin.SimpleListFilter):
    """Active recordings by the end of their retention. Each choice is a range on retain_until
    among active rows, listed by that date (soonest first, then by id: the purge's own order),
    which the partial indexes recording_tenant_expiry (tenant, retain_until, id) and, for the
    platform operator's view of every tenant, recording_expiry (retain_until, id) give already
    sorted: the page and its capped count stop after their rows. Listed newest call first
    instead, a window's rows (over 100,000 at 10 million recordings) would all be read and
    sorted on every page."""

    title = _("retention ends")
    parameter_name = "retention_ends"
    ordering = ("retain_until", "pk")

    def lookups(self, request, model_admin):
        return [
            ("expired", _("Expired (awaiting purge)")),
            ("7d", _("Within 7 days")),
            ("30d", _("Within 30 days")),
            ("later", _("Later")),
        ]

    @staticmethod
    def windows() -> dict[str, Q]:
        today = timezone.localdate()
        return {
            "expired": Q(retain_until__lt=today),
            "7d": Q(retain_until__gte=today, retain_until__lte=today + timedelta(days=7)),
            "30d": Q(retain_until__gte=today, retain_until__lte=today + timedelta(days=30)),
            "later": Q(retain_until__gt=today + timedelta(days=30)),
        }

    @classmethod
    def chosen(cls, request) -> bool:
        """Whether the request lists one of the windows (the changelist is then in its order)."""
        return request.GET.get(cls.parameter_name, "") in cls.windows()

    def queryset(self, request, queryset):
        window = self.windows().get(self.value() or "")
        if window is None:
            return queryset
        return queryset.filter(window, status=Status.ACTIVE)


class StoredStatusFilter(admin.ChoicesFieldListFilter):
    """Django's status filter (?status__exact=), offering only the statuses a row is ever stored
    with (STORED_STATUSES): an erased recording leaves no row to find, but its certificate."""

    def statuses(self) -> list[tuple[str, str]]:
        return [
            (value, label) for value, label in self.field.flatchoices if value in STORED_STATUSES
        ]

    def get_facet_counts(self, pk_attname, filtered_qs):
        return {
            f"{index}__c": Count(pk_attname, filter=Q((self.lookup_kwarg, value)))
            for index, (value, _label) in enumerate(self.statuses())
        }

    def choices(self, changelist):
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else None
        yield {
            "selected": self.lookup_val is None,
            "query_string": changelist.get_query_string(
                remove=[self.lookup_kwarg, self.lookup_kwarg_isnull]
            ),
            "display": _("All"),
        }
        for index, (value, label) in enumerate(self.statuses()):
            yield {
                "selected": self.lookup_val is not None and value in self.lookup_val,
                "query_string": changelist.get_query_string(
                    {self.lookup_kwarg: value}, [self.lookup_kwarg_isnull]
                ),
                "display": label if counts is None else f"{label} ({counts[f'{index}__c']})",
            }


class RecordingChangeList(DeclaredLookupsChangeList):
    """A retention window is listed in its own, indexed order (see RetentionEndsFilter), also
    when the link carries a column sort (?o=) over from the unfiltered list."""

    def get_ordering(self, request, queryset):
        if RetentionEndsFilter.chosen(request):
            return list(RetentionEndsFilter.ordering)
        return super().get_ordering(request, queryset)


# The distinct campaigns of one tenant by a "loose index scan" over the (tenant, campaign) index:
# each step is one index probe for the next campaign name, so the cost grows with the number of
# campaigns, not of recordings (a SELECT DISTINCT would read all of a tenant's millions of rows).
# PostgreSQL evaluates the recursive CTE lazily, so the LIMIT bounds the probes too.
_TENANT_CAMPAIGNS_SQL = """
WITH RECURSIVE campaigns(campaign) AS (
    (SELECT campaign FROM recordings_recording
      WHERE tenant_id = %(tenant)s AND campaign > ''
      ORDER BY campaign LIMIT 1)
    UNION ALL
    SELECT (SELECT next.campaign FROM recordings_recording AS next
             WHERE next.tenant_id = %(tenant)s AND next.campaign > previous.campaign
             ORDER BY next.campaign LIMIT 1)
      FROM campaigns AS previous
     WHERE previous.campaign IS NOT NULL
)
SELECT campaign FROM campaigns WHERE campaign IS NOT NULL LIMIT %(limit)s
"""

CAMPAIGNS_PER_TENANT = 100
# The largest id PostgreSQL's bigint holds: a longer number typed in a search is no id.
BIGINT_MAX = 2**63 - 1
# How many deleted calls a search of the recordings names (a call id is one call per tenant).
CERTIFICATES_NOTED = 5


def tenant_campaigns(tenant_id: int, *, limit: int = CAMPAIGNS_PER_TENANT) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_CAMPAIGNS_SQL, {"tenant": tenant_id, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


class CampaignFilter(admin.SimpleListFilter):
    """The campaigns of the viewer's tenants (of the tenant chosen in the tenant filter, if any),
    read with tenant_campaigns: at most CAMPAIGNS_PER_TENANT per tenant, alphabetically. A
    campaign beyond that is still reachable with ?campaign=<name>, an index lookup too."""

    title = _("campaign")
    parameter_name = "campaign"

    def lookups(self, request, model_admin):
        tenants = Tenant.objects.for_user(request.user)
        chosen_tenant = request.GET.get(TenantListFilter.parameter_name, "")
        if chosen_tenant.isdigit():
            tenants = tenants.filter(pk=chosen_tenant)
        names = {
            name for pk in tenants.values_list("pk", flat=True) for name in tenant_campaigns(pk)
        }
        if self.value():
            names.add(self.value())
        return [(name, name) for name in sorted(names)]

    def queryset(self, request, queryset):
        return queryset.filter(campaign=self.value()) if self.value() else queryset


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdminMixin, TenantScopedHistoryAdmin):
    list_display = (
        "call_id",
        "started_at",
        "direction",
        "purpose",
        "customer",
        "duration",
        "status",
        "retain_until",
        "tenant",
    )
    list_filter = (
        PurposeListFilter,
        ("status", StoredStatusFilter),
        "direction",
        TenantListFilter,
        RetentionEndsFilter,
        CampaignFilter,
    )
    list_select_related = ("purpose", "tenant")
    # The only sortable column is the one indexed with the tenant (recording_tenant_started);
    # sorting 10 million rows by anything else means reading them all.
    sortable_by = ("started_at",)
    search_fields = ("call_id",)  # shows the search box; get_search_results does the work
    search_help_text = _(
        "Exact call id, or the customer's number in any format (national numbers are read in the "
        "tenant's country)."
    )
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    changelist_class = RecordingChangeList
    # The legal basis is copied from the purpose at ingest, as a code (no choices of its own).
    history_labels = {"legal_basis": LegalBasis}
    actions = ("no_contract_followed", "contract_signed_today")

    def get_sortable_by(self, request):
        # No column header re-sorts a window by start time, which would sort all its rows.
        return () if RetentionEndsFilter.chosen(request) else super().get_sortable_by(request)

    def has_record_contract_outcome_permission(self, request) -> bool:
        return request.user.has_perm("recordings.record_contract_outcome")

    @admin.action(
        description=_("No contract followed (insurance telesales): destroy at the next purge"),
        permissions=["record_contract_outcome"],
    )
    def no_contract_followed(self, request, queryset):
        self._record_outcome(request, queryset, signed_on=None)

    @admin.action(
        description=_("Contract signed today (insurance telesales): keep 2 years from today"),
        permissions=["record_contract_outcome"],
    )
    def contract_signed_today(self, request, queryset):
        self._record_outcome(request, queryset, signed_on=timezone.localdate())

    def _record_outcome(self, request, queryset, *, signed_on) -> None:
        try:
            changed = telesales_outcome_record(
                actor=request.user, recordings=queryset, signed_on=signed_on
            )
        except Refused as error:
            self.message_user(request, str(error), level=messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d recording updated.", "%(count)d recordings updated.", changed)
            % {"count": changed},
        )

    view_on_site = False  # get_absolute_url is this very page
    fieldsets = (
        (
            _("Call"),
            {
                "fields": (
                    "call_id",
                    "tenant",
                    "direction",
                    "started_at",
                    "duration",
                    "agent_code",
                    "agent",
                    "customer_number",
                    "subject_reference",
                    "campaign",
                )
            },
        ),
        (
            _("Purpose and retention"),
            {
                "fields": (
                    "purpose",
                    "legal_basis_shown",
                    "retention_policy",
                    "retain_until",
                    "status",
                )
            },
        ),
        (
            _("Audio"),
            {"fields": ("content_type", "size_bytes", "audio_sha256", "ingested_at")},
        ),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    # --- read-only: recordings arrive through the API, the purge deletes them -----------------

    # --- columns -------------------------------------------------------------------------------

    @admin.display(description=_("Customer number"))
    def customer(self, recording: Recording) -> str:
        return recording.masked_number or "—"

    @admin.display(description=_("Legal basis"))
    def legal_basis_shown(self, recording: Recording) -> str:
        """The basis the recording was made on (copied from its purpose at ingest), by its label."""
        basis = recording.legal_basis
        return LegalBasis(basis).label if basis in LegalBasis.values else basis or "—"

    @admin.display(description=_("Duration"))
    def duration(self, recording: Recording) -> str:
        seconds = int(recording.duration_seconds)
        return f"{seconds // 60}:{seconds % 60:02d}"

    # --- exact search --------------------------------------------------------------------------

    def get_search_results(self, request, queryset, search_term):
        """An exact call id, or a customer number normalised to E.164 in each of the viewer's
        tenants' countries (the same national digits are different numbers in France and Spain).
        Every branch names its tenants, so that each is an index lookup on (tenant, call_id) or
        (tenant, customer_number), never a scan.

        A search by number tells which calls involve that person: each number searched goes on
        the trail (masked, and as a keyed hash), whether the list or an autocomplete asked."""
        term = search_term.strip()
        if not term:
            return queryset, False
        tenants = list(self.visible_tenants(request).values_list("pk", "country_code"))
        condition = Q(tenant_id__in=[tenant_id for tenant_id, _ in tenants], call_id=term)
        for number, tenant_ids in numbers_by_tenant(term, tenants).items():
            condition |= Q(tenant_id__in=tenant_ids, customer_number=number)
            customer_number_search_record(
                action="recording.searched", user=request.user, number=number, tenant_ids=tenant_ids
            )
        return queryset.filter(condition), False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        term = request.GET.get(SEARCH_VAR, "").strip()
        if term and response.status_code == 200:
            self._deleted_calls_note(request, term)
        return response

    @staticmethod
    def _deleted_calls_note(request, term: str) -> None:
        """A call searched by its id that was deleted is not in the list, but its deletion
        certificate is: the search says so, with a link, to the roles that read certificates
        in its tenant (the page is rendered after this: the message shows on it)."""
        tenant_ids = [
            tenant_id
            for tenant_id in Tenant.objects.for_user(request.user).values_list("pk", flat=True)
            if tenant_permits(request.user, tenant_id, "recordings.view_deletioncertificate")
        ]
        if not tenant_ids:
            return
        certificates = DeletionCertificate.objects.filter(
            certificates_of_call(term, tenant_ids, by_recording_id=False)
        ).select_related("tenant")
        for certificate in certificates[:CERTIFICATES_NOTED]:
            url = reverse("admin:recordings_deletioncertificate_change", args=[certificate.pk])
            messages.info(
                request,
                format_html(
                    gettext(
                        'Call {} was deleted on {} ({}): <a href="{}">its deletion certificate</a>.'
                    ),
                    term,
                    tenant_day(certificate.deleted_at, certificate.tenant).isoformat(),
                    certificate.get_reason_display(),
                    url,
                ),
            )

    # --- the detail page -----------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The page shows the full customer number: personal metadata, traced on every display.
            recording_view_record(user=request.user, recording=obj)
            context.update(self._access_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- its history: the metadata's versions (a rectification's old and new values) ----------

    def history_view(self, request, object_id, extra_context=None):
        """The recording's versions, each with the change's old and new values and its reason
        (a rectification names its request). A corrected number shows in full: like the detail
        page, each display is on the trail."""
        response = super().history_view(request, object_id, extra_context)
        self._history_shown(request, object_id, response, page="history")
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        response = super().history_form_view(request, object_id, version_id, extra_context)
        self._history_shown(request, object_id, response, page="history version")
        return response

    def _history_shown(self, request, object_id, response, *, page: str) -> None:
        if response.status_code == 200:  # not a refused POST (405)
            recording = self._history_object(request, object_id)
            recording_view_record(user=request.user, recording=recording, page=page)

    @staticmethod
    def _holds_context(request, recording: Recording) -> dict:
        """Whether a legal hold keeps the recording, and which, for the roles that read holds in
        its tenant (the others are not told of litigation or inquiries)."""
        if not tenant_permits(request.user, recording.tenant_id, "compliance.view_legalhold"):
            return {"holds_shown": False}
        holds = recording.active_holds().order_by("placed_at", "pk")
        return {
            "holds_shown": True,
            "holds": [
                (hold, reverse("admin:compliance_legalhold_change", args=[hold.pk]))
                for hold in holds
            ],
        }

    def _access_context(self, request, recording: Recording) -> dict:
        user = request.user
        can_listen = (
            recording.status == Status.ACTIVE
            and may_listen(user=user, recording=recording)
            and bool(allowed_access_purposes(user=user, recording=recording))
        )
        # A restriction (GDPR Art. 18) that bars this person: said instead of a Listen link
        # that could only be refused.
        restricted = restriction_barring(user=user, recording=recording) if can_listen else ""
        can_listen = can_listen and not restricted
        reviewer = user.has_perm("audit.view_auditevent")
        grants = AccessGrant.objects.filter(
            recording=recording, expires_at__gt=timezone.now()
        ).select_related("user")
        if not reviewer:
            grants = grants.filter(user=user)  # reviewers see everyone's; others their own
        needs = dict(AccessNeed.choices)
        return {
            **self._holds_context(request, recording),
            "listen_url": reverse("recordings:listen", args=[recording.pk]) if can_listen else "",
            "restricted_note": restricted,
            "player_url": (
                reverse("recordings:player", args=[recording.pk])
                if can_listen and active_grant(user=user, recording=recording)
                else ""
            ),
            "audit_trail_link": (
                audit_trail_link(f"target=recordings.recording:{recording.pk}") if reviewer else ""
            ),
            "current_grants": [
                (grant, needs.get(grant.purpose, grant.purpose)) for grant in grants[:50]
            ],
        }


class CertificatePurposeMixin:
    """A certificate keeps its purpose's code and its policy's id (no personal data, nothing
    that a later change could alter): shown by their names."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(purpose_name=purpose_name_by_code())

    @admin.display(description=_("Purpose"))
    def purpose(self, certificate: DeletionCertificate) -> str:
        name = getattr(certificate, "purpose_name", None)
        return shown_name(name) if name else certificate.purpose_code

    @admin.display(description=_("Retention policy"))
    def policy(self, certificate: DeletionCertificate) -> str:
        if certificate.policy_id is None:
            return "—"
        policy = RetentionPolicy.objects.filter(pk=certificate.policy_id).first()
        name = str(policy) if policy else _("a retention policy since removed")
        if certificate.policy_version:
            return _("%(policy)s, version %(version)s") % {
                "policy": name,
                "version": certificate.policy_version,
            }
        return name


class CertificateInline(CertificatePurposeMixin, admin.TabularInline):
    model = DeletionCertificate
    fields = ("recording_id", "tenant", "purpose", "reason", "retain_until", "deleted_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("tenant")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            tenant__in=viewer_tenant_ids(request, "recordings.view_deletioncertificate")
        )


def _scoped_preview(request, rows: list[dict]) -> list[dict]:
    """Preview rows of the viewer's tenants only (a run spans every tenant), and of those the
    ones where their role may see purge runs."""
    if request.user.is_superuser:
        return rows
    visible = set(viewer_tenant_ids(request, "recordings.view_purgerun"))
    return [row for row in rows if row["tenant_id"] in visible]


def _preview_shown(request, rows: list[dict]) -> list[dict]:
    """The viewer's preview rows (`_scoped_preview`), purposes and reasons by their names."""
    return preview_named(_scoped_preview(request, rows))


@admin.register(PurgeRun)
class PurgeRunAdmin(ReadOnlyAdminMixin, PortalAdmin, admin.ModelAdmin):
    """Last night's run, its counts and its certificates. A run spans every tenant: its totals
    (found, deleted, kept by holds, failed, files) are the platform operator's; a tenant's
    people see the figures of their own tenants (the preview rows of the run, its certificates)
    and nothing of another tenant's volume."""

    list_display = (
        "started_at",
        "status",
        "purged",
        "skipped_held",
        "failed",
        "files_removed",
        "duration",
        "triggered_by",
    )
    list_filter = ("status",)
    fields = (
        "started_at",
        "finished_at",
        "status",
        "triggered_by",
        "expired_found",
        "purged",
        "skipped_held",
        "failed",
        "files_removed",
        "errors",
    )
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator

    # What a tenant's people see of a run: no platform total, no error line (file names, other
    # tenants' names).
    tenant_fields = ("started_at", "finished_at", "status", "triggered_by")

    def get_inlines(self, request, obj):
        return [CertificateInline] if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.fields if request.user.is_superuser else self.tenant_fields

    def get_list_display(self, request):
        if request.user.is_superuser:
            return self.list_display
        visible = set(viewer_tenant_ids(request, "recordings.view_purgerun"))

        def rows(run: PurgeRun) -> list[dict]:
            return [row for row in run.preview if row["tenant_id"] in visible]

        @admin.display(description=_("To delete (your tenants)"))
        def tenant_to_delete(run: PurgeRun) -> int:
            return sum(row["to_delete"] for row in rows(run))

        @admin.display(description=_("Kept by legal holds (your tenants)"))
        def tenant_held_back(run: PurgeRun) -> int:
            return sum(row["held_back"] for row in rows(run))

        return ("started_at", "status", tenant_to_delete, tenant_held_back, "triggered_by")

    @admin.display(description=_("Legal basis"))
    def legal_basis_shown(self, recording: Recording) -> str:
        """The basis the recording was made on (copied from its purpose at ingest), by its label."""
        basis = recording.legal_basis
        return LegalBasis(basis).label if basis in LegalBasis.values else basis or "—"

    @admin.display(description=_("Duration"))
    def duration(self, run: PurgeRun) -> str:
        seconds = run.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f} s"

    # --- a dry run, started by a compliance officer ----------------------------------------

    def get_urls(self):
        dry_run = self.admin_site.admin_view(self.dry_run_view)
        return [
            path("dry-run/", dry_run, name="recordings_purgerun_dry_run"),
            *super().get_urls(),
        ]

    @staticmethod
    def may_start_dry_run(request) -> bool:
        """A platform operator, or a person whose role carries the permission in one of their
        tenants (a compliance officer): the run counts every tenant, each sees their own."""
        if request.user.is_superuser:
            return True
        return bool(viewer_tenant_ids(request, "recordings.start_purge_dry_run"))

    def dry_run_view(self, request):
        """The existing dry run (recordings.services.purge.run.purge_expired_recordings with
        dry_run=True), recorded as the command's is: a run "Preview (dry run)" naming who
        started it, that deletes nothing; then its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.may_start_dry_run(request):
            raise PermissionDenied
        run = purge_expired_recordings(
            dry_run=True, triggered_by=f"{request.user.get_username()} (admin)"
        )
        self.message_user(
            request, gettext("Dry run done: what the next purge would delete. Nothing was deleted.")
        )
        return redirect(reverse("admin:recordings_purgerun_change", args=[run.pk]))

    def changelist_view(self, request, extra_context=None):
        try:
            preview = _preview_shown(request, purge_preview())
        except PreviewUnsettled:
            preview = []
            messages.warning(
                request,
                _(
                    "Legal holds were being placed or released while the preview was counted; "
                    "reload the page for tonight's preview."
                ),
            )
        extra_context = {
            **(extra_context or {}),
            "preview": preview,
            "preview_title": _("What tonight's run would delete"),
            "can_start_dry_run": self.may_start_dry_run(request),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "preview": _preview_shown(request, run.preview if run else []),
            "preview_title": _("What this run found"),
        }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(DeletionCertificate)
class DeletionCertificateAdmin(CertificatePurposeMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = (
        "recording_id",
        "tenant",
        "purpose",
        "reason",
        "retain_until",
        "deleted_at",
        "purge_run",
        "signature_valid",
    )
    list_filter = ("reason", TenantListFilter)
    list_select_related = ("tenant", "purge_run")
    search_fields = ("recording_id",)  # shows the search box; get_search_results does the work
    search_help_text = gettext_lazy(
        "Exact call id (a certificate keeps only its keyed hash, recomputed here) or recording id."
    )
    # The detail page: every field, the purpose's code and the policy's id by their names.
    fields = (
        "recording_id",
        "tenant",
        "call_id_hash",
        "audio_sha256",
        "storage_name",
        "purpose",
        "policy",
        "retain_until",
        "reason",
        "purge_run",
        "deleted_at",
        "signature",
        "signature_valid",
        "key_id",
    )
    readonly_fields = fields
    paginator = CappedCountPaginator
    show_full_result_count = False

    @admin.display(description=_("Signature"), boolean=True)
    def signature_valid(self, certificate: DeletionCertificate) -> bool:
        return certificate_is_valid(certificate)

    def get_search_results(self, request, queryset, search_term):
        """A recording id, or a call id: a certificate keeps no call id, only its keyed hash
        (bound to the tenant, under the key of the day: recordings.services.purge.certificates),
        so the term is hashed for each of the viewer's tenants under every known key, each an
        index probe on (tenant, call_id_hash)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        tenant_ids = self.visible_tenants(request).values_list("pk", flat=True)
        return queryset.filter(certificates_of_call(term, tenant_ids)), False


def certificates_of_call(term: str, tenant_ids, *, by_recording_id: bool = True) -> Q:
    """On DeletionCertificate: the certificates of the call whose id is `term` in one of these
    tenants, or (`by_recording_id`) of the recording whose id it is."""
    condition = Q(pk__in=[])
    for tenant_id in tenant_ids:
        condition |= Q(tenant_id=tenant_id, call_id_hash__in=call_id_hashes(tenant_id, term))
    if by_recording_id and term.isdigit() and int(term) <= BIGINT_MAX:
        condition |= Q(recording_id=int(term))
    return condition
