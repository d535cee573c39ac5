from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from signin.views import language_set

from .health import health
from .view_on_site import view_on_site

# The admin site is portal.admin_site.PortalAdminSite (its titles and its index).
urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before the admin's own route of the same path, which is not tenant-scoped.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
        name="scoped_view_on_site",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/health", health, name="health"),
    path("api/v1/", include("recordings.api_urls")),
    path("api/v1/", include("compliance.api_urls")),
    path("compliance/", include("compliance.receipt_urls")),
    path("recordings/", include("recordings.urls")),
    path("signin/", include("signin.urls")),
    # The language switcher's POST (portal/templates/admin/language_switcher.html): Django's
    # set_language, the choice also kept on the person's account (signin/languages.py).
    path("i18n/setlang/", language_set, name="set_language"),
]
