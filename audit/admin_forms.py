"""The forms of the alerts' and incidents' admin pages (audit/admin_incidents.py): what a
compliance officer types, checked by the services' own rules before anything is saved."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kit.refusals import Refused, as_form_error

from .incidents import (
    CLOSING_NOTE_LIMIT,
    INCIDENT_FIELDS,
    TRIAGE_NOTE_LIMIT,
    alert_next_statuses,
    incident_check,
)
from .models import Alert, AlertStatus, Incident


class TriageForm(forms.Form):
    to_status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(
        label=_("Note (what you found, what you decided)"),
        widget=forms.Textarea,
        max_length=TRIAGE_NOTE_LIMIT,
    )

    def __init__(self, *args, alert: Alert, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = [
            (status, AlertStatus(status).label) for status in alert_next_statuses(alert)
        ]


class IncidentForm(forms.ModelForm):
    actions_done = forms.MultipleChoiceField(
        label=_("Playbook actions done"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick what has been done: who and when are recorded."),
    )

    class Meta:
        model = Incident
        fields = ("tenant", "nature", "alerts", *INCIDENT_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "actions_done" in self.fields:
            pending = self.instance.actions.filter(done_at__isnull=True) if self.instance.pk else []
            self.fields["actions_done"].choices = [
                (str(action.pk), f"{action.text}{'' if action.mandatory else ' (optional)'}")
                for action in pending
            ]
        if "aware_at" in self.fields:
            self.fields["aware_at"].required = bool(self.instance.pk)
            self.fields["aware_at"].help_text = _(
                "When the breach became known: the 72 hours run from here (empty: now)."
            )

    def clean(self):
        data = super().clean()
        tenant = data.get("tenant") or getattr(self.instance, "tenant", None)
        alerts = data.get("alerts")
        if tenant is not None and alerts is not None:
            if any(alert.tenant_id != tenant.pk for alert in alerts):
                self.add_error("alerts", _("An incident links only its own tenant's alerts."))
            elif self.instance.pk is None and any(
                alert.status != AlertStatus.REAL_DANGER for alert in alerts
            ):
                self.add_error("alerts", _("Only an alert judged a real danger opens an incident."))
        return data

    def _post_clean(self):
        super()._post_clean()
        if self.instance.aware_at is None:
            self.instance.aware_at = timezone.now()
        try:
            incident_check(self.instance)
        except Refused as refusal:
            self.add_error(None, as_form_error(refusal, self))


class CloseForm(forms.Form):
    closing_note = forms.CharField(
        label=_("Closing note (outcome, lessons learnt)"),
        widget=forms.Textarea,
        max_length=CLOSING_NOTE_LIMIT,
    )
