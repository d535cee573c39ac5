"""The IVR's and dialer's HTTP API under /api/v1/: consent decisions."""

from django.urls import path

from . import api

urlpatterns = [
    path("consents", api.consents_create, name="api_consents_create"),
]
