"""The pages that fulfil a data-subject request, on its change page: the erasure (preview, the
pending claims, execution), the objection's acceptance (with a compelling ground, or the same
erasure), the restriction (apply, lift) and the rectification of a recording's or a consent's
metadata. Each is `TenantScopedAdmin.object_action_view` around one service of
recordings/subject_requests/: the request in the viewer's scope or a 404, the role in its tenant
or a 403, a refusal shown as a form error, success as a message and back to the request."""

from __future__ import annotations

from django import forms
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from compliance.models import Consent, RequestKind, SubjectRequest
from kit import limits
from kit.refusals import Refused
from kit.times import tenant_day

from ..models import Recording, Status
from .erasure import ErasurePreview, erasure_execute, erasure_preview
from .finder import subject_data_find
from .objection import objection_accept
from .rectification import CONSENT_FIELDS, RECORDING_FIELDS, rectification_apply
from .restriction import restriction_apply, restriction_lift

# Every step page of a request (the erasure adds its preview to it).
STEP_TEMPLATE = "admin/recordings/subjectrequest/fulfil.html"
FIELD_LABELS = {
    "customer_number": _("customer number"),
    "subject_reference": _("subject reference"),
    "campaign": _("campaign"),
    "agent_code": _("agent code"),
    "direction": _("direction"),
    "operator": _("operator"),
    "call_id": _("call id"),
}


def _preview(obj: SubjectRequest) -> ErasurePreview | Refused:
    """The erasure's preview for the page, or why there is none (read once per page)."""
    if not hasattr(obj, "_erasure_preview"):
        try:
            obj._erasure_preview = erasure_preview(obj)
        except Refused as refusal:
            obj._erasure_preview = refusal
    return obj._erasure_preview


class ErasureForm(forms.Form):
    """One optional "pending claim" reason per recording the erasure would delete (Art. 17(3)(e):
    a recording needed for the establishment, exercise or defence of a legal claim is kept), and
    the handler's confirmation that the rest goes for good."""

    confirm = forms.BooleanField(
        label=_("I confirm: the recordings listed to delete are deleted for good"),
        required=True,
    )

    def __init__(self, data, obj: SubjectRequest, *, confirm_label=None):
        super().__init__(data)
        preview = _preview(obj)
        if confirm_label is not None:
            self.fields["confirm"].label = confirm_label
        lines = preview.to_delete if isinstance(preview, ErasurePreview) else []
        for line in lines:
            self.fields[f"claim_{line.recording_id}"] = forms.CharField(
                label=_("Call %(call)s of %(day)s: needed for a pending claim?")
                % {"call": line.call_id, "day": line.started_at[:10]},
                required=False,
                max_length=limits.SUBJECT_REQUEST_TEXT,
                widget=forms.Textarea(attrs={"rows": 1}),
                help_text=_("If so, the claim and why: the recording is then kept."),
            )


class ObjectionForm(ErasureForm):
    compelling_ground = forms.CharField(
        label=_("Compelling legitimate grounds (GDPR Art. 21(1))"),
        required=False,
        max_length=limits.SUBJECT_REQUEST_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Only if the tenant's grounds override the caller's: the existing recordings are then "
            "kept. Left empty, they are erased now. New recordings of the caller for this purpose "
            "are refused either way."
        ),
    )
    field_order = ("compelling_ground",)

    def __init__(self, data, obj: SubjectRequest):
        super().__init__(
            data, obj, confirm_label=_("I confirm: the objection is accepted from now on")
        )


class ConfirmStepForm(forms.Form):
    confirm = forms.CharField(widget=forms.HiddenInput, initial="yes")


class LiftForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the restriction ends"),
        max_length=limits.SUBJECT_REQUEST_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The requester must be told before it is lifted (GDPR Art. 18(3))."),
    )


