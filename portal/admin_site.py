"""The portal's admin site: Django's, whose index lists first, for the roles that see them, the
open alerts (most severe, then newest, on top), the open incidents (nearest 72-hour deadline
on top) and the open data-subject requests (nearest deadline on top) of the viewer's tenants."""

from __future__ import annotations

from django.contrib import admin

from audit.models import ALERT_OPEN_STATUSES, Alert, Incident, IncidentStatus, severity_rank
from compliance.models import SubjectRequest
from compliance.subject_request_models import OPEN_STATUSES

# How many of each the index shows; the lists link to the rest.
SHOWN = 10


class PortalAdminSite(admin.AdminSite):
    site_header = "Custodia"
    site_title = "Custodia"
    index_title = "Call recordings compliance"

    def index(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), **self._open_work(request)}
        return super().index(request, extra_context)

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
                for subject_request in requests.select_related("tenant").order_by("due_on", "pk")[
                    :SHOWN
                ]
            ]
        return context
