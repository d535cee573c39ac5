"""Data-protection impact assessments, versioned (their history pages), saved through their
service; each with a printable summary gathering what Custodia knows of the purpose (legal
basis, retention, minimisation), the tenant's risks and measures, and the DPO's opinion."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.forms.models import construct_instance
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kit.refusals import Refused, as_form_error
from kit.times import in_tenant_zone

from ..models import Dpia, Purpose
from ..register.analysis import dpia_retention, risk_analysis
from ..services.documents import dpia_summary_view_record
from ..services.dpia import dpia_check, dpia_save
from ..tenancy import PurposeListFilter, TenantListFilter, TenantScopedHistoryAdmin
from .documents import not_reading


class DpiaForm(forms.ModelForm):
    class Meta:
        model = Dpia
        fields = (
            "tenant",
            "purpose",
            "necessity",
            "proportionality",
            "dpo_name",
            "dpo_opinion",
            "dpo_opinion_on",
        )
        widgets = {"dpo_opinion_on": forms.DateInput(attrs={"type": "date"})}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        candidate = construct_instance(self, copy.copy(self.instance), self._meta.fields)
        try:
            dpia_check(dpia=candidate)
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


@admin.register(Dpia)
class DpiaAdmin(TenantScopedHistoryAdmin):
    form = DpiaForm
    list_display = ("purpose", "dpo_opinion_on", "tenant", "summary_link")
    list_filter = (TenantListFilter, PurposeListFilter)
    list_select_related = ("tenant", "purpose")
    readonly_fields = ("summary_link",)

    @admin.display(description=_("summary"))
    def summary_link(self, dpia: Dpia) -> str:
        if dpia.pk is None:
            return "—"
        url = reverse("admin:compliance_dpia_summary", args=[dpia.pk])
        return format_html('<a href="{}">{}</a>', url, _("Printable summary"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("tenant")
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "purpose":
            kwargs["queryset"] = self.admin_site._registry[Purpose].get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        dpia_save(actor=request.user, dpia=obj, created=not change)

    def get_urls(self):
        return [
            path(
                "<int:dpia_id>/summary/",
                self.admin_site.admin_view(self.summary_view),
                name="compliance_dpia_summary",
            ),
            *super().get_urls(),
        ]

    def summary_view(self, request, dpia_id: int):
        dpia = self.scoped_object_or_404(request, dpia_id, view="DPIA summary")
        if not self.has_view_or_change_permission(request, dpia):
            raise PermissionDenied
        refused = not_reading(request)
        if refused is not None:
            return refused
        versions = dpia.history.order_by("-history_date")
        latest = versions.first()
        dpia_summary_view_record(actor=request.user, dpia=dpia, version=versions.count())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(dpia),
            "dpia": dpia,
            "purpose": dpia.purpose,
            "retention": dpia_retention(dpia),
            "risks": risk_analysis(dpia.tenant),
            "version": versions.count(),
            "version_at": in_tenant_zone(latest.history_date if latest else None, dpia.tenant),
            "version_by": latest.history_user if latest else None,
        }
        return TemplateResponse(request, "admin/compliance/dpia/summary.html", context)
