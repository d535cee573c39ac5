"""Marketing campaigns and their do-not-call screenings.

The list: each campaign of the viewer's tenants with its purpose, its days, its numbers, the
lists that apply and whether each is fresh (compliance/dnc_freshness.py: which list or screening
is stale, and since when). A campaign's page adds its screenings by Bloctel and Lista Robinson
(exported, screened, numbers submitted and to remove, the share removed), the share of its
numbers each list takes out (compliance/campaign_shares.py), and, for a role that may change
it, three pages: upload numbers (a CSV or one number per line), export the file for a
screening service (downloaded at once) and import the service's answer. Every write goes
through compliance/services/campaigns.py and compliance/services/screenings.py; a refusal is a
form error. A campaign is never edited in place nor deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kit.refusals import Refused, as_form_error
from kit.times import in_tenant_zone, tenant_day

from ..campaign_files import FILE_MAX_BYTES
from ..campaign_shares import removal_shares
from ..dnc_freshness import campaign_freshness, campaigns_freshness
from ..dnc_models import Campaign, Screening, ScreeningStatus
from ..dnc_sources import Delivery, DncSource, rule_for
from ..models import shown_name
from ..roles import tenant_permits
from ..services.campaigns import (
    campaign_create,
    campaign_create_check,
    campaign_numbers_check,
    campaign_numbers_import,
)
from ..services.screenings import (
    ExportedFile,
    screening_answer_check,
    screening_answer_import,
    screening_export,
    screening_file_download,
    screening_format_for,
)
from ..tenancy import PurposeListFilter, TenantListFilter, TenantScopedAdmin


def source_label(source: str) -> str:
    return str(DncSource(source).label) if source in DncSource.values else source


def _read_upload(upload) -> bytes:
    """The uploaded file's bytes, refused past FILE_MAX_BYTES before it is read whole."""
    if upload.size > FILE_MAX_BYTES:
        raise forms.ValidationError(
            {"file": _("The file is larger than %(size)s bytes.") % {"size": FILE_MAX_BYTES}}
        )
    return upload.read()


def _attachment(exported: ExportedFile) -> HttpResponse:
    response = HttpResponse(exported.content, content_type="text/plain; charset=us-ascii")
    response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
    return response


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ("tenant", "name", "purpose", "legal_basis", "starts_on", "ends_on")
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def validate_unique(self):
        pass  # the service says it, in its words

    def _post_clean(self):
        pass  # the service checks the campaign (the model's checks would name constraints)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["name"] = campaign_create_check(
                tenant=data["tenant"],
                name=data.get("name") or "",
                purpose=data.get("purpose"),
                legal_basis=data.get("legal_basis") or "",
                starts_on=data.get("starts_on"),
                ends_on=data.get("ends_on"),
            )
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


class NumbersForm(forms.Form):
    file = forms.FileField(
        label=_("File of numbers"),
        help_text=_(
            "One number per line, or a CSV whose header names the number column (number, "
            "phone, telephone, msisdn, numéro, teléfono); UTF-8, Latin-1 or UTF-16. National "
            "numbers are read in the tenant's country; give others with their + country code "
            "(they add their country's do-not-call list to the campaign)."
        ),
    )
    max_rejected = forms.IntegerField(
        label=_("Rejected lines allowed"),
        min_value=0,
        initial=0,
        help_text=_(
            "A file with more rejected lines (letters, invalid numbers) adds no number at all; "
            "up to this many are skipped and reported."
        ),
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        data["data"] = _read_upload(data["file"])
        try:
            campaign_numbers_check(
                campaign=self.campaign, data=data["data"], max_rejected=data["max_rejected"]
            )
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


def submitted_file_sources(campaign: Campaign) -> list[tuple[str, str]]:
    return [
        (source, source_label(source))
        for source in campaign.sources or []
        if source in DncSource.values and rule_for(source).delivery == Delivery.SUBMITTED_FILE
    ]


class ExportForm(forms.Form):
    source = forms.ChoiceField(label=_("Screening service"))

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.fields["source"].choices = submitted_file_sources(campaign)

    def clean_source(self):
        source = self.cleaned_data["source"]
        try:
            screening_format_for(self.campaign, source)
        except Refused as refusal:
            raise forms.ValidationError(refusal.message) from refusal
        return source


class ScreeningChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, screening: Screening) -> str:
        return gettext("%(source)s, file exported %(when)s (%(count)s numbers)") % {
            "source": screening.get_source_display(),
            "when": in_tenant_zone(screening.exported_at, screening.campaign.tenant),
            "count": number_format(screening.exported_count, force_grouping=True),
        }


