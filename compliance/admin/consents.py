"""Consent decisions: recorded through the service, never edited; the page of a decision shows the
caller's number and is traced."""

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.services import customer_number_search_record
from kit.paginators import CappedCountPaginator
from kit.refusals import Refused, as_form_error
from kit.times import in_current_zone

from ..models import Consent
from ..phone import numbers_by_tenant
from ..services.consents import consent_check, consent_record, consent_view_record
from ..tenancy import (
    PurposeListFilter,
    TenantListFilter,
    TenantScopedAdmin,
)


class ConsentForm(forms.ModelForm):
    class Meta:
        model = Consent
        fields = (
            "tenant",
            "customer_number",
            "subject_reference",
            "purpose",
            "decision",
            "decided_at",
            "channel",
            "ivr_prompt_id",
            "ivr_prompt_version",
            "call_id",
            "operator",
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            purpose, number = consent_check(
                tenant=data["tenant"],
                customer_number=data["customer_number"],
                purpose_code=data["purpose"].code,
                decision=data["decision"],
                decided_at=data["decided_at"],
                channel=data["channel"],
                evidence={
                    name: data.get(name) or ""
                    for name in (
                        "subject_reference",
                        "ivr_prompt_id",
                        "ivr_prompt_version",
                        "call_id",
                        "operator",
                    )
                },
            )
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        data["customer_number"] = number
        return data


@admin.register(Consent)
class ConsentAdmin(TenantScopedAdmin):
    """Decisions are recorded, never edited: the list is their history; a new decision
    supersedes the one in force."""

    form = ConsentForm
    list_display = (
        "customer",
        "purpose",
        "decision",
        "decided_at",
        "channel",
        "recorded_by",
        "tenant",
        "receipt",
    )
    list_filter = ("decision", "channel", PurposeListFilter, TenantListFilter)
    list_select_related = ("purpose", "tenant")
    search_fields = ("customer_number", "subject_reference", "call_id")
    search_help_text = _("Exact number (any format), subject reference or call id.")
    readonly_fields = ("recorded_by", "recorded_at", "subject_history")
    paginator = CappedCountPaginator
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "purpose":
            # Decisions are recorded for purposes that need the caller's consent only.
            field.queryset = field.queryset.filter(requires_consent=True)
        return field

    def get_search_results(self, request, queryset, search_term):
        """An exact subject reference or call id, or a customer number normalised to E.164 in
        each listed tenant's country. A search by number shows that person's decisions: each
        number searched goes on the trail (masked, and as a keyed hash)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(subject_reference=term) | Q(call_id=term) | Q(customer_number=term)
        tenants = self.visible_tenants(request).values_list("pk", "country_code")
        for number, tenant_ids in numbers_by_tenant(term, tenants).items():
            condition |= Q(tenant_id__in=tenant_ids, customer_number=number)
            customer_number_search_record(
                action="consent.searched", user=request.user, number=number, tenant_ids=tenant_ids
            )
        return queryset.filter(condition), False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        consent = consent_record(
            recorded_by=request.user.get_username(),
            tenant=data["tenant"],
            customer_number=data["customer_number"],
            purpose_code=data["purpose"].code,
            decision=data["decision"],
            decided_at=data["decided_at"],
            channel=data["channel"],
            subject_reference=data.get("subject_reference") or "",
            ivr_prompt_id=data.get("ivr_prompt_id") or "",
            ivr_prompt_version=data.get("ivr_prompt_version") or "",
            call_id=data.get("call_id") or "",
            operator=data.get("operator") or "",
        )
        obj.pk = consent.pk

    @admin.display(description=_("Customer number"))
    def customer(self, consent: Consent) -> str:
        return consent.masked_number

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The page shows the full customer number: personal metadata, traced on every display.
            consent_view_record(user=request.user, consent=obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("Receipt"))
    def receipt(self, consent: Consent) -> str:
        try:
            url = reverse("consent_receipt", args=[consent.pk])
        except NoReverseMatch:
            return "—"
        return format_html('<a href="{}">{}</a>', url, _("Receipt"))

    @admin.display(description=_("History of this caller's decisions for this purpose"))
    def subject_history(self, consent: Consent) -> str:
        if consent.pk is None:
            return "—"
        decisions = Consent.objects.for_subject(
            tenant=consent.tenant_id,
            customer_number=consent.customer_number,
            purpose=consent.purpose_id,
        ).latest_first()[:50]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    in_current_zone(decision.decided_at),
                    (
                        gettext("%(decision)s (in force)")
                        % {"decision": decision.get_decision_display()}
                        if index == 0
                        else decision.get_decision_display()
                    ),
                    decision.get_channel_display(),
                    decision.recorded_by,
                )
                for index, decision in enumerate(decisions)
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("When"),
            _("Decision"),
            _("Channel"),
            _("By"),
            rows,
        )
