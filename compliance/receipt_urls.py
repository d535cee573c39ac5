"""Consent receipts (mounted at /compliance/): a printable page and its JSON.

Each view goes through `admin.site.admin_view`: signed-in staff only (others are sent to the admin
sign-in page), never cached.
"""

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path(
        "consents/<int:consent_id>/receipt/",
        admin.site.admin_view(views.consent_receipt),
        name="consent_receipt",
    ),
    path(
        "consents/<int:consent_id>/receipt.json",
        admin.site.admin_view(views.consent_receipt_json),
        name="consent_receipt_json",
    ),
]
