"""The tenant's SIEM forwarders: a compliance officer of the tenant sets where its trail goes
(audit/forwarding/), and sees whether the collector keeps up: the last event delivered, how many
wait, the last error and the next attempt. Registered from audit/admin.py; like the trail's own
admin it reaches compliance's tenant scoping (docs/architecture.md, deliberate seams)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from compliance.tenancy import TenantListFilter, TenantScopedAdmin
from kit.times import in_current_zone

from .forwarding.delivery import forwarder_lag
from .forwarding.services import siem_forwarder_save
from .models import SiemForwarder

MAX_SECRET_LENGTH = 1000


class SiemForwarderForm(forms.ModelForm):
    bearer_secret = forms.CharField(
        label=_("Bearer secret"),
        required=False,
        max_length=MAX_SECRET_LENGTH,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "HTTPS: sent as 'Authorization: Bearer …'. Stored sealed and never shown again; "
            "leave empty to keep the current one."
        ),
    )
    remove_bearer_secret = forms.BooleanField(label=_("Remove the bearer secret"), required=False)
    # A URL typed without its scheme is read as https:// (the only scheme a forwarder takes).
    url = forms.URLField(
        label=_("URL"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_("HTTPS: where each batch is POSTed."),
    )

    class Meta:
        model = SiemForwarder
        fields = (
            "tenant",
            "name",
            "kind",
            "host",
            "port",
            "use_tls",
            "ca_certificate",
            "url",
            "enabled",
        )

    def clean(self):
        cleaned = super().clean()
        secret = cleaned.get("bearer_secret")
        if secret and cleaned.get("remove_bearer_secret"):
            self.add_error("bearer_secret", _("Enter a secret or remove it, not both."))
        if secret and cleaned.get("kind") != "https":
            self.add_error("bearer_secret", _("Only an HTTPS endpoint takes a bearer secret."))
        if secret and any(ord(c) < 32 or ord(c) == 127 for c in secret):
            self.add_error("bearer_secret", _("The secret may not contain control characters."))
        return cleaned

    def new_secret(self) -> str | None:
        if self.cleaned_data.get("remove_bearer_secret"):
            return ""
        return self.cleaned_data.get("bearer_secret") or None


# The delivery's state, shown read-only: written by the forwarding, never typed.
DELIVERY_FIELDS = (
    "last_sequence",
    "lag",
    "last_delivery",
    "consecutive_failures",
    "next_attempt",
    "last_error",
    "last_error_time",
)


@admin.register(SiemForwarder)
class SiemForwarderAdmin(TenantScopedAdmin):
    form = SiemForwarderForm
    list_display = ("name", "tenant", "kind", "destination", "enabled", "state", "lag")
    list_filter = (TenantListFilter, "kind", "enabled")
    list_select_related = ("tenant",)
    readonly_fields = (*DELIVERY_FIELDS, "bearer_secret_set")
    fieldsets = (
        (None, {"fields": ("tenant", "name", "kind", "enabled")}),
        (_("Syslog collector"), {"fields": ("host", "port", "use_tls", "ca_certificate")}),
        (
            _("HTTPS endpoint"),
            {"fields": ("url", "bearer_secret", "bearer_secret_set", "remove_bearer_secret")},
        ),
        (_("Delivery"), {"fields": DELIVERY_FIELDS}),
    )

    @admin.display(description=_("destination"))
    def destination(self, forwarder: SiemForwarder) -> str:
        if forwarder.kind == "syslog":
            scheme = "syslog+tls" if forwarder.use_tls else "syslog"
            return f"{scheme}://{forwarder.host}:{forwarder.port}"
        return forwarder.url

    @admin.display(description=_("state"))
    def state(self, forwarder: SiemForwarder) -> str:
        if not forwarder.enabled:
            return str(_("Disabled"))
        if forwarder.consecutive_failures:
            return str(
                _("Failing (%(count)s in a row), retried at %(when)s")
                % {
                    "count": forwarder.consecutive_failures,
                    "when": in_current_zone(forwarder.next_attempt_at),
                }
            )
        return str(_("Delivering"))

    @admin.display(description=_("waiting to be sent"))
    def lag(self, forwarder: SiemForwarder) -> str:
        if forwarder.pk is None:
            return "—"
        count, oldest = forwarder_lag(forwarder)
        if not count:
            return str(_("Nothing: up to date"))
        shown = f"{count}+" if count >= 10_000 else str(count)
        return str(
            _("%(count)s events, the oldest from %(when)s")
            % {"count": shown, "when": in_current_zone(oldest)}
        )

    @admin.display(description=_("last delivery"))
    def last_delivery(self, forwarder: SiemForwarder) -> str:
        return in_current_zone(forwarder.last_delivered_at)

    @admin.display(description=_("next attempt"))
    def next_attempt(self, forwarder: SiemForwarder) -> str:
        return in_current_zone(forwarder.next_attempt_at)

    @admin.display(description=_("last error at"))
    def last_error_time(self, forwarder: SiemForwarder) -> str:
        return in_current_zone(forwarder.last_error_at)

    @admin.display(description=_("bearer secret set"), boolean=True)
    def bearer_secret_set(self, forwarder: SiemForwarder) -> bool:
        return bool(forwarder.bearer_secret_sealed)

    def save_model(self, request, obj, form, change):
        siem_forwarder_save(
            actor=request.user,
            forwarder=obj,
            changed=list(form.changed_data),
            bearer_secret=form.new_secret(),
        )
