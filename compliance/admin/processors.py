"""Processors and sub-processors, with their history pages, saved through their service; and the
tenant's register of processing activities (GDPR Art. 30), generated as a printable page, a CSV
and an XLSX workbook, in English, Spanish or French, each an event on the trail."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin
from django.forms.models import construct_instance
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from audit.admin_links import audit_trail_link
from kit.refusals import Refused, as_form_error
from kit.times import in_tenant_zone

from ..models import Processor, Purpose
from ..register.build import (
    ACTIVITY_COLUMNS,
    PROCESSOR_COLUMNS,
    headings,
    processor_rows,
    register_build,
    register_rows,
)
from ..register.exports import register_csv, register_xlsx
from ..register.strings import translate
from ..services.documents import register_export_record
from ..services.processors import (
    flags_label,
    processor_check,
    processor_save,
    processors_flagged,
)
from ..tenancy import TenantListFilter, TenantScopedHistoryAdmin
from .documents import attachment, language_asked, language_links, not_reading, tenant_in_scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ProcessorForm(forms.ModelForm):
    class Meta:
        model = Processor
        fields = (
            "tenant",
            "name",
            "parent",
            "services",
            "purposes",
            "country",
            "transfer_safeguard",
            "scc_signed_on",
            "safeguard_reference",
            "agreement_signed_on",
            "agreement_expires_on",
            "review_due_on",
            "security_contact",
            "status",
        )
        widgets = {
            "scc_signed_on": forms.DateInput(attrs={"type": "date"}),
            "agreement_signed_on": forms.DateInput(attrs={"type": "date"}),
            "agreement_expires_on": forms.DateInput(attrs={"type": "date"}),
            "review_due_on": forms.DateInput(attrs={"type": "date"}),
        }

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # The row as it would be saved, checked by the service's rules (the chain, the
        # transfer, the dates), each refusal shown on its field.
        candidate = construct_instance(self, copy.copy(self.instance), self._meta.fields)
        try:
            processor_check(processor=candidate, purposes=data.get("purposes") or [])
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


class FlagFilter(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return [("yes", _("Agreement missing, expired or due for review"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(pk__in=[p.pk for p, _ in processors_flagged(queryset)])


@admin.register(Processor)
class ProcessorAdmin(TenantScopedHistoryAdmin):
    form = ProcessorForm
    change_list_template = "admin/compliance/processor/change_list.html"
    list_display = (
        "name",
        "role_column",
        "country",
        "eea_column",
        "transfer_safeguard",
        "agreement_expires_on",
        "review_due_on",
        "status",
        "flags_column",
        "tenant",
    )
    list_filter = (TenantListFilter, "status", FlagFilter)
    list_select_related = ("tenant", "parent__parent__parent")
    search_fields = ("name",)
    readonly_fields = ("role_column", "audit_trail")

    @admin.display(description=_("role"))
    def role_column(self, processor: Processor) -> str:
        return processor.role_label() if processor.pk else "—"

    @admin.display(description=_("inside the EEA"), boolean=True)
    def eea_column(self, processor: Processor) -> bool:
        return processor.inside_eea

    @admin.display(description=_("needs attention"))
    def flags_column(self, processor: Processor) -> str:
        flags = processor.flags(processor.tenant.today())
        return flags_label(flags) if flags else ""

    @admin.display(description=_("audit trail"))
    def audit_trail(self, processor: Processor) -> str:
        if processor.pk is None:
            return "—"
        return audit_trail_link(
            f"target=compliance.processor:{processor.pk}", _("History of this processor")
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # A processor stays with its controller; the platform stays first in the chain.
            fields.append("tenant")
            if obj.is_platform:
                fields.append("parent")
        return fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "purposes":
            # The platform's purposes and those of the viewer's tenants, never another's.
            kwargs["queryset"] = self.admin_site._registry[Purpose].get_queryset(request)
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        processor_save(
            actor=request.user,
            processor=obj,
            purposes=form.cleaned_data.get("purposes", []),
            created=not change,
        )

    def save_related(self, request, form, formsets, change):
        # The purposes were set by the service, which audits them.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # --- the register of processing activities ---------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "register/<int:tenant_id>/",
                view(self.register_view),
                name="compliance_processor_register",
            ),
            path(
                "register/<int:tenant_id>/csv/",
                view(self.register_csv_view),
                name="compliance_processor_register_csv",
            ),
            path(
                "register/<int:tenant_id>/xlsx/",
                view(self.register_xlsx_view),
                name="compliance_processor_register_xlsx",
            ),
            *super().get_urls(),
        ]

    def _register(self, request, tenant_id: int, file_format: str):
        tenant = tenant_in_scope(
            self, request, tenant_id, view=f"processing register {file_format}"
        )
        refused = not_reading(request)
        if refused is not None:
            return None, refused, ""
        language = language_asked(request)
        register = register_build(tenant)
        register_export_record(
            actor=request.user, register=register, file_format=file_format, language=language
        )
        return register, None, language

    def register_view(self, request, tenant_id: int):
        register, refused, language = self._register(request, tenant_id, "html")
        if refused is not None:
            return refused
        tenant = register.tenant
        words = {
            name: translate(language, english)
            for name, english in (
                ("title", "Register of processing activities"),
                ("article", "GDPR Art. 30(1)"),
                ("controller", "Controller"),
                ("generated_on", "Generated on"),
                ("digest", "Content hash (SHA-256)"),
                ("activities", "Processing activities"),
                ("processors", "Processors and sub-processors"),
                ("measures", "Technical and organisational security measures"),
                ("download", "Download"),
            )
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{words['title']}: {tenant.name}",
            "tenant": tenant,
            "register": register,
            "language": language,
            "languages": language_links(),
            "words": words,
            "activity_columns": headings(ACTIVITY_COLUMNS[:-1], language),
            "activity_rows": [row[:-1] for row in register_rows(register, language)],
            "processor_columns": headings(PROCESSOR_COLUMNS, language),
            "processor_rows_with_depth": list(
                zip(
                    processor_rows(register, language),
                    [min(len(row["chain"]), 3) for row in register.processors],
                    strict=True,
                )
            ),
            "measures": [measure.text(language) for measure in register.measures],
            "generated_at": in_tenant_zone(register.generated_at, tenant),
        }
        return TemplateResponse(request, "admin/compliance/register.html", context)

    def register_csv_view(self, request, tenant_id: int):
        register, refused, language = self._register(request, tenant_id, "csv")
        if refused is not None:
            return refused
        return attachment(
            register_csv(register, language),
            filename=f"register-{register.tenant.slug}-{language}.csv",
            content_type="text/csv; charset=utf-8",
        )

    def register_xlsx_view(self, request, tenant_id: int):
        register, refused, language = self._register(request, tenant_id, "xlsx")
        if refused is not None:
            return refused
        return attachment(
            register_xlsx(register, language),
            filename=f"register-{register.tenant.slug}-{language}.xlsx",
            content_type=XLSX,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "register_tenants": list(self.visible_tenants(request)),
        }
        return super().changelist_view(request, extra_context)


def register_url(tenant_id: int) -> str:
    return reverse("admin:compliance_processor_register", args=[tenant_id])
