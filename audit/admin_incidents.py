"""The admin of alerts (triage), incidents (the 72-hour clock, Art. 33 and 34, the playbook) and
the crisis playbooks. Pages only: every change goes through audit/incidents.py's services.

Like audit/admin.py, this module reaches compliance for the admin's tenant scoping
(docs/architecture.md, deliberate seams); the models and services it calls import no app.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

# The deliberate seam of audit's admin modules towards compliance (docs/architecture.md).
from compliance.tenancy import ReadOnlyAdminMixin, TenantListFilter, TenantScopedAdmin
from kit.refusals import Refused
from kit.times import in_current_zone

from .admin_forms import CloseForm, IncidentForm, TriageForm
from .admin_links import audit_trail_link
from .incidents import (
    INCIDENT_FIELDS,
    alert_next_statuses,
    alert_triage,
    hours_left,
    incident_close,
    incident_open,
    incident_update,
    is_overdue,
    playbook_action_remove,
    playbook_action_save,
    rule_label,
)
from .models import (
    Alert,
    AlertStatus,
    Incident,
    IncidentStatus,
    PlaybookAction,
    severity_rank,
)
from .permissions import tenant_permits

# --- alerts -------------------------------------------------------------------------------------


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = (
        "summary",
        "rule_shown",
        "severity",
        "status",
        "subject_label",
        "window_shown",
        "event_count",
        "tenant",
        "raised_shown",
    )
    list_filter = ("status", "severity", TenantListFilter)
    list_select_related = ("tenant",)
    ordering = ("-raised_at",)
    fields = (
        "summary",
        "rule_shown",
        "severity",
        "status",
        "tenant",
        "subject_label",
        "window_shown",
        "event_count",
        "events_link",
        "raised_shown",
        "triage_history",
        "incidents_shown",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ("audit/incidents.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(severity_rank=severity_rank())

    @admin.display(description=_("rule"))
    def rule_shown(self, alert: Alert) -> str:
        return rule_label(alert.rule)

    @admin.display(description=_("time window"))
    def window_shown(self, alert: Alert) -> str:
        start = in_current_zone(alert.window_start)
        return f"{start} → {in_current_zone(alert.window_end)}"

    @admin.display(description=_("raised at"), ordering="raised_at")
    def raised_shown(self, alert: Alert) -> str:
        return in_current_zone(alert.raised_at)

    @admin.display(description=_("events that caused it"))
    def events_link(self, alert: Alert) -> str:
        label = _("The %(count)d events on the audit trail") % {"count": len(alert.event_sequences)}
        return audit_trail_link(f"alert={alert.pk}", label)

    @admin.display(description=_("triage steps"))
    def triage_history(self, alert: Alert) -> str:
        steps = alert.status_changes.select_related("changed_by")
        if not steps:
            return "—"
        return format_html(
            "<ol class='triage-steps'>{}</ol>",
            format_html_join(
                "",
                "<li>{} → {}, {} by {}: {}</li>",
                (
                    (
                        step.get_from_status_display(),
                        step.get_to_status_display(),
                        in_current_zone(step.changed_at),
                        step.changed_by,
                        step.note,
                    )
                    for step in steps
                ),
            ),
        )

    @admin.display(description=_("incidents"))
    def incidents_shown(self, alert: Alert) -> str:
        incidents = list(alert.incidents.all())
        if not incidents:
            return "—"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:audit_incident_change", args=[i.pk]), i.title) for i in incidents),
        )

    def get_urls(self):
        triage = self.admin_site.admin_view(self.triage_view)
        return [
            path("<int:alert_id>/triage/", triage, name="audit_alert_triage"),
            *super().get_urls(),
        ]

    def triage_view(self, request, alert_id: int):
        return self.object_action_view(
            request,
            alert_id,
            view="alert triage page",
            may=lambda alert: tenant_permits(request.user, alert.tenant_id, "audit.triage_alert"),
            form=lambda data, alert: TriageForm(data, alert=alert),
            act=lambda alert, data: alert_triage(
                actor=request.user, alert=alert, to_status=data["to_status"], note=data["note"]
            ),
            done=lambda alert: _("Alert now %(status)s.") % {"status": alert.get_status_display()},
            template="admin/audit/alert/triage.html",
            context=lambda alert: {
                "title": _("Triage alert: %(summary)s") % {"summary": alert.summary},
                "alert": alert,
            },
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["can_triage"] = bool(alert_next_statuses(obj)) and tenant_permits(
                request.user, obj.tenant_id, "audit.triage_alert"
            )
            if obj.status == AlertStatus.REAL_DANGER and tenant_permits(
                request.user, obj.tenant_id, "audit.add_incident"
            ):
                query = urlencode({"tenant": obj.tenant_id, "alerts": obj.pk, "title": obj.summary})
                context["open_incident_url"] = reverse("admin:audit_incident_add") + "?" + query
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- incidents ----------------------------------------------------------------------------------


@admin.register(Incident)
class IncidentAdmin(TenantScopedAdmin):
    form = IncidentForm
    list_display = ("title", "nature", "status", "tenant", "aware_shown", "hours_left_shown")
    list_filter = ("status", "nature", TenantListFilter)
    list_select_related = ("tenant",)
    ordering = ("-opened_at",)
    readonly_fields = (
        "status",
        "opened_at",
        "opened_by",
        "deadline_shown",
        "hours_left_shown",
        "checklist",
        "reminder_sent_at",
        "closed_at",
        "closed_by",
        "closing_note",
        "audit_trail",
    )

    class Media:
        css = {"all": ("audit/incidents.css",)}

    def get_fieldsets(self, request, obj=None):
        first = ("tenant", "title", "nature", "aware_at", "alerts")
        if obj is None:
            return [(None, {"fields": first})]
        editable = obj.status == IncidentStatus.OPEN and self.has_change_permission(request, obj)
        playbook = ("checklist", "actions_done") if editable else ("checklist",)
        return [
            (None, {"fields": (*first, "status", "opened_at", "opened_by")}),
            (
                _("72-hour deadline (GDPR Art. 33(1))"),
                {"fields": ("deadline_shown", "hours_left_shown", "reminder_sent_at")},
            ),
            (
                _("Notification to the supervisory authority (Art. 33(3))"),
                {
                    "fields": (
                        "description",
                        "data_categories",
                        "subjects_approximate",
                        "records_approximate",
                        "likely_consequences",
                        "measures",
                        "dpo_contact",
                        "authority_notified_at",
                        "authority_reference",
                    )
                },
            ),
            (
                _("Data subjects (Art. 34)"),
                {"fields": ("subjects_informed", "subjects_not_informed_reason")},
            ),
            (_("Crisis playbook"), {"fields": playbook}),
            (_("Closing"), {"fields": ("closed_at", "closed_by", "closing_note", "audit_trail")}),
        ]

    def get_readonly_fields(self, request, obj=None):
        fixed = list(self.readonly_fields)
        if obj is not None:
            fixed += ["tenant", "nature"]
            if obj.status == IncidentStatus.CLOSED or not self.has_change_permission(request, obj):
                fixed += ["alerts", *INCIDENT_FIELDS]
        return fixed

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["fields"] = ("tenant", "title", "nature", "aware_at", "alerts")
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "alerts":
            # The viewer's alerts that someone has judged (an incident opens from one judged a
            # real danger; one linked earlier may have been closed since).
            alerts = self.admin_site._registry[Alert].get_queryset(request)
            kwargs["queryset"] = alerts.exclude(
                status__in=(AlertStatus.NEW, AlertStatus.INVESTIGATING)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an incident is closed, never deleted: the register of breaches (Art. 33(5))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            incident = incident_open(
                actor=request.user,
                tenant=data["tenant"],
                title=data["title"],
                nature=data["nature"],
                aware_at=data.get("aware_at"),
                alerts=list(data.get("alerts") or []),
            )
            obj.pk = incident.pk
            return
        incident_update(
            actor=request.user,
            incident=obj,
            changes={name: data[name] for name in INCIDENT_FIELDS if name in data},
            alerts=list(data["alerts"]) if "alerts" in data else None,
            actions_done=data.get("actions_done") or (),
        )

    def save_related(self, request, form, formsets, change):
        pass  # the services have set the alerts

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        obj = self.get_object(request, object_id) if object_id else None
        zone = timezone.get_current_timezone()
        if obj is not None:
            zone = ZoneInfo(obj.tenant.time_zone)  # dates typed and shown in the tenant's zone
        with timezone.override(zone):
            return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("aware since"), ordering="aware_at")
    def aware_shown(self, incident: Incident) -> str:
        return in_current_zone(incident.aware_at)

    @admin.display(description=_("deadline"))
    def deadline_shown(self, incident: Incident) -> str:
        return in_current_zone(incident.deadline) if incident.pk else "—"

    @admin.display(description=_("hours left"))
    def hours_left_shown(self, incident: Incident) -> str:
        if incident.pk is None:
            return "—"
        if incident.authority_notified_at is not None:
            return format_html('<span class="incident-notified">{}</span>', _("notified"))
        if incident.status == IncidentStatus.CLOSED:
            return "—"
        now = timezone.now()
        left = hours_left(incident, now)
        if is_overdue(incident, now):
            return format_html(
                '<span class="incident-overdue">{}</span>',
                _("overdue by %(hours)d h") % {"hours": -left},
            )
        css = "incident-due-soon" if left < 24 else "incident-on-time"
        return format_html('<span class="{}">{}</span>', css, _("%(hours)d h") % {"hours": left})

    @admin.display(description=_("checklist"))
    def checklist(self, incident: Incident) -> str:
        actions = incident.actions.select_related("done_by")
        if not actions:
            return "—"
        rows = []
        for action in actions:
            done = (
                _("done %(when)s by %(who)s")
                % {"when": in_current_zone(action.done_at), "who": action.done_by}
                if action.done_at
                else _("to do")
            )
            kind = _("mandatory") if action.mandatory else _("optional")
            rows.append(("done" if action.done_at else "pending", action.text, kind, done))
        return format_html(
            "<ul class='incident-checklist'>{}</ul>",
            format_html_join("", "<li class='{}'>{} ({}): {}</li>", rows),
        )

    @admin.display(description=_("audit trail"))
    def audit_trail(self, incident: Incident) -> str:
        label = _("History of this incident")
        return audit_trail_link(f"target=audit.incident:{incident.pk}", label)

    def get_urls(self):
        close = self.admin_site.admin_view(self.close_view)
        return [
            path("<int:incident_id>/close/", close, name="audit_incident_close"),
            *super().get_urls(),
        ]

    def close_view(self, request, incident_id: int):
        return self.object_action_view(
            request,
            incident_id,
            view="incident closing page",
            may=lambda incident: tenant_permits(
                request.user, incident.tenant_id, "audit.change_incident"
            ),
            form=lambda data, incident: CloseForm(data),
            act=lambda incident, data: incident_close(
                actor=request.user, incident=incident, note=data["closing_note"]
            ),
            done=lambda incident: _("Incident closed."),
            template="admin/audit/incident/close.html",
            context=lambda incident: {
                "title": _("Close incident: %(title)s") % {"title": incident.title},
                "incident": incident,
            },
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_close"] = (
            obj is not None
            and obj.status == IncidentStatus.OPEN
            and tenant_permits(request.user, obj.tenant_id, "audit.change_incident")
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- playbooks ----------------------------------------------------------------------------------


@admin.register(PlaybookAction)
class PlaybookActionAdmin(TenantScopedAdmin):
    platform_rows_visible = True
    list_display = ("text", "nature", "position", "mandatory", "scope_label")
    list_filter = ("nature", "mandatory", TenantListFilter)
    list_select_related = ("tenant",)
    ordering = ("nature", "tenant", "position", "id")
    fields = ("tenant", "nature", "position", "text", "mandatory")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "tenant" in form.base_fields:
            # The platform's defaults (no tenant) are the platform operators'.
            form.base_fields["tenant"].required = not request.user.is_superuser
        return form

    def save_model(self, request, obj, form, change):
        try:
            playbook_action_save(actor=request.user, action=obj)
        except Refused as refusal:  # only in a race: the form has checked the same
            raise PermissionDenied(refusal.message) from refusal

    def delete_model(self, request, obj):
        playbook_action_remove(actor=request.user, action=obj)

    def delete_queryset(self, request, queryset):
        for action in queryset:
            playbook_action_remove(actor=request.user, action=action)
