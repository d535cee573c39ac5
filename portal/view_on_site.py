"""Django's "view on site" shortcut (/admin/r/<content type id>/<object id>/), scoped.

The admin site's own route looks the object up in the whole table and redirects to its
get_absolute_url(): another tenant's recording answered 302, an id that does not exist 404, which
told that the id is in use. This one, mounted in its place (portal/urls.py), finds the object
through its admin, as the change page does (the viewer's tenants and role): an object the viewer
may not see, of a model without an admin, or without a page to go to, is the same 404 as an id
that does not exist, and another tenant's object goes on that tenant's trail
(compliance/tenancy.py::cross_tenant_refusal_record).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpRequest, HttpResponseRedirect

from compliance.tenancy import cross_tenant_refusal_record


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str):
    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist:
        raise Http404 from None
    model_admin = admin.site._registry.get(model)
    obj = None
    if model_admin is not None and model_admin.has_view_or_change_permission(request):
        obj = model_admin.get_object(request, object_id)
    if (
        obj is None
        or not model_admin.has_view_or_change_permission(request, obj)
        or not hasattr(obj, "get_absolute_url")
    ):
        if obj is None and model is not None:
            # Another tenant's object: on that tenant's trail (an unknown id leaves nothing).
            cross_tenant_refusal_record(request, model, object_id, view="view on site")
        raise Http404
    return HttpResponseRedirect(obj.get_absolute_url())