class RectifyForm(forms.Form):
    """One correction at a time: which of the subject's recordings or decisions, which field,
    its correct value. The service refuses a field that is not corrected, naming it."""

    target = forms.ChoiceField(label=_("Correct"))
    field = forms.ChoiceField(label=_("Field"))
    value = forms.CharField(label=_("Correct value"), max_length=200, required=False)

    def __init__(self, data, obj: SubjectRequest):
        super().__init__(data)
        found = subject_data_find(obj)
        recordings = found.recordings.filter(status=Status.ACTIVE)

        def day(instant) -> str:
            return tenant_day(instant, obj.tenant).isoformat()

        choices = [
            (
                f"recording:{recording.pk}",
                _("Recording of call %(call)s (%(day)s)")
                % {"call": recording.call_id, "day": day(recording.started_at)},
            )
            for recording in recordings
        ]
        choices += [
            (
                f"consent:{consent.pk}",
                _("Consent decision #%(id)s: %(decision)s for %(purpose)s (%(day)s)")
                % {
                    "id": consent.pk,
                    "decision": consent.get_decision_display(),
                    "purpose": consent.purpose,
                    "day": day(consent.decided_at),
                },
            )
            for consent in found.consents
        ]
        self.fields["target"].choices = [("", "---------"), *choices]
        names = dict.fromkeys([*RECORDING_FIELDS, *CONSENT_FIELDS])
        self.fields["field"].choices = [
            ("", "---------"),
            *((name, FIELD_LABELS.get(name, name)) for name in names),
        ]
        self.fields["field"].help_text = _(
            "A recording: customer number, subject reference, campaign, agent code, direction. "
            "A consent decision: subject reference, operator, call id. Never the audio nor the "
            "decision itself."
        )


def _target_of(data: dict, obj: SubjectRequest) -> Recording | Consent:
    """The chosen recording or decision, by id: the service finds it among the subject's."""
    kind, _sep, pk = data["target"].partition(":")
    model = Recording if kind == "recording" else Consent
    return model(pk=int(pk), tenant_id=obj.tenant_id)


def _report_rows(lines: list[dict]) -> str:
    return format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                line["call_id"],
                line.get("started_at", "")[:10],
                "; ".join(f"{reason['label']}: {reason['detail']}" for reason in line["reasons"]),
            )
            for line in lines
        ),
    )


