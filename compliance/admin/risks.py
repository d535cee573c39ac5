"""The risk analysis: risks with their measures (inline), saved through their services; the
shipped defaults adopted by a tenant on a page of their own; and the tenant's analysis as a
printable page and a CSV, each an event on the trail."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.forms.models import construct_instance
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.admin_links import audit_trail_link
from kit.csv_export import csv_lines
from kit.refusals import Refused, as_form_error
from kit.times import in_tenant_zone

from ..models import Measure, Risk
from ..register.analysis import risk_analysis
from ..risk_defaults import DEFAULT_RISKS
from ..roles import tenant_permits
from ..services.documents import risk_analysis_export_record
from ..services.risks import (
    measure_check,
    measure_delete,
    measure_save,
    risk_check,
    risk_defaults_adopt,
    risk_flags,
    risk_save,
    risks_flagged,
)
from ..tenancy import TenantListFilter, TenantScopedAdmin
from .documents import attachment, not_reading, tenant_in_scope

DATE = forms.DateInput(attrs={"type": "date"})


class RiskForm(forms.ModelForm):
    class Meta:
        model = Risk
        fields = (
            "tenant",
            "threat",
            "description",
            "likelihood",
            "severity",
            "residual_likelihood",
            "residual_severity",
            "owner",
            "review_on",
        )
        widgets = {"review_on": DATE}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        candidate = construct_instance(self, copy.copy(self.instance), self._meta.fields)
        try:
            risk_check(risk=candidate)
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


class MeasureForm(forms.ModelForm):
    class Meta:
        model = Measure
        fields = ("action", "done_by", "status", "due_on", "evidence", "evidence_link")
        widgets = {
            "due_on": DATE,
            "action": forms.Textarea(attrs={"rows": 2}),
            "evidence": forms.Textarea(attrs={"rows": 2}),
        }

    def clean(self):
        data = super().clean()
        if self.errors or not self.has_changed() or data.get("DELETE"):
            return data
        candidate = construct_instance(self, copy.copy(self.instance), self._meta.fields)
        try:
            measure_check(measure=candidate)
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


class MeasureInline(admin.StackedInline):
    model = Measure
    form = MeasureForm
    extra = 0


class FlaggedFilter(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Review passed or a planned measure overdue"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(pk__in=[risk.pk for risk, _ in risks_flagged(queryset)])


@admin.register(Risk)
class RiskAdmin(TenantScopedAdmin):
    form = RiskForm
    inlines = (MeasureInline,)
    change_list_template = "admin/compliance/risk/change_list.html"
    list_display = (
        "threat",
        "likelihood",
        "severity",
        "level_column",
        "residual_column",
        "owner",
        "review_on",
        "flags_column",
        "tenant",
    )
    list_filter = (TenantListFilter, FlaggedFilter)
    list_select_related = ("tenant",)
    search_fields = ("threat", "owner")
    readonly_fields = ("level_column", "residual_column", "audit_trail")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("measures")

    @admin.display(description=_("level"))
    def level_column(self, risk: Risk) -> str:
        return risk.level.label if risk.pk and risk.level else "—"

    @admin.display(description=_("residual level"))
    def residual_column(self, risk: Risk) -> str:
        return risk.residual_level.label if risk.pk and risk.residual_level else "—"

    @admin.display(description=_("needs attention"))
    def flags_column(self, risk: Risk) -> str:
        return "; ".join(risk_flags(risk, risk.tenant.today()))

    @admin.display(description=_("audit trail"))
    def audit_trail(self, risk: Risk) -> str:
        if risk.pk is None:
            return "—"
        return audit_trail_link(f"target=compliance.risk:{risk.pk}", _("History of this risk"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("tenant")
        return fields

    def save_model(self, request, obj, form, change):
        risk_save(actor=request.user, risk=obj, created=not change)

    def save_formset(self, request, form, formset, change):
        """Each measure through its service: saved or removed, on the trail (the formset's own
        save, not committing, lists them for the admin's change message)."""
        measures = formset.save(commit=False)
        for removed in formset.deleted_objects:
            measure_delete(actor=request.user, measure=removed)
        for measure in measures:
            measure.risk = form.instance
            measure_save(actor=request.user, measure=measure, created=measure.pk is None)

    # --- the tenant's analysis, and adopting the defaults -------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "analysis/<int:tenant_id>/",
                view(self.analysis_view),
                name="compliance_risk_analysis",
            ),
            path(
                "analysis/<int:tenant_id>/csv/",
                view(self.analysis_csv_view),
                name="compliance_risk_analysis_csv",
            ),
            path(
                "adopt/<int:tenant_id>/",
                view(self.adopt_view),
                name="compliance_risk_adopt",
            ),
            *super().get_urls(),
        ]

    def analysis_view(self, request, tenant_id: int):
        tenant = tenant_in_scope(self, request, tenant_id, view="risk analysis")
        refused = not_reading(request)
        if refused is not None:
            return refused
        risks = risk_analysis(tenant)
        risk_analysis_export_record(
            actor=request.user, tenant=tenant, file_format="html", risks=len(risks)
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Risk analysis: %(tenant)s") % {"tenant": tenant.name},
            "tenant": tenant,
            "risks": risks,
            "generated_at": in_tenant_zone(timezone.now(), tenant),
            "can_adopt": tenant_permits(request.user, tenant.pk, "compliance.add_risk"),
        }
        return TemplateResponse(request, "admin/compliance/risk/analysis.html", context)

    def analysis_csv_view(self, request, tenant_id: int):
        tenant = tenant_in_scope(self, request, tenant_id, view="risk analysis csv")
        refused = not_reading(request)
        if refused is not None:
            return refused
        risks = risk_analysis(tenant)
        risk_analysis_export_record(
            actor=request.user, tenant=tenant, file_format="csv", risks=len(risks)
        )
        header = (
            "threat",
            "likelihood",
            "severity",
            "level",
            "residual likelihood",
            "residual severity",
            "residual level",
            "owner",
            "review date",
            "needs attention",
            "measure",
            "by whom",
            "measure status",
            "due on",
            "evidence",
            "live evidence",
        )
        rows = []
        for entry in risks:
            risk = entry.risk
            head = [
                risk.threat,
                risk.likelihood,
                risk.severity,
                risk.level.label if risk.level else "",
                risk.residual_likelihood,
                risk.residual_severity,
                risk.residual_level.label if risk.residual_level else "",
                risk.owner,
                risk.review_on,
                "; ".join(entry.flags),
            ]
            for shown in entry.measures or [None]:
                if shown is None:
                    rows.append([*head, "", "", "", "", "", ""])
                    continue
                measure = shown.measure
                rows.append(
                    [
                        *head,
                        measure.action,
                        measure.done_by,
                        measure.get_status_display(),
                        measure.due_on,
                        measure.evidence,
                        shown.evidence.text if shown.evidence else "",
                    ]
                )
        return attachment(
            csv_lines(header, rows),
            filename=f"risk-analysis-{tenant.slug}.csv",
            content_type="text/csv; charset=utf-8",
        )

    def adopt_view(self, request, tenant_id: int):
        """The shipped risks, listed, adopted on confirmation (those not adopted yet)."""
        tenant = tenant_in_scope(self, request, tenant_id, view="adopt default risks")
        if not tenant_permits(request.user, tenant.pk, "compliance.add_risk"):
            raise PermissionDenied
        if request.method == "POST":
            created = risk_defaults_adopt(actor=request.user, tenant=tenant)
            self.message_user(
                request,
                _("%(count)d default risk(s) adopted for %(tenant)s.")
                % {"count": len(created), "tenant": tenant.name},
                messages.SUCCESS,
            )
            return redirect(reverse("admin:compliance_risk_analysis", args=[tenant.pk]))
        adopted = set(Risk.objects.filter(tenant=tenant).values_list("default_code", flat=True))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Adopt the default risks: %(tenant)s") % {"tenant": tenant.name},
            "tenant": tenant,
            "defaults": [(risk, risk.code in adopted) for risk in DEFAULT_RISKS],
        }
        return TemplateResponse(request, "admin/compliance/risk/adopt.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "analysis_tenants": list(self.visible_tenants(request)),
        }
        return super().changelist_view(request, extra_context)
