"""The HTTP API of compliance under /api/v1/: consent decisions (the IVR, the dialer),
data-subject requests (the tenant's front office) and internal do-not-call opt-outs (the
dialer)."""

from django.urls import path

from . import api, api_dnc_check, api_dnc_opt_outs, api_dnc_scrub, api_subject_requests

urlpatterns = [
    path("consents", api.consents_create, name="api_consents_create"),
    path(
        "subject-requests",
        api_subject_requests.subject_requests_create,
        name="api_subject_requests_create",
    ),
    path(
        "dnc/opt-outs",
        api_dnc_opt_outs.dnc_opt_outs_create,
        name="api_dnc_opt_outs_create",
    ),
    path("dnc/check", api_dnc_check.dnc_check, name="api_dnc_check"),
    path("dnc/scrub", api_dnc_scrub.dnc_scrub, name="api_dnc_scrub"),
    path(
        "dnc/scrubs/<uuid:scrub_id>/removed",
        api_dnc_scrub.dnc_scrub_removed,
        name="api_dnc_scrub_removed",
    ),
]
