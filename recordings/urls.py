"""Purpose-bound listening: purpose form, player, stream, download (under /recordings/), and the
download of a data subject's export.

Each view goes through `admin.site.admin_view`: signed-in staff only (others are sent to the admin
sign-in page), never cached, CSRF-protected.
"""

from django.contrib import admin
from django.urls import path

from . import views
from .subject_requests import views as subject_request_views

app_name = "recordings"

urlpatterns = [
    path("<int:recording_id>/listen/", admin.site.admin_view(views.listen), name="listen"),
    path("<int:recording_id>/player/", admin.site.admin_view(views.player), name="player"),
    path("<int:recording_id>/stream/", admin.site.admin_view(views.stream), name="stream"),
    path("<int:recording_id>/download/", admin.site.admin_view(views.download), name="download"),
    path(
        "exports/<int:export_id>/download/",
        admin.site.admin_view(subject_request_views.subject_export_download),
        name="subject_export_download",
    ),
]
