"""Links from any app's admin page to the audit trail's list, filtered (the trail's admin is
audit's; the pages that link to it are compliance's and recordings')."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _


def audit_trail_link(url_query: str, label: str = _("Who accessed this")) -> str:
    url = reverse("admin:audit_auditevent_changelist") + "?" + url_query
    return format_html('<a href="{}">{}</a>', url, label)
