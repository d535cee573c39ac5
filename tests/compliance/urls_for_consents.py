"""portal.urls plus the consent API and receipts, until portal/urls.py includes them itself
(then this module and the `pytest.mark.urls` markers that name it go)."""

from django.urls import include, path

from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    *portal_urlpatterns,
    path("api/v1/", include("compliance.api_urls")),
    path("compliance/", include("compliance.receipt_urls")),
]
