"""What the pages generating a tenant's documents share (the Art. 30 register, the risk
analysis): the tenant read through the admin's scope (another tenant's is the 404 an unknown
id gets, on its trail), the language asked for, and the files answered for download."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse

from ..models import Tenant
from ..register.strings import LANGUAGES, language_of
from ..tenancy import TenantScopedAdmin, cross_tenant_refusal_record


def tenant_in_scope(model_admin: TenantScopedAdmin, request, tenant_id: int, *, view: str):
    """The tenant whose document is asked for, if the viewer's role there lets them read this
    admin's rows; a role without that permission anywhere is a 403 before the look-up; a tenant
    outside the scope (or unknown) a 404, another tenant's on its trail."""
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    tenant = model_admin.visible_tenants(request).filter(pk=tenant_id).first()
    if tenant is None:
        cross_tenant_refusal_record(request, Tenant, tenant_id, view=view, tenant_field="")
        raise Http404
    return tenant


def not_reading(request) -> HttpResponseNotAllowed | None:
    """These pages only read: anything but GET or HEAD is a 405 (after the scope's 404)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return None


def language_asked(request) -> str:
    return language_of(request.GET.get("language"))


def language_links() -> list[tuple[str, str]]:
    return list(LANGUAGES.items())


def attachment(content, *, filename: str, content_type: str):
    """A file to download: streamed when `content` is an iterator of lines."""
    if isinstance(content, bytes | str):
        response = HttpResponse(content, content_type=content_type)
    else:
        response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
