from django.urls import path

from . import views

app_name = "signin"

urlpatterns = [
    path("two-factor/", views.verify, name="verify"),
    path("two-factor/enrol/", views.enrol, name="enrol"),
]
