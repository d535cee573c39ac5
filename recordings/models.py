"""The recording register. Audio lives encrypted in private storage; see recordings/crypto.py."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from compliance.access_rules import AccessNeed
from compliance.holds import RECORDING_FIELDS as HOLD_CRITERIA_FIELDS
from compliance.holds import holds_holding
from compliance.models import SubjectRequest
from kit import limits
from kit.limits import bounded_text
from kit.masking import mask_number
from kit.times import in_current_zone


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class Status(models.TextChoices):
    ACTIVE = "active", _("Active")
    PURGED = "purged", _("Purged (retention ended)")
    ERASED = "erased", _("Erased (request or withdrawal)")


# The statuses a recording's row is ever stored with: an erased recording's row is deleted, its
# certificate kept (recordings/services/purge/deletion.py), so ERASED never is; the list's status
# filter offers these only.
STORED_STATUSES = (Status.ACTIVE, Status.PURGED)


class DeletionReason(models.TextChoices):
    EXPIRED = "expired", _("Retention period ended")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    ERASURE_REQUEST = "erasure_request", _("Erasure request (GDPR Art. 17)")
    NO_CONTRACT = "no_contract", _("No contract followed (insurance telesales)")


def matching_active_holds():
    """For Exists() against Recording rows: the active holds holding the outer recording."""
    return holds_holding(
        tenant=OuterRef("tenant"),
        pk=OuterRef("pk"),
        **{name: OuterRef(name) for name in HOLD_CRITERIA_FIELDS},
    )


def restrictions_in_force():
    """The links (request, recording) of the restrictions in force (GDPR Art. 18): applied and
    not lifted. The one statement of the rule, read by the purge's batches and preview
    (RecordingQuerySet.not_restricted, recordings.services.purge.preview), erasure and listening
    (Recording.active_restrictions)."""
    return SubjectRequest.restricted_recordings.through.objects.filter(
        subjectrequest__restricted_at__isnull=False,
        subjectrequest__restriction_lifted_at__isnull=True,
    )


class RecordingQuerySet(models.QuerySet):
    def for_user(self, user) -> RecordingQuerySet:
        if user.is_superuser:
            return self
        return self.filter(tenant__in=user.memberships.values("tenant_id"))

    def active(self) -> RecordingQuerySet:
        return self.filter(status=Status.ACTIVE)

    def expired(self, *, on: date) -> RecordingQuerySet:
        """Active recordings whose last day of retention (`retain_until`) is before `on`."""
        return self.active().filter(retain_until__lt=on)

    def on_hold(self) -> RecordingQuerySet:
        return self.filter(Exists(matching_active_holds()))

    def not_on_hold(self) -> RecordingQuerySet:
        return self.filter(~Exists(matching_active_holds()))

    def restricted(self) -> RecordingQuerySet:
        """Under a restriction in force (Art. 18): kept, like a held recording, until lifted. A
        subquery from the restrictions' side (few rows), as holds' named recordings are."""
        return self.filter(pk__in=restrictions_in_force().values("recording_id"))

    def not_restricted(self) -> RecordingQuerySet:
        return self.exclude(pk__in=restrictions_in_force().values("recording_id"))


# Kept by name so that ingestion can write a history row itself (recordings.services.ingest).
RECORDING_HISTORY = HistoricalRecords(
    excluded_fields=["wrapped_key", "master_key_id", "storage_name"]
)


class Recording(models.Model):
    # No index of its own: every index of Meta.indexes that a tenant's query uses starts with it.
    tenant = models.ForeignKey(
        "compliance.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("tenant"),
    )
    call_id = models.CharField(
        max_length=128, help_text=_("The recorder's id for the call."), verbose_name=_("call id")
    )
    direction = models.CharField(
        max_length=8, choices=Direction.choices, verbose_name=_("direction")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    duration_seconds = models.DecimalField(
        max_digits=9, decimal_places=3, verbose_name=_("duration seconds")
    )
    agent_code = models.CharField(max_length=64, blank=True, verbose_name=_("agent code"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("agent"),
    )
    customer_number = models.CharField(
        max_length=16, blank=True, help_text=_("E.164"), verbose_name=_("customer number")
    )
    subject_reference = models.CharField(
        max_length=128, blank=True, verbose_name=_("subject reference")
    )
    campaign = models.CharField(max_length=128, blank=True, verbose_name=_("campaign"))
    # No index of its own: recording_purpose_recent starts with it.
    purpose = models.ForeignKey(
        "compliance.Purpose",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("purpose"),
    )
    legal_basis = models.CharField(max_length=32, verbose_name=_("legal basis"))
    retention_policy = models.ForeignKey(
        "compliance.RetentionPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("retention policy"),
    )
    retain_until = models.DateField(
        help_text=_("Last day the recording may be kept."), verbose_name=_("retain until")
    )
    retention_starts_on = models.DateField(
        null=True,
        blank=True,
        help_text=_(
            "When retention counts from another date than the call's (a contract's "
            "signature, insurance telesales)."
        ),
        verbose_name=_("retention starts on"),
    )
    deletion_reason = models.CharField(
        max_length=20,
        choices=DeletionReason.choices,
        default=DeletionReason.EXPIRED,
        help_text=_("Why it will be (or was) deleted once retain_until has passed."),
        verbose_name=_("deletion reason"),
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    # The audio: encrypted with a data key of its own, itself wrapped by the tenant's key.
    size_bytes = models.PositiveBigIntegerField(verbose_name=_("size bytes"))
    content_type = models.CharField(max_length=40, verbose_name=_("content type"))
    audio_sha256 = models.CharField(
        max_length=64, help_text=_("SHA-256 of the plain audio."), verbose_name=_("audio sha256")
    )
    storage_name = models.CharField(
        max_length=255, editable=False, db_index=True, verbose_name=_("storage name")
    )
    wrapped_key = models.BinaryField(null=True, editable=False, verbose_name=_("wrapped key"))
    master_key_id = models.CharField(max_length=16, editable=False, verbose_name=_("master key id"))
    ingested_at = models.DateTimeField(auto_now_add=True, verbose_name=_("ingested at"))

    objects = RecordingQuerySet.as_manager()
    # Metadata history; the key material never goes into it.
    history = RECORDING_HISTORY

    class Meta:
        ordering = ("-started_at",)
        permissions = [
            ("listen_recording", "Can listen to recordings, with a stated purpose"),
            ("download_recording", "Can download recordings, with a stated purpose"),
            (
                "record_contract_outcome",
                "Can record whether a contract followed an insurance telesales call",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=("tenant", "call_id"), name="recording_call_per_tenant")
        ]
        # The admin list (recordings/admin.py) at 10 million rows: each filter has an index that
        # gives its rows in the list's order, tenant first for a member and without the tenant
        # for the platform operator, so that both the page and its capped count (up to 10,001
        # rows, read from the index alone where the id is in it) stop early instead of sorting.
        indexes = [
            models.Index(fields=("tenant", "-started_at"), name="recording_tenant_started"),
            # Active rows by the end of their retention, in the order (retain_until, id) in which
            # the purge takes a tenant's expired rows and the retention filter lists a window.
            # With the purpose and the reason, the purge preview counts a tenant's expired rows
            # per purpose and reason from the index alone (no visit of millions of table rows).
            models.Index(
                fields=("tenant", "retain_until", "id"),
                include=("purpose", "deletion_reason"),
                name="recording_tenant_expiry",
                condition=models.Q(status="active"),
            ),
            models.Index(
                fields=("retain_until", "id"),
                name="recording_expiry",
                condition=models.Q(status="active"),
            ),
            models.Index(fields=("tenant", "customer_number"), name="recording_tenant_number"),
            # A data-subject request names its subject by reference as well as by number.
            models.Index(
                fields=("tenant", "subject_reference"),
                name="recording_tenant_subject",
                condition=~models.Q(subject_reference=""),
            ),
            models.Index(fields=("tenant", "campaign"), name="recording_tenant_campaign"),
            # The purpose filter, newest first (the list orders by -started_at, -id).
            models.Index(
                fields=("tenant", "purpose", "-started_at", "-id"), name="recording_tenant_purpose"
            ),
            models.Index(fields=("purpose", "-started_at", "-id"), name="recording_purpose_recent"),
            # The dashboard's capped counts of a tenant's recordings per purpose and status
            # (recordings/dashboard.py), read from the index alone.
            models.Index(fields=("tenant", "purpose", "status"), name="recording_purpose_status"),
            # The platform operator's unfiltered list (all tenants, newest first).
            models.Index(fields=("-started_at",), name="recording_started"),
        ]
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")

    def __str__(self) -> str:
        return gettext("call %(call_id)s") % {"call_id": self.call_id}

    def get_absolute_url(self) -> str:
        return reverse("admin:recordings_recording_change", args=[self.pk])

    def active_holds(self):
        """The legal holds that hold this recording now."""
        return holds_holding(
            tenant=self.tenant_id,
            pk=self.pk,
            **{name: getattr(self, name) for name in HOLD_CRITERIA_FIELDS},
        ).distinct()

    def active_restrictions(self):
        """The data-subject requests whose restriction (Art. 18) is in force on this recording."""
        links = restrictions_in_force().filter(recording_id=self.pk)
        return SubjectRequest.objects.filter(pk__in=links.values("subjectrequest_id")).order_by(
            "pk"
        )

    @property
    def masked_number(self) -> str:
        return mask_number(self.customer_number)


class AccessGrant(models.Model):
    """Time-limited permission for one person to listen to one recording, for a stated purpose."""

    recording = models.ForeignKey(
        Recording, on_delete=models.CASCADE, related_name="grants", verbose_name=_("recording")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    purpose = models.CharField(max_length=40, verbose_name=_("purpose"))
    justification = bounded_text(limits.ACCESS_JUSTIFICATION, verbose_name=_("justification"))
    allows_download = models.BooleanField(default=False, verbose_name=_("allows download"))
    granted_at = models.DateTimeField(verbose_name=_("granted at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    # When audio was first served under this grant: the grant's one `recording.played` event.
    first_played_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("first played at")
    )

    class Meta:
        ordering = ("-granted_at",)
        indexes = [models.Index(fields=("recording", "user", "-expires_at"), name="grant_lookup")]
        verbose_name = _("access grant")
        verbose_name_plural = _("access grants")

    def __str__(self) -> str:
        need = AccessNeed(self.purpose).label if self.purpose in AccessNeed.values else self.purpose
        return f"{self.user} → {self.recording} ({need}) until {in_current_zone(self.expires_at)}"


class PurgeRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")
    DRY_RUN = "dry_run", _("Preview (dry run)")


class PurgeRun(models.Model):
    """One run of the purge (nightly task or command), with its counts. A run that dies stays
    'running'; the next run finishes its work (see recordings/services/purge/run.py)."""

    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    status = models.CharField(
        max_length=10, choices=PurgeRunStatus.choices, verbose_name=_("status")
    )
    triggered_by = models.CharField(max_length=150, verbose_name=_("triggered by"))
    expired_found = models.PositiveIntegerField(default=0, verbose_name=_("expired found"))
    purged = models.PositiveIntegerField(default=0, verbose_name=_("purged"))
    skipped_held = models.PositiveIntegerField(default=0, verbose_name=_("skipped held"))
    failed = models.PositiveIntegerField(default=0, verbose_name=_("failed"))
    files_removed = models.PositiveIntegerField(default=0, verbose_name=_("files removed"))
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))
    preview = models.JSONField(default=list, blank=True, verbose_name=_("preview"))

    class Meta:
        ordering = ("-started_at",)
        permissions = [
            (
                "start_purge_dry_run",
                "Can start a purge dry run (what the next purge would delete, nothing deleted)",
            )
        ]
        verbose_name = _("purge run")
        verbose_name_plural = _("purge runs")

    def __str__(self) -> str:
        # In the zone of the page (the viewer's), like its "started at" field.
        return f"purge {in_current_zone(self.started_at)} ({self.get_status_display()})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class DeletionCertificate(models.Model):
    """Proof that one recording was deleted, with no personal data: ids, hashes, policy, reason,
    time, and an HMAC signature (AUDIT_HMAC_KEY) over all of it. Exactly one per deleted
    recording (unique recording_id). `key_id` names the key of the signature and of the call-id
    hash, so that both verify after a key rotation (audit.keys)."""

    recording_id = models.BigIntegerField(unique=True, verbose_name=_("recording id"))
    tenant = models.ForeignKey(
        "compliance.Tenant", on_delete=models.PROTECT, related_name="+", verbose_name=_("tenant")
    )
    call_id_hash = models.CharField(max_length=64, verbose_name=_("call id hash"))
    audio_sha256 = models.CharField(max_length=64, verbose_name=_("audio sha256"))
    storage_name = models.CharField(
        max_length=255, blank=True, help_text=_("Random file name."), verbose_name=_("storage name")
    )
    purpose_code = models.CharField(max_length=60, verbose_name=_("purpose code"))
    policy_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("policy id"))
    policy_version = models.BigIntegerField(null=True, blank=True, verbose_name=_("policy version"))
    retain_until = models.DateField(verbose_name=_("retain until"))
    reason = models.CharField(
        max_length=20, choices=DeletionReason.choices, verbose_name=_("reason")
    )
    purge_run = models.ForeignKey(
        PurgeRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("purge run"),
    )
    deleted_at = models.DateTimeField(verbose_name=_("deleted at"))
    signature = models.CharField(max_length=64, verbose_name=_("signature"))
    key_id = models.CharField(max_length=16, verbose_name=_("key id"))

    class Meta:
        ordering = ("-deleted_at",)
        indexes = [
            models.Index(fields=("tenant", "-deleted_at"), name="certificate_tenant"),
            # A call id is found through its keyed hash: by every upload (an erased call may not
            # come back) and by the certificates' search, an index probe per tenant and key.
            models.Index(fields=("tenant", "call_id_hash"), name="certificate_call_id"),
        ]
        verbose_name = _("deletion certificate")
        verbose_name_plural = _("deletion certificates")

    def __str__(self) -> str:
        return f"certificate for recording {self.recording_id} ({self.get_reason_display()})"


class PendingFileRemoval(models.Model):
    """Audio whose record is already deleted (committed) but whose file may still exist: written
    in the deleting transaction, removed once the file is gone. A crash between the commit and
    the unlink leaves the row, and the next purge finishes the job."""

    storage_name = models.CharField(max_length=255, unique=True, verbose_name=_("storage name"))
    purge_run = models.ForeignKey(
        PurgeRun,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("purge run"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    def __str__(self) -> str:
        return self.storage_name


class ExportStatus(models.TextChoices):
    BUILDING = "building", _("Being built")
    READY = "ready", _("Ready to download")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired (file deleted)")


class SubjectExport(models.Model):
    """The ZIP answering an access or portability request (GDPR Art. 15, 20): the subject's
    recordings' metadata, consents and access log (subject.json), a README in the requester's
    language and the audio. Stored encrypted like a recording (its own data key, wrapped by the
    tenant's key), downloadable by the request's handler until `expires_at`, then deleted by the
    nightly job (recordings/subject_requests/export.py)."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("tenant"),
    )
    request = models.ForeignKey(
        "compliance.SubjectRequest",
        on_delete=models.PROTECT,
        related_name="exports",
        verbose_name=_("request"),
    )
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=ExportStatus.choices,
        default=ExportStatus.BUILDING,
    )
    # Random, decided at creation; the ZIP is written under it + ".part" and renamed when whole.
    storage_name = models.CharField(
        max_length=255, unique=True, editable=False, verbose_name=_("storage name")
    )
    wrapped_key = models.BinaryField(null=True, editable=False, verbose_name=_("wrapped key"))
    master_key_id = models.CharField(
        max_length=16, blank=True, editable=False, verbose_name=_("master key id")
    )
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256 of the ZIP"), max_length=64, blank=True)
    recordings_count = models.PositiveIntegerField(_("recordings"), default=0)
    audio_files = models.PositiveIntegerField(_("audio files"), default=0)
    failure = models.CharField(_("why it failed"), max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    # The latest attempt to build it (a re-run after a crash starts again).
    attempted_at = models.DateTimeField(_("last build started at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("downloadable until"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        verbose_name = _("data-subject export")
        verbose_name_plural = _("data-subject exports")
        indexes = [
            models.Index(fields=("tenant", "-created_at"), name="subjectexport_tenant"),
            # The nightly job: ready exports by expiry, and builds left behind.
            models.Index(
                fields=("expires_at",),
                name="subjectexport_expiry",
                condition=models.Q(status="ready"),
            ),
            models.Index(
                fields=("attempted_at",),
                name="subjectexport_building",
                condition=models.Q(status="building"),
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.request}"

    @property
    def downloadable(self) -> bool:
        return (
            self.status == ExportStatus.READY
            and self.expires_at is not None
            and self.expires_at > timezone.now()
        )
