"""The alert rules' thresholds in the admin: the platform's defaults (platform operators) and
each tenant's own (its compliance officers), which override the defaults for that tenant."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

# Against the direction, like audit/admin.py (docs/architecture.md, deliberate seams): the
# settings are tenant-scoped by compliance's admin.
from compliance.tenancy import TenantListFilter, TenantScopedAdmin

from ..models import AlertRule, AlertRuleSetting, Weekday
from .rules import ALL_RULES
from .services import alert_rule_setting_save


class AlertRuleSettingForm(forms.ModelForm):
    days_off = forms.TypedMultipleChoiceField(
        label=_("days off"),
        choices=Weekday.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Off hours rule: the tenant's days off, in its time zone."),
    )

    class Meta:
        model = AlertRuleSetting
        fields = ("tenant", "rule", "enabled", "threshold", "window_minutes", "days_off")

    def __init__(self, *args, tenant_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if "tenant" in self.fields:
            self.fields["tenant"].required = tenant_required
            self.fields["tenant"].help_text = _(
                "Empty: the platform's default, for every tenant without a setting of its own."
            )
        if "rule" in self.fields:
            self.fields["rule"].help_text = " ".join(
                f"{AlertRule(rule.code).label}: {rule.meaning}." for rule in ALL_RULES.values()
            )


@admin.register(AlertRuleSetting)
class AlertRuleSettingAdmin(TenantScopedAdmin):
    form = AlertRuleSettingForm
    platform_rows_visible = True
    list_display = ("rule", "scope_label", "enabled", "threshold", "window_minutes", "updated_at")
    list_filter = ("rule", "enabled", TenantListFilter)
    list_select_related = ("tenant",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        tenant_required = not request.user.is_superuser

        class ScopedForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, tenant_required=tenant_required, **inner)

        return ScopedForm

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "rule") if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # switch a rule off (enabled) instead: the change is audited

    def save_model(self, request, obj, form, change):
        alert_rule_setting_save(actor=request.user, setting=obj)