class FulfilmentAdminMixin:
    """Mixed into recordings/subject_requests/admin.py::SubjectRequestAdmin."""

    def step_url(self, suffix: str, view, name: str):
        """The URL of one of a request's step pages: /<id>/<suffix>/, named
        admin:compliance_subjectrequest_<name>."""
        return path(
            f"<int:request_id>/{suffix}/",
            self.admin_site.admin_view(view),
            name=f"compliance_subjectrequest_{name}",
        )

    def fulfilment_urls(self) -> list:
        return [
            self.step_url("erase", self.erase_view, "erase"),
            self.step_url("object", self.objection_view, "object"),
            self.step_url("restrict", self.restrict_view, "restrict"),
            self.step_url("lift", self.lift_view, "lift"),
            self.step_url("rectify", self.rectify_view, "rectify"),
        ]

    def fulfilment_context(self, request, obj: SubjectRequest) -> dict:
        """What the change page's buttons need."""
        handler = self.may_handle(request, obj)
        ready = handler and obj.is_open and obj.identity_verified
        objection = obj.kind == RequestKind.OBJECTION
        return {
            "can_erase": ready
            and (obj.kind == RequestKind.ERASURE or (objection and obj.objection_accepted_at)),
            "can_accept_objection": ready and objection and not obj.objection_accepted_at,
            "can_restrict": ready
            and obj.kind in (RequestKind.RESTRICTION, RequestKind.OBJECTION)
            and not obj.restriction_in_force,
            "can_lift": handler and obj.restriction_in_force,
            "can_rectify": ready and obj.kind == RequestKind.RECTIFICATION,
        }

    # --- read-only fields of the change page ------------------------------------------------

    @staticmethod
    def _report_html(report: dict):
        if not report:
            return "—"
        state = _("completed") if report.get("state") == "completed" else _("interrupted")
        deleted = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((entry["call_id"], entry["certificate"]) for entry in report.get("deleted", [])),
        )
        return format_html(
            "<p>{} ({})</p>"
            "<table><caption>{}</caption><tr><th>{}</th><th>{}</th></tr>{}</table>"
            "<table><caption>{}</caption><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("Erasure"),
            state,
            _("Deleted"),
            _("call"),
            _("deletion certificate"),
            deleted,
            _("Kept"),
            _("call"),
            _("day"),
            _("why"),
            _report_rows(report.get("kept", [])),
        )

    def erasure_report(self, obj: SubjectRequest):
        return self._report_html(obj.report)

    erasure_report.short_description = _("erasure report")

    def restriction_state(self, obj: SubjectRequest) -> str:
        if obj.restricted_at is None:
            return "—"
        count = obj.restricted_recordings.count()
        if obj.restriction_in_force:
            return _("In force since %(day)s on %(count)d recording(s)") % {
                "day": tenant_day(obj.restricted_at, obj.tenant).isoformat(),
                "count": count,
            }
        lifted = tenant_day(obj.restriction_lifted_at, obj.tenant).isoformat()
        return _("Lifted on %(day)s") % {"day": lifted}

    restriction_state.short_description = _("restriction (Art. 18)")

    # --- the pages --------------------------------------------------------------------------

    def _fulfil(self, request, request_id, *, view, form, act, done, title, preview=False):
        def context(obj):
            page = {
                "title": f"{title}: {obj}",
                "subject_request": obj,
                "deadline": obj.deadline_label(),
            }
            if preview:
                found = _preview(obj)
                if isinstance(found, Refused):
                    page["refusal"] = found.message
                else:
                    page["to_delete"] = found.to_delete
                    page["kept"] = _report_rows([line.as_dict() for line in found.kept])
                    page["consents"] = found.consents
            return page

        return self.object_action_view(
            request,
            request_id,
            view=view,
            may=lambda obj: self.may_handle(request, obj),
            form=form,
            act=act,
            done=done,
            template=STEP_TEMPLATE,
            context=context,
        )

    @staticmethod
    def _report_message(report: dict) -> str:
        return _(
            "%(deleted)d recording(s) erased, %(kept)d kept: the report is on the request."
        ) % {
            "deleted": len(report.get("deleted", [])),
            "kept": len(report.get("kept", [])),
        }

    def erase_view(self, request, request_id: int):
        outcome = {}

        def act(obj, data):
            outcome["report"] = erasure_execute(
                actor=request.user, request=obj, claims=bound_claims(data)
            )

        return self._fulfil(
            request,
            request_id,
            view="erasure page",
            form=lambda data, obj: ErasureForm(data, obj),
            act=act,
            done=lambda obj: self._report_message(outcome["report"]),
            title=_("Erase the subject's recordings"),
            preview=True,
        )

    def objection_view(self, request, request_id: int):
        def act(obj, data):
            objection_accept(
                actor=request.user,
                request=obj,
                compelling_ground=data["compelling_ground"],
                claims=bound_claims(data),
            )

        def done(obj):
            accepted = SubjectRequest.objects.get(pk=obj.pk)
            return _("Objection accepted: new recordings are refused. %(report)s") % {
                "report": self._report_message(accepted.report)
            }

        return self._fulfil(
            request,
            request_id,
            view="objection page",
            form=lambda data, obj: ObjectionForm(data, obj),
            act=act,
            done=done,
            title=_("Accept the objection"),
            preview=True,
        )

    def restrict_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="restriction page",
            form=lambda data, obj: ConfirmStepForm(data),
            act=lambda obj, data: restriction_apply(actor=request.user, request=obj),
            done=lambda obj: _("The subject's recordings are restricted."),
            title=_("Restrict the subject's recordings"),
        )

    def lift_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="lift restriction page",
            form=lambda data, obj: LiftForm(data),
            act=lambda obj, data: restriction_lift(
                actor=request.user, request=obj, reason=data["reason"]
            ),
            done=lambda obj: _("The restriction is lifted."),
            title=_("Lift the restriction"),
        )

    def rectify_view(self, request, request_id: int):
        def act(obj, data):
            rectification_apply(
                actor=request.user,
                request=obj,
                target=_target_of(data, obj),
                changes={data["field"]: data["value"]},
            )

        return self._fulfil(
            request,
            request_id,
            view="rectification page",
            form=lambda data, obj: RectifyForm(data, obj),
            act=act,
            done=lambda obj: _("Corrected; the old value is kept in the history."),
            title=_("Rectify the subject's data"),
        )


def bound_claims(data: dict) -> dict[int, str]:
    return {
        int(name.removeprefix("claim_")): value
        for name, value in data.items()
        if name.startswith("claim_") and value.strip()
    }
