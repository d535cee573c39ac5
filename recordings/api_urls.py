"""The recorder's HTTP API under /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("recordings", api.recordings_create, name="api_recordings_create"),
]
