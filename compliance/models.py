"""Tenants (the contact centre's clients, each a data controller) and who works for which."""

from __future__ import annotations

import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone, such as Europe/Paris.")


class TenantQuerySet(models.QuerySet):
    def for_user(self, user) -> TenantQuerySet:
        """The tenants whose data this user may see: all for a platform operator, else theirs."""
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user)


class Tenant(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    country_code = models.CharField(
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166-1 alpha-2 code such as FR.")],
        help_text="ISO 3166-1 alpha-2; the default region for phone numbers.",
    )
    time_zone = models.CharField(
        max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    working_hours_start = models.TimeField(default=time(9, 0))
    working_hours_end = models.TimeField(default=time(18, 0))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.working_hours_start and self.working_hours_end:
            if self.working_hours_start >= self.working_hours_end:
                raise ValidationError(
                    {"working_hours_end": "Working hours must end after they start."}
                )


class Role(models.TextChoices):
    """A person's role in one tenant; each is also a Django group holding its permissions."""

    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    SUPERVISOR = "supervisor", "Supervisor"
    QUALITY_ANALYST = "quality_analyst", "Quality analyst"
    AUDITOR = "auditor", "Auditor"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "tenant"), name="membership_one_per_tenant")
        ]
        ordering = ("tenant__name", "user__username")

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.tenant}"
