"""Tenant scoping for the admin: a member sees and edits only rows of their own tenants, and of
those only the ones their role *in that tenant* lets them.

Every admin of a tenant-owned model inherits `TenantScopedAdmin` and names the path to its tenant
(`tenant_field`); the scoping then applies to the changelist, the change view (a row of another
tenant is a 404), autocomplete, foreign-key choices, list filters and actions, which all start
from `get_queryset`. Superusers are platform operators and see every tenant.

Django's permissions come from groups and know no tenant: a compliance officer of Globex who is a
quality analyst at Acme holds the officer's permissions at Acme too. So the rows listed are those
of the tenants where the role held carries the model's view (or change) permission, and a row is
changed or deleted only where the role held in its tenant carries that permission
(compliance.roles.tenant_permits' rule, which the services apply too).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from audit.models import Outcome
from audit.services import event_record
from kit.null_characters import RefuseNulInQueryStringAdmin
from kit.refusals import Refused, as_form_error
from kit.times import in_current_zone

from .admin_lookups import DeclaredLookupsOnlyAdmin
from .models import Purpose, Tenant
from .roles import tenants_permitting


def member_tenant_ids(user) -> QuerySet:
    """A subquery of the ids of the tenants the user belongs to."""
    return user.memberships.values("tenant_id")


def viewer_memberships(request) -> list[tuple[int, str]]:
    """The viewer's (tenant id, role) pairs, read once per request."""
    if not hasattr(request, "_custodia_memberships"):
        request._custodia_memberships = list(
            request.user.memberships.values_list("tenant_id", "role")
        )
    return request._custodia_memberships


def viewer_tenant_ids(request, permission: str | None = None) -> list[int]:
    """The viewer's tenant ids as a literal list; with `permission` ("app.codename"), only those
    where the role they hold carries it. Given literals rather than the membership subquery,
    PostgreSQL walks (tenant, ..., -sequence) indexes in order and stops after one page, instead
    of sorting every row of the tenant (seconds at 10M rows)."""
    memberships = viewer_memberships(request)
    if permission is None:
        return [tenant_id for tenant_id, _ in memberships]
    return tenants_permitting(request.user, permission, memberships)


def tenant_id_at(obj, tenant_field: str) -> int | None:
    """The id of `obj`'s tenant, following `tenant_field` ("tenant", "recording__tenant"; ""
    for a Tenant itself)."""
    if not tenant_field:
        return obj.pk
    *path, last = tenant_field.split("__")
    for name in path:
        obj = getattr(obj, name)
    return getattr(obj, f"{last}_id")


def tenant_field_of(model) -> str | None:
    """The path from `model` to its tenant: its admin's `tenant_field`, else its own `tenant`
    foreign key; None for a model that belongs to no tenant (users, groups, purge runs)."""
    model_admin = admin.site._registry.get(model)
    if isinstance(model_admin, TenantScopedAdmin):
        return model_admin.tenant_field
    if model is Tenant:
        return ""
    field = next((f for f in model._meta.concrete_fields if f.name == "tenant"), None)
    if field is not None and field.is_relation and field.related_model is Tenant:
        return "tenant"
    return None


