"""Data-subject requests in the admin: received through a form, listed by deadline with the days
left, and handled step by step on pages of their own (take, verify the identity, extend, close),
each through compliance's services. The request's page shows what Custodia holds about the
subject before anything is done (`finder.subject_data_find`), which is why this admin sits with
recordings: compliance cannot read recordings.

The page names the subject in full: each display of it goes on the trail
(`subject_request.viewed`)."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from audit.admin_links import audit_trail_link
from compliance.models import (
    LegalBasis,
    Purpose,
    RequestKind,
    RequestLanguage,
    RequestStatus,
    SubjectRequest,
    VerificationMethod,
)
from compliance.roles import tenant_permits
from compliance.services.subject_requests import (
    subject_request_close,
    subject_request_extend,
    subject_request_receive,
    subject_request_start_verification,
    subject_request_take,
    subject_request_verify_identity,
    subject_request_view_record,
)
from compliance.subject_request_models import (
    DEADLINE_WINDOWS,
    DUE_SOON_DAYS,
    OPEN_STATUSES,
    deadline_expression,
    due_within,
)
from compliance.tenancy import TenantListFilter, TenantScopedAdmin
from kit import limits
from kit.refusals import Refused, as_form_error
from kit.times import in_current_zone

from ..models import ExportStatus
from .admin_steps import FulfilmentAdminMixin
from .export import export_refusal, may_handle_export, subject_export_start
from .finder import subject_data_find
from .letter import subject_request_letter

CHANGE = "compliance.change_subjectrequest"


def deadline_class(request: SubjectRequest) -> str:
    """The CSS class of its deadline: red when overdue, bold red within 7 days."""
    if not request.is_open:
        return "request-on-time"
    left = request.days_left()
    return "request-overdue" if left < 0 else "request-due-soon" if left <= 7 else "request-on-time"


class ReceiveForm(forms.ModelForm):
    """A request as the compliance officer received it. The numbers may be written in any usual
    format, one per line or separated by commas; the service normalises them."""

    numbers = forms.CharField(
        label=_("Customer numbers"),
        required=False,
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One or more, in any usual format (06 12 34 56 78, +33 6 12 34 56 78)."),
    )

    class Meta:
        model = SubjectRequest
        fields = (
            "tenant",
            "kind",
            "numbers",
            "subject_reference",
            "objection_purpose",
            "channel",
            "received_at",
            "language",
            "requester_name",
            "requester_contact",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "received_at" in self.fields:
            self.fields["received_at"].initial = timezone.now
            self.fields["received_at"].help_text = _(
                "When the request reached you, in %(zone)s time: the one-month clock starts then."
            ) % {"zone": timezone.get_current_timezone_name()}
        if "objection_purpose" in self.fields:
            self.fields["objection_purpose"].required = False
            self.fields["objection_purpose"].help_text = _(
                "Objections only: the legitimate-interest purpose objected to."
            )

    def clean(self):
        data = super().clean()
        raw = data.get("numbers") or ""
        data["customer_numbers"] = [part for part in re.split(r"[\n,;]+", raw) if part.strip()]
        return data


class ConfirmForm(forms.Form):
    """A step that needs nothing but the confirmation (the button)."""

    confirm = forms.CharField(widget=forms.HiddenInput, initial="yes")


class VerifyForm(forms.Form):
    method = forms.ChoiceField(label=_("How was the identity verified?"), choices=[])
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=limits.SUBJECT_REQUEST_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was checked (never a copy of the document itself)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [("", "---------"), *VerificationMethod.choices]


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(
        label=_("Extend by"),
        coerce=int,
        choices=[(1, _("one month")), (2, _("two months"))],
    )
    reason = forms.CharField(
        label=_("Reason told to the requester"),
        max_length=limits.SUBJECT_REQUEST_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    told_on = forms.DateField(
        label=_("Requester told on"), widget=forms.DateInput(attrs={"type": "date"})
    )


class CloseForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Answer"),
        choices=[
            (RequestStatus.COMPLETED.value, RequestStatus.COMPLETED.label),
            (RequestStatus.PARTIAL.value, RequestStatus.PARTIAL.label),
            (RequestStatus.REFUSED.value, RequestStatus.REFUSED.label),
        ],
    )
    outcome = forms.CharField(
        label=_("What was done"),
        required=False,
        max_length=limits.SUBJECT_REQUEST_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    refusal_reason = forms.CharField(
        label=_("Why is it refused (in whole or in part)?"),
        required=False,
        max_length=limits.SUBJECT_REQUEST_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Mandatory for a refusal or a partial answer: it is told to the requester."),
    )


class KindFilter(admin.SimpleListFilter):
    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return RequestKind.choices

    def queryset(self, request, queryset):
        if self.value() in RequestKind.values:
            return queryset.filter(kind=self.value())
        return queryset


class StatusFilter(admin.SimpleListFilter):
    """Open requests by default: what is waiting for an answer."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", _("Open (not yet answered)")), *RequestStatus.choices]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(status__in=OPEN_STATUSES)
        if value in RequestStatus.values:
            return queryset.filter(status=value)
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    """Open requests by the days left before their deadline, in each tenant's days (the
    dashboard's links): overdue, due within a week, later."""

    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("Overdue")),
            ("soon", _("Due within %(days)d days") % {"days": DUE_SOON_DAYS}),
            ("later", _("Due later")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in DEADLINE_WINDOWS:
            raise IncorrectLookupParameters(f"no deadline window {value!r}")  # ?e=1
        tenants = self.model_admin.visible_tenants(request)
        return due_within(queryset, value, {tenant.pk: tenant.today() for tenant in tenants})

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


@admin.register(SubjectRequest)
class SubjectRequestAdmin(FulfilmentAdminMixin, TenantScopedAdmin):
    form = ReceiveForm

    class Media:
        css = {"all": ("recordings/subject_requests.css",)}

    change_form_template = "admin/recordings/subjectrequest/change_form.html"
    list_display = (
        "request_label",
        "subject",
        "status_label",
        "received",
        "deadline_column",
        "handled_by",
        "flagged",
    )
    list_filter = (TenantListFilter, StatusFilter, KindFilter, DeadlineFilter)
    list_select_related = ("tenant", "handled_by")
    search_fields = ("subject_reference",)
    readonly_fields = (
        "request_label",
        "tenant",
        "kind",
        "status",
        "received",
        "channel",
        "language",
        "requester_name",
        "requester_contact",
        "handled_by",
        "duplicate",
        "numbers_in_full",
        "subject_reference",
        "objection_purpose",
        "deadline_in_full",
        "extended_months",
        "extension_reason",
        "requester_told_on",
        "identity_method",
        "identity_note",
        "identity_verified",
        "identity_verified_by",
        "found",
        "restriction_state",
        "erasure_report",
        "outcome",
        "refusal_reason",
        "closed",
        "audit_trail",
    )
    fieldsets = (
        (
            _("Request"),
            {
                "fields": (
                    "request_label",
                    "tenant",
                    "status",
                    "received",
                    "channel",
                    "language",
                    "requester_name",
                    "requester_contact",
                    "handled_by",
                    "duplicate",
                )
            },
        ),
        (_("Subject"), {"fields": ("numbers_in_full", "subject_reference", "objection_purpose")}),
        (
            _("Deadline"),
            {
                "fields": (
                    "deadline_in_full",
                    "extended_months",
                    "extension_reason",
                    "requester_told_on",
                )
            },
        ),
        (
            _("Identity"),
            {
                "fields": (
                    "identity_method",
                    "identity_note",
                    "identity_verified",
                    "identity_verified_by",
                )
            },
        ),
        (_("What Custodia holds about the subject"), {"fields": ("found",)}),
        (_("Fulfilment"), {"fields": ("restriction_state", "erasure_report")}),
        (_("Answer"), {"fields": ("outcome", "refusal_reason", "closed")}),
        (_("Audit trail"), {"fields": ("audit_trail",)}),
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "tenant",
                    "kind",
                    "numbers",
                    "subject_reference",
                    "objection_purpose",
                    "channel",
                    "received_at",
                    "language",
                    "requester_name",
                    "requester_contact",
                )
            },
        ),
    )

    def get_ordering(self, request):
        # By the deadline, extension included (the first month's end, `due_on`, would put a
        # request extended by two months before one due next week).
        return (deadline_expression().asc(), "pk")

    # --- permissions -------------------------------------------------------------------------

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # changed only through the steps' pages, each a service

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a request is evidence of how the controller answered

    @staticmethod
    def may_handle(request, subject_request: SubjectRequest) -> bool:
        """The role held in the request's own tenant allows handling it."""
        return tenant_permits(request.user, subject_request.tenant_id, CHANGE)

    # --- the add form ------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "objection_purpose":
            kwargs["queryset"] = Purpose.objects.filter(
                Q(tenant__isnull=True) | Q(tenant__in=self.writable_tenants(request)),
                active=True,
                legal_basis=LegalBasis.LEGITIMATE_INTEREST,
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        admin_self = self

        class Checked(form_class):
            def clean(self):
                data = super().clean()
                if self.errors:
                    return data
                self.received = None
                try:
                    self.received = subject_request_receive(
                        actor=request.user,
                        tenant=data["tenant"],
                        kind=data["kind"],
                        customer_numbers=data["customer_numbers"],
                        subject_reference=data.get("subject_reference") or "",
                        channel=data["channel"],
                        received_at=data.get("received_at"),
                        requester_name=data.get("requester_name") or "",
                        requester_contact=data.get("requester_contact") or "",
                        language=data.get("language") or RequestLanguage.ENGLISH,
                        objection_purpose=data.get("objection_purpose"),
                    )
                except Refused as refusal:
                    raise as_form_error(refusal, self) from refusal
                return data

        Checked.admin = admin_self
        return Checked

    def save_model(self, request, obj, form, change):
        # Received (validated, created and audited) by the form's clean(), through the service.
        obj.pk = form.received.pk

    def save_related(self, request, form, formsets, change):
        pass

    def response_add(self, request, obj, post_url_continue=None):
        received = SubjectRequest.objects.get(pk=obj.pk)
        if received.duplicate_of_id:
            self.message_user(
                request,
                _("An open %(kind)s request for the same subject exists: #%(other)s.")
                % {"kind": received.get_kind_display(), "other": received.duplicate_of_id},
                level="warning",
            )
        return super().response_add(request, received, post_url_continue)

    # --- columns and fields ------------------------------------------------------------------

    @admin.display(description=_("request"), ordering="pk")
    def request_label(self, obj: SubjectRequest) -> str:
        return str(obj)

    @admin.display(description=_("subject"))
    def subject(self, obj: SubjectRequest) -> str:
        return obj.subject_display() or "—"

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: SubjectRequest) -> str:
        return obj.get_status_display()

    @admin.display(description=_("received"), ordering="received_at")
    def received(self, obj: SubjectRequest) -> str:
        return in_current_zone(obj.received_at)

    @admin.display(description=_("due"), ordering=deadline_expression())
    def deadline_column(self, obj: SubjectRequest) -> str:
        return format_html(
            '{}<br><span class="{}">{}</span>',
            obj.deadline.isoformat(),
            deadline_class(obj),
            obj.deadline_label(),
        )

    @admin.display(description=_("deadline"))
    def deadline_in_full(self, obj: SubjectRequest) -> str:
        if obj.due_on < obj.tenant.today():
            wording = _("%(deadline)s (%(label)s); the first month ended on %(first)s")
        else:
            wording = _("%(deadline)s (%(label)s); the first month ends on %(first)s")
        text = wording % {
            "deadline": obj.deadline.isoformat(),
            "label": obj.deadline_label(),
            "first": obj.due_on.isoformat(),
        }
        return format_html('<span class="{}">{}</span>', deadline_class(obj), text)

    @admin.display(description=_("flag"), boolean=False)
    def flagged(self, obj: SubjectRequest) -> str:
        if obj.duplicate_of_id:
            return str(_("Same as open #%(other)s") % {"other": obj.duplicate_of_id})
        return ""

    @admin.display(description=_("same as open request"))
    def duplicate(self, obj: SubjectRequest) -> str:
        if not obj.duplicate_of_id:
            return "—"
        url = reverse("admin:compliance_subjectrequest_change", args=[obj.duplicate_of_id])
        return format_html('<a href="{}">#{}</a>', url, obj.duplicate_of_id)

    @admin.display(description=_("customer numbers"))
    def numbers_in_full(self, obj: SubjectRequest) -> str:
        return ", ".join(obj.customer_numbers) or "—"

    @admin.display(description=_("identity verified at"))
    def identity_verified(self, obj: SubjectRequest) -> str:
        return in_current_zone(obj.identity_verified_at)

    @admin.display(description=_("answered at"))
    def closed(self, obj: SubjectRequest) -> str:
        return in_current_zone(obj.closed_at)

    @admin.display(description=_("found"))
    def found(self, obj: SubjectRequest) -> str:
        counts = subject_data_find(obj).counts()
        rows = [
            (_("Recordings (still held)"), counts["active_recordings"]),
            (_("Recordings (all, deleted ones whose number is kept)"), counts["recordings"]),
            (_("Consent decisions"), counts["consents"]),
            (_("Legal holds naming them (in force)"), counts["active_holds"]),
            (_("Legal holds naming them (all)"), counts["holds"]),
            (_("Trail events about those recordings"), counts["access_events"]),
        ]
        if not counts["recordings"] and not counts["consents"]:
            return format_html(
                "<strong>{}</strong>",
                _("Nothing found for this subject: a valid answer, to be told to the requester."),
            )
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("audit trail"))
    def audit_trail(self, obj: SubjectRequest) -> str:
        return audit_trail_link(
            f"target=compliance.subjectrequest:{obj.pk}", _("History of this request")
        )

    # --- the steps' pages --------------------------------------------------------------------

    def get_urls(self):
        route = self.step_url
        return [
            route("take", self.take_view, "take"),
            route("verifying", self.start_verification_view, "verifying"),
            route("verify", self.verify_view, "verify"),
            route("extend", self.extend_view, "extend"),
            route("close", self.close_view, "close"),
            *self.fulfilment_urls(),
            route("export", self.export_view, "export"),
            route("letter", self.letter_view, "letter"),
            *super().get_urls(),
        ]

    def letter_view(self, request, request_id: int):
        """The printable answer letter of a closed request, in the requester's language (or the
        one `?language=` names: en, es, fr), for whoever may see the request."""
        obj = self.scoped_object_or_404(request, request_id, view="answer letter")
        language = request.GET.get("language") or None
        try:
            return subject_request_letter(request, obj, language=language)
        except Refused as refusal:
            self.message_user(request, refusal.message, level="error")
            return redirect(reverse("admin:compliance_subjectrequest_change", args=[obj.pk]))

    def take_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="take request page",
            form=lambda data, obj: ConfirmForm(data),
            act=lambda obj, data: subject_request_take(actor=request.user, request=obj),
            done=lambda obj: _("You handle %(request)s.") % {"request": obj},
            title=_("Handle"),
        )

    def start_verification_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="start verification page",
            form=lambda data, obj: ConfirmForm(data),
            act=lambda obj, data: subject_request_start_verification(
                actor=request.user, request=obj
            ),
            done=lambda obj: (
                _("%(request)s: the requester's proof of identity is awaited.") % {"request": obj}
            ),
            title=_("Ask for proof of identity"),
        )

    def verify_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="verify identity page",
            form=lambda data, obj: VerifyForm(data),
            act=lambda obj, data: subject_request_verify_identity(
                actor=request.user, request=obj, method=data["method"], note=data["note"]
            ),
            done=lambda obj: _("Identity verified: %(request)s is in progress.") % {"request": obj},
            title=_("Verify the requester's identity"),
        )

    def extend_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="extend request page",
            form=lambda data, obj: ExtendForm(data),
            act=lambda obj, data: subject_request_extend(
                actor=request.user,
                request=obj,
                months=data["months"],
                reason=data["reason"],
                told_on=data["told_on"],
            ),
            done=lambda obj: _("Deadline extended."),
            title=_("Extend the deadline"),
        )

    def close_view(self, request, request_id: int):
        return self._fulfil(
            request,
            request_id,
            view="close request page",
            form=lambda data, obj: CloseForm(data),
            act=lambda obj, data: subject_request_close(
                actor=request.user,
                request=obj,
                status=data["status"],
                outcome=data["outcome"],
                refusal_reason=data["refusal_reason"],
            ),
            done=lambda obj: _("%(request)s answered.") % {"request": obj},
            title=_("Answer the request"),
        )

    def export_view(self, request, request_id: int):
        """The access or portability export (GDPR Art. 15, 20), built in the background by
        recordings/subject_requests/export.py; refused (as a form error, and on the trail) before
        the identity is verified, for another kind, once closed, or for anyone but the handler."""
        return self._fulfil(
            request,
            request_id,
            view="build export page",
            form=lambda data, obj: ConfirmForm(data),
            act=lambda obj, data: subject_export_start(actor=request.user, request=obj),
            done=lambda obj: (
                _(
                    "The export of %(request)s is being built: it is listed on this page, with its "
                    "download link, once ready."
                )
                % {"request": obj}
            ),
            title=_("Build the export of the subject's data"),
        )

    def _exports(self, request, obj: SubjectRequest) -> list[dict]:
        """The request's exports as its page lists them: status, times in the tenant's zone,
        size and fingerprint, and the download link for whoever may download it."""
        may_download = may_handle_export(request.user, obj)
        rows = []
        for export in obj.exports.order_by("-created_at", "-pk"):
            downloadable = may_download and export.downloadable
            rows.append(
                {
                    "export": export,
                    "status": export.get_status_display(),
                    "requested": in_current_zone(export.created_at),
                    "ready": in_current_zone(export.ready_at),
                    "until": in_current_zone(
                        export.deleted_at
                        if export.status == ExportStatus.EXPIRED
                        else export.expires_at
                    ),
                    "size": export.size_bytes,
                    "download_url": (
                        reverse("recordings:subject_export_download", args=[export.pk])
                        if downloadable
                        else ""
                    ),
                }
            )
        return rows

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            subject_request_view_record(user=request.user, request=obj)
            context["can_handle"] = obj.is_open and self.may_handle(request, obj)
            context["subject_request"] = obj
            context.update(self.fulfilment_context(request, obj))
            context["can_export"] = export_refusal(obj) is None and may_handle_export(
                request.user, obj
            )
            context["exports"] = self._exports(request, obj)
            context["export_days"] = settings.SUBJECT_EXPORT_DAYS
        return super().render_change_form(request, context, add, change, form_url, obj)
