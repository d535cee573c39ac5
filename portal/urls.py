from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .health import health

admin.site.site_header = "Custodia"
admin.site.site_title = "Custodia"
admin.site.index_title = "Call recordings compliance"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/health", health, name="health"),
    path("api/v1/", include("recordings.api_urls")),
    path("api/v1/", include("compliance.api_urls")),
    path("compliance/", include("compliance.receipt_urls")),
    path("recordings/", include("recordings.urls")),
    path("signin/", include("signin.urls")),
]