class AnswerForm(forms.Form):
    screening = ScreeningChoiceField(
        label=_("Screening"), queryset=Screening.objects.none(), empty_label=None
    )
    screened_on = forms.DateField(
        label=_("Date of the answer"),
        help_text=_(
            "The day the service produced its answer, as it says: the screening is fresh from "
            "that day. Neither in the future nor before the file was exported."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    file = forms.FileField(
        label=_("Answer file"),
        help_text=_(
            "The numbers to remove, one per line, as the service sent them (the national form "
            "of the file submitted); an empty file means none."
        ),
        allow_empty_file=True,
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.fields["screening"].queryset = (
            Screening.objects.filter(campaign=campaign, status=ScreeningStatus.SUBMITTED)
            .select_related("campaign__tenant")
            .order_by("-exported_at")
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        data["data"] = _read_upload(data["file"])
        try:
            screening_answer_check(
                screening=data["screening"], data=data["data"], screened_on=data["screened_on"]
            )
        except Refused as refusal:
            raise as_form_error(refusal, self) from refusal
        return data


class CampaignStateFilter(admin.SimpleListFilter):
    """Running, to come or ended, in each campaign's tenant's today (the viewer's tenant)."""

    title = _("running")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("running", _("Running")),
            ("upcoming", _("Not started")),
            ("ended", _("Ended")),
        )

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "running":
            return queryset.filter(starts_on__lte=today, ends_on__gte=today)
        if self.value() == "upcoming":
            return queryset.filter(starts_on__gt=today)
        if self.value() == "ended":
            return queryset.filter(ends_on__lt=today)
        return queryset


class CampaignFreshnessFilter(admin.SimpleListFilter):
    """Campaigns depending on a list or screening that is not fresh (computed per campaign: a
    tenant's campaigns are tens, not millions)."""

    title = _("do-not-call freshness")
    parameter_name = "freshness"

    def lookups(self, request, model_admin):
        return (("stale", _("A list or screening is stale")), ("fresh", _("All fresh")))

    def queryset(self, request, queryset):
        if self.value() not in ("stale", "fresh"):
            return queryset
        states = campaigns_freshness(list(queryset.select_related("tenant")))
        stale = [pk for pk, sources in states.items() if not all(s.fresh for s in sources)]
        if self.value() == "stale":
            return queryset.filter(pk__in=stale)
        return queryset.exclude(pk__in=stale)


@admin.register(Campaign)
class CampaignAdmin(TenantScopedAdmin):
    form = CampaignForm
    change_form_template = "admin/compliance/campaign/change_form.html"
    list_display = (
        "name",
        "purpose_label",
        "period",
        "numbers",
        "lists",
        "freshness",
        "tenant",
    )
    list_filter = (
        CampaignStateFilter,
        CampaignFreshnessFilter,
        PurposeListFilter,
        TenantListFilter,
    )
    list_select_related = ("tenant", "purpose")
    search_fields = ("name",)
    fields_shown = (
        "name",
        "tenant",
        "purpose_label",
        "legal_basis",
        "period",
        "numbers",
        "lists",
        "created",
        "created_by",
    )

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # never edited in place: numbers and screenings have pages of their own

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("tenant", "name", "purpose", "legal_basis", "starts_on", "ends_on")
        return self.fields_shown

    def get_readonly_fields(self, request, obj=None):
        return self.fields_shown if obj is not None else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        campaign = campaign_create(
            actor=request.user,
            tenant=data["tenant"],
            name=data["name"],
            purpose=data["purpose"],
            legal_basis=data["legal_basis"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
        )
        obj.pk = campaign.pk

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            _("The campaign is created: upload its numbers from its page."),
            messages.SUCCESS,
        )
        return redirect(reverse("admin:compliance_campaign_change", args=[obj.pk]))

    # --- the campaign's pages ------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:campaign_id>/numbers/",
                view(self.numbers_view),
                name="compliance_campaign_numbers",
            ),
            path(
                "<int:campaign_id>/export/",
                view(self.export_view),
                name="compliance_campaign_export",
            ),
            path(
                "<int:campaign_id>/submitted-file/",
                view(self.submitted_file_view),
                name="compliance_campaign_submitted_file",
            ),
            path(
                "<int:campaign_id>/answer/",
                view(self.answer_view),
                name="compliance_campaign_answer",
            ),
            *super().get_urls(),
        ]

    def may_change(self, request, campaign: Campaign) -> bool:
        """Whether the role held in the campaign's tenant may add numbers and screenings (the
        services' own rule)."""
        return tenant_permits(request.user, campaign.tenant_id, "compliance.change_campaign")

    def _file_view(self, request, campaign_id, *, view: str, form_class, act, title, intro=""):
        campaign = self.scoped_object_or_404(request, campaign_id, view=view)
        if not self.may_change(request, campaign):
            raise PermissionDenied
        if request.method == "POST":
            form = form_class(request.POST, request.FILES, campaign=campaign)
        else:
            form = form_class(campaign=campaign)
        if request.method == "POST" and form.is_valid():
            try:
                return act(campaign, form.cleaned_data)
            except Refused as refusal:
                form.add_error(None, as_form_error(refusal, form))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "form": form,
            "title": title,
            "intro": intro,
        }
        return TemplateResponse(request, "admin/compliance/campaign/action.html", context)

    def _back(self, campaign: Campaign):
        return redirect(reverse("admin:compliance_campaign_change", args=[campaign.pk]))

    def numbers_view(self, request, campaign_id: int):
        def act(campaign, data):
            result = campaign_numbers_import(
                actor=request.user,
                campaign=campaign,
                data=data["data"],
                file_name=data["file"].name or "",
                max_rejected=data["max_rejected"],
            )
            self.message_user(
                request,
                gettext(
                    "%(added)s numbers added, %(duplicates)s already there; the lists that "
                    "apply: %(lists)s."
                )
                % {
                    "added": number_format(result.added, force_grouping=True),
                    "duplicates": number_format(result.duplicates, force_grouping=True),
                    "lists": ", ".join(source_label(s) for s in result.sources),
                },
                messages.SUCCESS,
            )
            if result.rejected:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d line was rejected and skipped: %(lines)s",
                        "%(count)d lines were rejected and skipped: %(lines)s",
                        result.rejected,
                    )
                    % {
                        "count": result.rejected,
                        "lines": "; ".join(f"{r.line}: {r.reason}" for r in result.rejections),
                    },
                    messages.WARNING,
                )
            return self._back(campaign)

        return self._file_view(
            request,
            campaign_id,
            view="campaign numbers page",
            form_class=NumbersForm,
            act=act,
            title=gettext("Upload numbers"),
            intro=gettext(
                "All or nothing: a file with more rejected lines than allowed adds no number, "
                "and the page names the lines. Numbers already in the campaign are ignored."
            ),
        )

    def export_view(self, request, campaign_id: int):
        def act(campaign, data):
            exported = screening_export(
                actor=request.user, campaign=campaign, source=data["source"]
            )
            return _attachment(exported)

        return self._file_view(
            request,
            campaign_id,
            view="campaign screening export page",
            form_class=ExportForm,
            act=act,
            title=gettext("Export the file for a screening service"),
            intro=gettext(
                "The campaign's numbers of the service's country, one per line in their national "
                "form (Bloctel: 10 digits, 0612345678; Lista Robinson: 9 digits, 612345678). "
                "Submit the file to the service, then import its answer here. Numbers added after "
                "this export are not covered by its answer."
            ),
        )

    def submitted_file_view(self, request, campaign_id: int):
        """A screening's submitted file downloaded again (?screening=<id>, one of the
        campaign's)."""
        campaign = self.scoped_object_or_404(request, campaign_id, view="screening file download")
        if not self.may_change(request, campaign):
            raise PermissionDenied
        screening_id = request.GET.get("screening", "")
        screening = (
            campaign.screenings.filter(pk=int(screening_id)).first()
            if screening_id.isdigit()
            else None
        )
        if screening is None:
            raise Http404
        try:
            exported = screening_file_download(actor=request.user, screening=screening)
        except Refused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return self._back(campaign)
        return _attachment(exported)

    def answer_view(self, request, campaign_id: int):
        def act(campaign, data):
            screening = screening_answer_import(
                actor=request.user,
                screening=data["screening"],
                data=data["data"],
                screened_on=data["screened_on"],
                file_name=data["file"].name or "",
            )
            self.message_user(
                request,
                gettext("%(source)s's answer imported: %(removed)s numbers to remove.")
                % {
                    "source": screening.get_source_display(),
                    "removed": number_format(screening.removed_count, force_grouping=True),
                },
                messages.SUCCESS,
            )
            return self._back(campaign)

        return self._file_view(
            request,
            campaign_id,
            view="campaign screening answer page",
            form_class=AnswerForm,
            act=act,
            title=gettext("Import a screening service's answer"),
            intro=gettext(
                "All or nothing: an answer naming a number the submitted file did not hold, or a "
                "line that is no number, imports nothing, and the page names the lines."
            ),
        )

    def get_changelist_instance(self, request):
        """The page's campaigns with their freshness read for all of them at once (two queries),
        not two queries per row for the freshness column."""
        changelist = super().get_changelist_instance(request)
        campaigns = list(changelist.result_list)
        states = campaigns_freshness(campaigns)
        for campaign in campaigns:
            campaign.freshness_states = states[campaign.pk]
        changelist.result_list = campaigns
        return changelist

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["freshness"] = campaign_freshness(obj)
            context["screenings"] = list(
                obj.screenings.order_by("-exported_at")[:50].select_related("campaign__tenant")
            )
            context["shares"] = removal_shares(obj)
            context["can_change"] = self.may_change(request, obj)
            context["can_export"] = bool(submitted_file_sources(obj))
            context["can_answer"] = obj.screenings.filter(status=ScreeningStatus.SUBMITTED).exists()
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- columns ---------------------------------------------------------------------------------

    @admin.display(description=_("purpose"), ordering="purpose__name")
    def purpose_label(self, campaign: Campaign) -> str:
        return shown_name(campaign.purpose.name)

    @admin.display(description=_("runs"), ordering="starts_on")
    def period(self, campaign: Campaign) -> str:
        return f"{campaign.starts_on.isoformat()} – {campaign.ends_on.isoformat()}"

    @admin.display(description=_("numbers"), ordering="number_count")
    def numbers(self, campaign: Campaign) -> str:
        return number_format(campaign.number_count, force_grouping=True)

    @admin.display(description=_("lists that apply"))
    def lists(self, campaign: Campaign) -> str:
        return ", ".join(source_label(source) for source in campaign.sources or [])

    @admin.display(description=_("freshness"))
    def freshness(self, campaign: Campaign) -> str:
        """ "fresh", or each stale list and since when, in short; the full sentences on hover."""
        states = getattr(campaign, "freshness_states", None)
        if states is None:
            states = campaign_freshness(campaign)
        stale = [state for state in states if not state.fresh]
        if not stale:
            return format_html('<span class="dnc-fresh">{}</span>', gettext("fresh"))
        short = "; ".join(
            gettext("%(list)s stale since %(day)s")
            % {"list": state.label, "day": tenant_day(state.stale_since, campaign.tenant)}
            if state.stale_since is not None
            else f"{state.label}: {state.reference}"
            for state in stale
        )
        return format_html(
            '<span class="dnc-stale shortened" title="{}">{}</span>',
            " ".join(state.message for state in stale),
            short,
        )

    @admin.display(description=_("created"))
    def created(self, campaign: Campaign) -> str:
        return in_tenant_zone(campaign.created_at, campaign.tenant)
