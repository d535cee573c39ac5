"""The HTTP API of compliance under /api/v1/: consent decisions (the IVR, the dialer) and
data-subject requests (the tenant's front office)."""

from django.urls import path

from . import api, api_subject_requests

urlpatterns = [
    path("consents", api.consents_create, name="api_consents_create"),
    path(
        "subject-requests",
        api_subject_requests.subject_requests_create,
        name="api_subject_requests_create",
    ),
]