def cross_tenant_refusal_record(
    request, model, object_id: object, *, view: str, tenant_field: str | None = None
) -> bool:
    """Called where a view is about to answer 404 for an object the viewer cannot see: when the
    object exists and belongs to a tenant where the signed-in viewer holds no membership, the
    attempt goes on *that* tenant's trail as `access.cross_tenant_refused` (the person, the
    object, the view), so that its reviewers (and the "cross-tenant probe" alert) see who
    reached for their data. Returns whether it was such a probe; the caller's answer stays the
    404 it gives for an id that does not exist, which records no such event. Platform operators
    are never refused; objects of no tenant are not a tenant's to be probed.

    The event has a transaction of its own: the 404 that follows must not take it back."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_superuser:
        return False
    if tenant_field is None:
        tenant_field = tenant_field_of(model)
        if tenant_field is None:
            return False
    try:
        pk = model._meta.pk.to_python(object_id)
    except (ValidationError, ValueError, TypeError):
        return False
    obj = model._base_manager.filter(pk=pk).first()
    if obj is None:
        return False
    tenant_id = tenant_id_at(obj, tenant_field)
    if tenant_id is None or tenant_id in viewer_tenant_ids(request):
        return False
    with transaction.atomic():
        event_record(
            action="access.cross_tenant_refused",
            tenant=tenant_id,
            target=obj,
            outcome=Outcome.DENIED,
            extra={"view": view, "user": user.get_username()},
        )
    return True


# What each admin page answering "does not exist" is called on the trail, by URL name suffix.
ADMIN_OBJECT_VIEWS = {
    "_change": "admin change page",
    "_delete": "admin delete page",
    "_history": "history",
    "_simple_history": "history version",
}


def admin_view_name(request, default: str = "admin page") -> str:
    url_name = getattr(getattr(request, "resolver_match", None), "url_name", "") or ""
    for suffix, label in sorted(ADMIN_OBJECT_VIEWS.items(), key=lambda item: -len(item[0])):
        if url_name.endswith(suffix):
            return label
    return default


class TenantListFilter(admin.SimpleListFilter):
    """A TenantScopedAdmin's tenant filter, offering the tenants whose rows the list shows: of
    the viewer's tenants, those where their role may view this model (Django's related filter
    lists every tenant; the viewer's memberships alone would offer a tenant where their role
    sees none of these rows)."""

    title = _("tenant")
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        return [(str(t.pk), t.name) for t in model_admin.visible_tenants(request)]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in {choice for choice, _ in self.lookup_choices}:
            # Not a tenant offered (not a number, unknown, or another client's): as Django's own
            # filters do with a value they cannot use, the changelist redirects with ?e=1
            # instead of failing on the query, and an unknown tenant looks like a foreign one.
            raise IncorrectLookupParameters(f"no tenant {value!r} to filter by")
        field = getattr(self.model_admin, "tenant_field", "tenant") or "pk"
        return queryset.filter(**{field: value})

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


class PurposeListFilter(admin.SimpleListFilter):
    """The one purpose filter of the admin: it offers the platform's purposes and those of the
    viewer's tenants (Django's related filter would list every tenant's, naming other clients'
    processing), and answers a value that is no purpose offered (not one, unknown, or another
    client's) as TenantListFilter does: the changelist redirects with ?e=1.

    Rows refer to their purpose by id (`purpose_id`); a list whose rows keep the purpose's code
    instead (the audit trail) sets `purpose_attribute` and `row_field`."""

    title = _("purpose")
    parameter_name = "purpose"
    # The purpose's attribute a choice is, and the rows' field compared with it.
    purpose_attribute = "pk"
    row_field = "purpose_id"

    def lookups(self, request, model_admin):
        purposes = Purpose.objects.select_related("tenant").order_by("name")
        if not request.user.is_superuser:
            purposes = purposes.filter(
                Q(tenant__isnull=True) | Q(tenant__in=member_tenant_ids(request.user))
            )
        return [
            (
                str(getattr(purpose, self.purpose_attribute)),
                f"{purpose} ({purpose.tenant})" if purpose.tenant else str(purpose),
            )
            for purpose in purposes
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in {choice for choice, _ in self.lookup_choices}:
            raise IncorrectLookupParameters(f"no purpose {value!r} to filter by")  # ?e=1
        return queryset.filter(**{self.row_field: value})


class PortalAdmin(DeclaredLookupsOnlyAdmin, RefuseNulInQueryStringAdmin):
    """What every ModelAdmin of the portal shares, tenant-owned or not (TenantScopedAdmin
    includes it): the query string guards, and a history page (Django's list of admin actions
    on an object) that only reads, and answers a role without the model's view permission with
    a 403 before looking the object up (Django looks first, and an id in use was a 403 where
    another was a redirect)."""

    def history_view(self, request, object_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


class TenantScopedAdmin(PortalAdmin, admin.ModelAdmin):
    # Path from this model to its tenant; "" for the Tenant model itself.
    tenant_field: str = "tenant"
    # Rows without a tenant are the platform's (shipped purposes and policies): every member may
    # see them where this is True; only platform operators may change them.
    platform_rows_visible: bool = False

    def permitted_tenant_ids(self, request, *actions: str) -> list[int]:
        """The viewer's tenants where their role there allows one of `actions` ("view",
        "change", "add", "delete") on this admin's model."""
        opts = self.model._meta
        permitted: set[int] = set()
        for action in actions:
            permission = f"{opts.app_label}.{get_permission_codename(action, opts)}"
            permitted.update(viewer_tenant_ids(request, permission))
        return sorted(permitted)

    def visible_tenants(self, request) -> QuerySet:
        """The tenants whose rows this admin lists for the viewer (`scope`'s rule)."""
        if request.user.is_superuser:
            return Tenant.objects.all()
        return Tenant.objects.filter(pk__in=self.permitted_tenant_ids(request, "view", "change"))

    def tenant_id_of(self, obj) -> int | None:
        return tenant_id_at(obj, self.tenant_field)

    def get_list_display(self, request):
        """The tenant column only for a viewer who sees several tenants' rows: for everyone
        else it repeats one name on every row, in width a laptop's screen needs."""
        columns = super().get_list_display(request)
        if (
            request.user.is_superuser
            or len(self.permitted_tenant_ids(request, "view", "change")) > 1
        ):
            return columns
        return tuple(column for column in columns if column != "tenant")

    def scoped_object_or_404(self, request, object_id, *, view: str | None = None):
        """For an admin's pages about one object (history pages, a triage page, a closing page):
        the object if the viewer's scope holds it, else the 404 an unknown id gets, with another
        tenant's object on that tenant's trail (`view` names the page; by default, from its URL
        name)."""
        obj = self.get_object(request, str(object_id))
        if obj is None:
            cross_tenant_refusal_record(
                request,
                self.model,
                object_id,
                view=view or admin_view_name(request),
                tenant_field=self.tenant_field,
            )
            raise Http404
        return obj

    def object_action_view(
        self, request, object_id, *, view: str, may, form, act, done, template: str, context
    ):
        """An admin page that does one thing to one object through a service (triage an alert,
        close an incident, release a hold): the object in the viewer's scope or a 404,
        `may(obj)` or a 403, `form(data, obj)` checked, then `act(obj, cleaned_data)`; a
        refusal is a form error, success `done(obj)` as a message and back to the change page.
        `context(obj)` adds the page's own entries (its title among them) to the template's."""
        obj = self.scoped_object_or_404(request, object_id, view=view)
        if not may(obj):
            raise PermissionDenied
        bound = form(request.POST or None, obj)
        if request.method == "POST" and bound.is_valid():
            try:
                act(obj, bound.cleaned_data)
            except Refused as refusal:
                bound.add_error(None, as_form_error(refusal, bound))
            else:
                self.message_user(request, done(obj))
                opts = self.model._meta
                return redirect(
                    reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
                )
        page = {
            **self.admin_site.each_context(request),
            "form": bound,
            "opts": self.model._meta,
            **context(obj),
        }
        return TemplateResponse(request, template, page)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # The change, delete and history pages answer an object outside the viewer's scope as
        # one that does not exist; another tenant's goes on that tenant's trail.
        cross_tenant_refusal_record(
            request,
            self.model,
            object_id,
            view=admin_view_name(request),
            tenant_field=self.tenant_field,
        )
        return super()._get_obj_does_not_exist_redirect(request, opts, object_id)

    def _permitted_on(self, request, obj, action: str) -> bool:
        """Whether the role the viewer holds in `obj`'s tenant allows `action` on it."""
        if obj is None or request.user.is_superuser:
            return True
        tenant_id = self.tenant_id_of(obj)
        return tenant_id is None or tenant_id in self.permitted_tenant_ids(request, action)

    def scope(self, request, queryset: QuerySet) -> QuerySet:
        if request.user.is_superuser:
            return queryset
        field = f"{self.tenant_field}__in" if self.tenant_field else "pk__in"
        # The admin's own rule: who may change may view (ModelAdmin.has_view_permission).
        condition = Q(**{field: self.permitted_tenant_ids(request, "view", "change")})
        if self.platform_rows_visible:
            condition |= Q(**{f"{self.tenant_field}__isnull": True})
        return queryset.filter(condition)

    @admin.display(description=_("Scope"))
    def scope_label(self, obj) -> str:
        """ "Platform" for a shipped row, else its tenant's name."""
        tenant = getattr(obj, self.tenant_field) if self.tenant_field else obj
        return tenant.name if tenant is not None else _("Platform")

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and self.platform_rows_visible and not request.user.is_superuser:
            if getattr(obj, f"{self.tenant_field}_id") is None:
                return False
        if not self._permitted_on(request, obj, "change"):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and self.platform_rows_visible and not request.user.is_superuser:
            if getattr(obj, f"{self.tenant_field}_id") is None:
                return False
        if not self._permitted_on(request, obj, "delete"):
            return False
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        # Every view of these rows starts here (a NUL in the query string is refused first).
        return self.scope(request, super().get_queryset(request))

    def writable_tenants(self, request) -> QuerySet:
        """The tenants a row may be given in a form: those where the viewer's role may add or
        change this model's rows (an admin whose adding is another permission overrides it)."""
        if request.user.is_superuser:
            return Tenant.objects.all()
        return Tenant.objects.filter(pk__in=self.permitted_tenant_ids(request, "add", "change"))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related_admin = self.admin_site._registry.get(db_field.related_model)
        if "queryset" not in kwargs:
            if db_field.related_model._meta.label == "compliance.Tenant":
                kwargs["queryset"] = self.writable_tenants(request)
            elif isinstance(related_admin, TenantScopedAdmin):
                kwargs["queryset"] = related_admin.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def row_visible(self, request, obj) -> bool:
        """Whether `obj` (a row, or a past version of one) is in `scope` for the viewer."""
        if request.user.is_superuser:
            return True
        tenant_id = self.tenant_id_of(obj)
        if tenant_id is None:
            return self.platform_rows_visible
        return tenant_id in self.permitted_tenant_ids(request, "view", "change")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Every tenant-owned object's page links to the audit events about it."""
        extra_context = extra_context or {}
        if object_id and request.user.has_perm("audit.view_auditevent"):
            label = self.model._meta.label_lower
            extra_context.setdefault(
                "who_accessed_url",
                reverse("admin:audit_auditevent_changelist") + f"?target={label}:{object_id}",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self.tenant_field == "tenant" and "tenant" not in initial:
            tenants = list(self.writable_tenants(request)[:2])
            if len(tenants) == 1:
                initial["tenant"] = tenants[0].pk
        return initial


class LabelledHistoryChanges(HistoricalRecordContextHelper):
    """A history page's changes as the change page shows the values: a choice by its label, an
    instant in the viewer's zone, yes or no (django-simple-history shows what is stored:
    `legitimate_interest`, a UTC time). `labels` names the choices of fields that keep a code
    without declaring them (a recording's legal basis, copied from its purpose)."""

    def __init__(self, model, historical_record, *, labels: dict[str, type[models.TextChoices]]):
        super().__init__(model, historical_record)
        self.labels = labels

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if isinstance(value, datetime):
            return in_current_zone(value)
        choices = self.labels.get(change.field)
        if choices is not None:
            return choices(value).label if value in choices.values else value
        if field.flatchoices:
            return dict(field.flatchoices).get(value, value)
        return value


class TenantScopedHistoryAdmin(SimpleHistoryAdmin, TenantScopedAdmin):
    """A TenantScopedAdmin with django-simple-history's pages: the list of an object's versions
    (/history/) and the form of one version (/history/<version>/), both read-only.

    As shipped, the version form saves what is posted to it (a "revert") for anyone holding the
    model's view permission, whatever the tenant, and the pages read the versions without the
    admin's queryset: another tenant's purposes and policies could be read and rewritten.
    SIMPLE_HISTORY_REVERT_DISABLED only hides the button. Here a POST to either page is a 405
    for everyone (reverting is not a feature: a row changes through its change page and its
    audited service), and both pages answer like the change page: a role that cannot view the
    model gets a 403, an object outside the viewer's scope (or unknown) a 404, and the versions
    shown are those whose tenant the viewer may see."""

    def _history_object(self, request, object_id):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self.scoped_object_or_404(request, unquote(object_id))
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def history_view(self, request, object_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        self._history_object(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        # A row moved between tenants keeps its earlier versions: each is shown only to those
        # who may see its tenant at the time.
        return self.scope(
            request, super().get_history_queryset(request, history_manager, pk_name, object_id)
        )

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        obj = self._history_object(request, object_id)
        version_id = str(version_id)
        if not version_id.isdigit():
            raise Http404
        history = getattr(obj, self.model._meta.simple_history_manager_attribute)
        version = history.filter(history_id=int(version_id)).first()
        if version is None or not self.row_visible(request, version.instance):
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def render_history_view(self, request, template, context, **kwargs):
        admin_form = context.get("adminform")
        if admin_form is not None:
            # The version is shown, every field read-only, with no button to submit it.
            context["adminform"] = helpers.AdminForm(
                admin_form.form,
                list(admin_form.fieldsets),
                {},
                flatten_fieldsets(admin_form.fieldsets),
                model_admin=self,
            )
            context.update(
                has_change_permission=False,
                has_add_permission=False,
                has_delete_permission=False,
                change_history=False,
            )
        return super().render_history_view(request, template, context, **kwargs)

    # Fields that keep a choice's code without declaring the choices: {field name: TextChoices}.
    history_labels: dict[str, type[models.TextChoices]] = {}

    def get_historical_record_context_helper(self, request, historical_record):
        return LabelledHistoryChanges(self.model, historical_record, labels=self.history_labels)

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def has_change_history_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdminMixin:
    """For records nobody may add, edit or delete through the admin (trails, proofs, runs)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
