"""The portal's admin site: Django's, whose index is the compliance dashboard
(portal/dashboard.py): for the roles that see them, the open alerts (most severe, then newest,
on top), the open incidents (nearest 72-hour deadline on top) and the open data-subject requests
(nearest deadline on top) of the viewer's tenants; for compliance officers, the processors whose
agreement needs attention and the risks overdue for review; for the roles that read them, each
tenant's register of processing and risk analysis, one click away; then each tenant's panels
(counts, each a link to its filtered list, and small charts). A platform operator's index has
the platform's panels and a board per tenant one click away (`tenant_dashboard`)."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import ALERT_OPEN_STATUSES, Alert, Incident, IncidentStatus, severity_rank
from compliance.models import Processor, Risk, SubjectRequest, Tenant
from compliance.services.processors import flags_label, processors_flagged
from compliance.services.risks import risks_flagged
from compliance.subject_request_models import OPEN_STATUSES, deadline_expression
from compliance.tenancy import cross_tenant_refusal_record, viewer_tenant_ids
from signin.languages import language_brought, language_forgotten

from .dashboard import member_tenants, platform_board, tenant_board

# How many of each the index shows; the lists link to the rest.
SHOWN = 10


class PortalAdminSite(admin.AdminSite):
    site_header = "Custodia"
    site_title = "Custodia"
    # The dashboard's heading, in the reader's language.
    index_title = gettext_lazy("Call recordings compliance")
    # No "View site" link: the admin is the site (/ redirects here), and the link looped back.
    site_url = None

    def login(self, request, extra_context=None):
        """Signing in brings the language the person chose on their account (the header's
        switcher, signin/languages.py) to this browser: a shared workstation shows each person
        their own."""
        response = super().login(request, extra_context)
        if request.method == "POST" and request.user.is_authenticated:
            language_brought(response, request.user)
        return response

    def logout(self, request, extra_context=None):
        """Signing out takes the person's language with them (signin/languages.py)."""
        response = super().logout(request, extra_context)
        if request.method == "POST":  # signed out (a GET is refused, and signs nobody out)
            language_forgotten(response)
        return response

    def each_context(self, request):
        """Every admin page's header says in which tenant, with which role, the viewer acts."""
        context = super().each_context(request)
        context["viewer_roles"] = self.viewer_roles(request)
        return context

    @staticmethod
    def viewer_roles(request) -> list[str]:
        user = request.user
        if not user.is_authenticated:
            return []
        roles = [_("Platform operator")] if user.is_superuser else []
        memberships = user.memberships.select_related("tenant").order_by("tenant__name")
        roles += [
            _("%(role)s at %(tenant)s")
            % {"role": membership.get_role_display(), "tenant": membership.tenant.name}
            for membership in memberships
        ]
        return roles

    def index(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), **self._open_work(request)}
        if request.user.is_superuser:
            extra_context["platform_board"] = platform_board(request)
            extra_context["board_tenants"] = list(Tenant.objects.order_by("name"))
        else:
            extra_context["boards"] = [
                tenant_board(request, tenant) for tenant in member_tenants(request)
            ]
        return super().index(request, extra_context)

    def get_urls(self):
        board = path(
            "dashboard/<int:tenant_id>/",
            self.admin_view(self.tenant_dashboard),
            name="dashboard",
        )
        return [board, *super().get_urls()]

    def tenant_dashboard(self, request, tenant_id: int):
        """One tenant's board on a page of its own: the platform operator reaches each tenant's
        from the index. Another tenant's is the 404 an unknown id gets, on its trail."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        tenants = Tenant.objects.all()
        if not request.user.is_superuser:
            tenants = tenants.filter(pk__in=viewer_tenant_ids(request))
        tenant = tenants.filter(pk=tenant_id).first()
        if tenant is None:
            cross_tenant_refusal_record(request, Tenant, tenant_id, view="dashboard")
            raise Http404
        context = {
            **self.each_context(request),
            "title": _("Compliance dashboard: %(tenant)s") % {"tenant": tenant.name},
            "boards": [tenant_board(request, tenant)],
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/dashboard.html", context)

    def _open_work(self, request) -> dict:
        context: dict = {}
        alert_admin = self._registry.get(Alert)
        if alert_admin is not None and alert_admin.has_view_permission(request):
            alerts = alert_admin.get_queryset(request).filter(status__in=ALERT_OPEN_STATUSES)
            context["open_alerts"] = list(
                alerts.select_related("tenant")
                .annotate(rank=severity_rank())
                .order_by("rank", "-raised_at")[:SHOWN]
            )
        incident_admin = self._registry.get(Incident)
        if incident_admin is not None and incident_admin.has_view_permission(request):
            incidents = incident_admin.get_queryset(request).filter(status=IncidentStatus.OPEN)
            context["open_incidents"] = [
                (incident, incident_admin.hours_left_shown(incident))
                for incident in incidents.select_related("tenant").order_by("aware_at")[:SHOWN]
            ]
        request_admin = self._registry.get(SubjectRequest)
        if request_admin is not None and request_admin.has_view_permission(request):
            requests = request_admin.get_queryset(request).filter(status__in=OPEN_STATUSES)
            context["open_requests"] = [
                (subject_request, subject_request.deadline_label())
                for subject_request in requests.select_related("tenant").order_by(
                    deadline_expression(), "pk"
                )[:SHOWN]
            ]
        context.update(self._compliance_documents(request))
        return context

    def _compliance_documents(self, request) -> dict:
        context: dict = {}
        processor_admin = self._registry.get(Processor)
        risk_admin = self._registry.get(Risk)
        if processor_admin is None or not processor_admin.has_view_permission(request):
            return context
        context["document_tenants"] = list(processor_admin.visible_tenants(request))
        if processor_admin.has_change_permission(request):
            # The compliance officers' (in the tenants where they are): what needs their action.
            mine = processor_admin.get_queryset(request)
            risks = risk_admin.get_queryset(request)
            if not request.user.is_superuser:
                mine = mine.filter(
                    tenant__in=processor_admin.permitted_tenant_ids(request, "change")
                )
                risks = risks.filter(tenant__in=risk_admin.permitted_tenant_ids(request, "change"))
            context["flagged_processors"] = [
                (processor, flags_label(flags)) for processor, flags in processors_flagged(mine)
            ][:SHOWN]
            context["flagged_risks"] = risks_flagged(risks)[:SHOWN]
        return context
