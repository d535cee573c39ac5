"""The recording register. Audio lives encrypted in private storage; see recordings/crypto.py."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PURGED = "purged", "Purged (retention ended)"
    ERASED = "erased", "Erased (request or withdrawal)"


class RecordingQuerySet(models.QuerySet):
    def for_user(self, user) -> RecordingQuerySet:
        if user.is_superuser:
            return self
        return self.filter(tenant__in=user.memberships.values("tenant_id"))

    def active(self) -> RecordingQuerySet:
        return self.filter(status=Status.ACTIVE)

    def expired(self, *, on: date) -> RecordingQuerySet:
        return self.active().filter(retain_until__lt=on)


class Recording(models.Model):
    tenant = models.ForeignKey("compliance.Tenant", on_delete=models.PROTECT, related_name="+")
    call_id = models.CharField(max_length=128, help_text="The recorder's id for the call.")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    started_at = models.DateTimeField()
    duration_seconds = models.DecimalField(max_digits=9, decimal_places=3)
    agent_code = models.CharField(max_length=64, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer_number = models.CharField(max_length=16, blank=True, help_text="E.164")
    subject_reference = models.CharField(max_length=128, blank=True)
    campaign = models.CharField(max_length=128, blank=True)
    purpose = models.ForeignKey("compliance.Purpose", on_delete=models.PROTECT, related_name="+")
    legal_basis = models.CharField(max_length=32)
    retention_policy = models.ForeignKey(
        "compliance.RetentionPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    retain_until = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    # The audio: encrypted with a data key of its own, itself wrapped by the tenant's key.
    size_bytes = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=40)
    audio_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the plain audio.")
    storage_name = models.CharField(max_length=255, editable=False)
    wrapped_key = models.BinaryField(null=True, editable=False)
    master_key_id = models.CharField(max_length=16, editable=False)
    ingested_at = models.DateTimeField(auto_now_add=True)

    objects = RecordingQuerySet.as_manager()
    # Metadata history; the key material never goes into it.
    history = HistoricalRecords(excluded_fields=["wrapped_key", "master_key_id", "storage_name"])

    class Meta:
        ordering = ("-started_at",)
        permissions = [
            ("listen_recording", "Can listen to recordings, with a stated purpose"),
            ("download_recording", "Can download recordings, with a stated purpose"),
        ]
        constraints = [
            models.UniqueConstraint(fields=("tenant", "call_id"), name="recording_call_per_tenant")
        ]
        indexes = [
            models.Index(fields=("tenant", "-started_at"), name="recording_tenant_started"),
            models.Index(
                fields=("retain_until",),
                name="recording_active_expiry",
                condition=models.Q(status="active"),
            ),
            models.Index(fields=("tenant", "customer_number"), name="recording_tenant_number"),
            models.Index(fields=("tenant", "campaign"), name="recording_tenant_campaign"),
            models.Index(fields=("purpose", "-started_at"), name="recording_purpose_started"),
        ]

    def __str__(self) -> str:
        return f"call {self.call_id}"

    def get_absolute_url(self) -> str:
        return reverse("admin:recordings_recording_change", args=[self.pk])

    @property
    def masked_number(self) -> str:
        number = self.customer_number
        return f"{number[:4]}•••••{number[-2:]}" if len(number) > 6 else "•" * len(number)


class AccessGrant(models.Model):
    """Time-limited permission for one person to listen to one recording, for a stated purpose."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=40)
    justification = models.TextField()
    allows_download = models.BooleanField(default=False)
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ("-granted_at",)
        indexes = [models.Index(fields=("recording", "user", "-expires_at"), name="grant_lookup")]

    def __str__(self) -> str:
        return f"{self.user} → {self.recording} ({self.purpose}) until {self.expires_at:%H:%M}"
