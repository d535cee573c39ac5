"""What a changelist's query string may filter by: its declared list filters and its search box.

Django's changelist applies every query parameter that no list filter takes as a field lookup
(`?customer_number__startswith=+336` is `.filter(customer_number__startswith="+336")`), and its
own check (`ModelAdmin.lookup_allowed`) lets through any lookup on the model's own fields. That
bypasses the search box, whose number searches go on the trail (`recording.searched`,
`consent.searched`): a person could recover a masked number digit by digit, unaudited. So here a
parameter is usable only if a declared list filter takes it, or it is one Django reads itself:
the search (`q`), ordering (`o`), paging (`p`, `all`), the error flag (`e`), facets, and the
popup and autocomplete parameters (`_popup`, `_to_field`, which Django checks on its own). Any
other is refused with a 400, and the probe goes on the trail as `admin.lookup_refused`, naming
the model and the parameters, never their values.
"""

from __future__ import annotations

import re

from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from audit.models import Outcome
from audit.services import event_record, home_tenant_id

# A parameter name that reads as a field lookup (customer_number__startswith) is written to the
# trail as is; any other name, which could carry anything (a number typed as a name), is only
# counted: the append-only trail keeps nothing an erasure could not reach.
_LOOKUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
# A query string may hold thousands of names; the event names the first few.
_NAMES_RECORDED = 20


def lookups_refused(request, model_admin, names: list[str]) -> None:
    """Put a refused probe on the trail: one event for each tenant whose rows the list shows
    (the viewer's own tenants; a platform operator's probe goes on the platform's trail)."""
    lookups = sorted({name for name in names if _LOOKUP_NAME.fullmatch(name)})
    extra: dict[str, object] = {
        "model": model_admin.model._meta.label_lower,
        "parameters": lookups[:_NAMES_RECORDED],
    }
    others = len(set(names)) - len(lookups)
    if others:
        extra["other_parameters"] = others
    user = request.user
    if user.is_superuser:
        tenant_ids: list[int | None] = [None]
    elif hasattr(model_admin, "visible_tenants"):
        tenant_ids = list(model_admin.visible_tenants(request).values_list("pk", flat=True))
    else:
        tenant_ids = []
    with transaction.atomic():
        for tenant_id in tenant_ids or [home_tenant_id(user)]:
            event_record(
                action="admin.lookup_refused",
                tenant=tenant_id,
                outcome=Outcome.DENIED,
                target_type=model_admin.model._meta.label_lower,
                target_label=str(model_admin.model._meta.verbose_name_plural),
                extra=extra,
            )


class DeclaredLookupsChangeList(ChangeList):
    """A changelist that applies no lookup of its own: the parameters the list filters have not
    taken are refused (see the module's docstring)."""

    def get_filters(self, request):
        filter_specs, has_filters, remaining, may_have_duplicates, has_active = super().get_filters(
            request
        )
        if remaining:
            lookups_refused(request, self.model_admin, list(remaining))
            raise DisallowedModelAdminLookup(
                "Filtering by {} is not offered.".format(", ".join(sorted(remaining)))
            )
        return filter_specs, has_filters, remaining, may_have_duplicates, has_active


class DeclaredLookupsOnlyAdmin:
    """For every ModelAdmin of the portal (TenantScopedAdmin includes it). An admin that needs
    its own changelist sets `changelist_class` to a subclass of DeclaredLookupsChangeList."""

    changelist_class: type[ChangeList] = DeclaredLookupsChangeList

    def get_changelist(self, request, **kwargs):
        if not issubclass(self.changelist_class, DeclaredLookupsChangeList):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.changelist_class must subclass DeclaredLookupsChangeList"
            )
        return self.changelist_class

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # Decided once the list filters have taken their parameters: whatever remains is refused
        # (and audited) by DeclaredLookupsChangeList. Django's own answer would let any lookup on
        # the model's own fields through, and refuse the others unaudited.
        return True
