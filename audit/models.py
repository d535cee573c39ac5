"""The audit app's models, in four headed sections: the append-only, hash-chained trail (see
audit/chain.py for the chain's definition), the alerts over it (audit/alerts/), the personal-data
breach incidents (audit/incidents.py) and the forwarding to a tenant's SOC (audit/forwarding/).

Longer than 500 lines on purpose: each section is declarations only (fields, choices, constraints,
a few lines of validation), read section by section; a models package would re-export every name
from its __init__ for Django and the migrations, whose references (a field's default callable)
name this module."""

from __future__ import annotations

import ssl
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .actions import action_label
from .timeline import first_sequence_at


class Outcome(models.TextChoices):
    ALLOWED = "allowed", _("Allowed")
    DENIED = "denied", _("Denied")


class AuditEventQuerySet(models.QuerySet):
    def for_user(self, user) -> AuditEventQuerySet:
        if user.is_superuser:
            return self
        return self.filter(tenant_id__in=user.memberships.values("tenant_id"))

    def about(self, target_type: str, target_id: object) -> AuditEventQuerySet:
        return self.filter(target_type=target_type, target_id=str(target_id))

    def occurred_since(self, instant: datetime) -> AuditEventQuerySet:
        """Events timed at or after `instant`, read as one range of sequence numbers (there is
        no index on the time: audit/timeline.py)."""
        return self.filter(sequence__gte=first_sequence_at(instant), occurred_at__gte=instant)


class AuditEvent(models.Model):
    """One thing that happened. Rows are written by `audit.services.event_record` only; PostgreSQL
    refuses UPDATE, DELETE and TRUNCATE on this table (triggers in migration 0002)."""

    sequence = models.BigIntegerField(primary_key=True, verbose_name=_("sequence"))
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    # No single-column indexes on the two keys: the composite indexes below start with them.
    tenant = models.ForeignKey(
        "compliance.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("tenant"),
    )
    # No database constraint: deleting a user must not touch the trail, which keeps the id and the
    # username snapshot below.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
        verbose_name=_("actor"),
    )
    actor_username = models.CharField(max_length=150, blank=True, verbose_name=_("actor username"))
    action = models.CharField(max_length=80, verbose_name=_("action"))
    outcome = models.CharField(
        max_length=8, choices=Outcome.choices, default=Outcome.ALLOWED, verbose_name=_("outcome")
    )
    target_type = models.CharField(max_length=60, blank=True, verbose_name=_("target type"))
    target_id = models.CharField(max_length=64, blank=True, verbose_name=_("target id"))
    target_label = models.CharField(max_length=200, blank=True, verbose_name=_("target label"))
    purpose = models.CharField(max_length=60, blank=True, verbose_name=_("purpose"))
    justification = models.TextField(blank=True, verbose_name=_("justification"))
    client_ip = models.CharField(max_length=45, blank=True, verbose_name=_("client ip"))
    user_agent = models.CharField(max_length=512, blank=True, verbose_name=_("user agent"))
    workstation_id = models.CharField(max_length=128, blank=True, verbose_name=_("workstation id"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    extra = models.JSONField(default=dict, blank=True, verbose_name=_("extra"))
    previous_hash = models.CharField(max_length=64, verbose_name=_("previous hash"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))
    # The key that made the hash (audit/chain.py, scheme 2), and the keyed pseudonyms written in
    # the same event; "" for the unkeyed events of scheme 1, accepted only up to the seal.
    key_id = models.CharField(max_length=16, blank=True, default="", verbose_name=_("key id"))

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-sequence",)
        permissions = [("export_auditevent", "Can export audit events as CSV")]
        # Each index matches one way a reviewer narrows the trail, newest first.
        indexes = [
            models.Index(fields=("tenant", "-sequence"), name="audit_tenant_seq"),
            models.Index(fields=("actor", "-sequence"), name="audit_actor_seq"),
            models.Index(fields=("target_type", "target_id", "-sequence"), name="audit_target_seq"),
            models.Index(fields=("action", "-sequence"), name="audit_action_seq"),
            # A tenant member's per-user and per-action views. The time is carried in the
            # per-action index so that "this action since midnight" (the dashboard's listening
            # today, the list's occurred=today) is counted from the index alone: read through
            # the heap, PostgreSQL preferred the primary key over the day's range at 100M
            # events (benchmarks/README.md, dashboard.py).
            models.Index(
                fields=("tenant", "action", "-sequence"),
                name="audit_tenant_action_at",
                include=("occurred_at",),
            ),
            models.Index(fields=("tenant", "actor", "-sequence"), name="audit_tenant_actor_seq"),
            models.Index(fields=("request_id",), name="audit_request_id"),
            models.Index(fields=("actor_username", "-sequence"), name="audit_username_seq"),
            models.Index(
                fields=("purpose", "-sequence"),
                name="audit_purpose_seq",
                condition=~models.Q(purpose=""),
            ),
            models.Index(
                fields=("-sequence",),
                name="audit_denied_seq",
                condition=models.Q(outcome="denied"),
            ),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"#{self.sequence} {action_label(self.action)} by {self.actor_username or 'system'}"


class ChainHead(models.Model):
    """The last sequence number and hash of the chain, in one row (id 1) whose row lock
    serialises appends so that the chain never forks. Rows can be updated, never deleted."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, verbose_name=_("id"))
    sequence = models.BigIntegerField(default=0, verbose_name=_("sequence"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))
    previous_hash = models.CharField(max_length=64, verbose_name=_("previous hash"))

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="chainhead_single")]
        verbose_name = _("chain head")
        verbose_name_plural = _("chain heads")

    def __str__(self) -> str:
        return f"chain head at #{self.sequence}"


class CheckpointKind(models.TextChoices):
    SEAL = "seal", _("Seal of the events hashed before keys")
    VERIFIED = "verified", _("Chain verified")
    ROTATION = "rotation", _("Audit key rotated")


class Checkpoint(models.Model):
    """A verified point of the chain, numbered from 1 and signed (with the key of `key_id`) over
    its fields and the previous checkpoint's signature: a signed chain of its own, append-only in
    PostgreSQL like the events (migration 0004), and anchored outside the database
    (audit.anchors). The verifier refuses a missing number, a broken link, a bad signature, and a
    chain head behind a checkpoint (audit/chain.py)."""

    number = models.BigIntegerField(unique=True, verbose_name=_("number"))
    kind = models.CharField(max_length=10, choices=CheckpointKind.choices, verbose_name=_("kind"))
    sequence = models.BigIntegerField(verbose_name=_("sequence"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    key_id = models.CharField(max_length=16, verbose_name=_("key id"))
    previous_signature = models.CharField(
        max_length=64, blank=True, verbose_name=_("previous signature")
    )
    signature = models.CharField(max_length=64, verbose_name=_("signature"))

    class Meta:
        ordering = ("-number",)
        get_latest_by = "number"
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return f"checkpoint {self.number} at #{self.sequence}"


# --- alerts over the trail (audit/alerts/) -------------------------------------------------------


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class AlertStatus(models.TextChoices):
    NEW = "new", _("New")
    INVESTIGATING = "investigating", _("Investigating")
    FALSE_ALARM = "false_alarm", _("False alarm")
    REAL_DANGER = "real_danger", _("Real danger")
    INAPPROPRIATE_USE = "inappropriate_use", _("Inappropriate use")
    CLOSED = "closed", _("Closed")


def severity_rank() -> models.Case:
    """0 for high, 1 for medium, 2 for low: ordering by it puts the most severe first."""
    return models.Case(
        models.When(severity=Severity.HIGH, then=models.Value(0)),
        models.When(severity=Severity.MEDIUM, then=models.Value(1)),
        default=models.Value(2),
        output_field=models.IntegerField(),
    )


# The statuses a new event on the same rule and subject is merged into (an alert someone has
# judged, or closed, is not reopened: a new one is raised).
ALERT_OPEN_STATUSES = (AlertStatus.NEW, AlertStatus.INVESTIGATING)


class Alert(models.Model):
    """Something on the trail that deserves a person's attention, raised by a rule
    (audit/alerts/rules.py) over the events it lists, about one subject: a person or an address.
    Events of the same rule and subject while the alert is open are merged into it."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tenant"),
    )
    rule = models.CharField(_("rule"), max_length=40)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=AlertStatus.choices,
        default=AlertStatus.NEW,
    )
    # "user:<id>", "ip:<address>" or "platform": the key alerts are merged on.
    subject_key = models.CharField(max_length=80, verbose_name=_("subject key"))
    subject_actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("subject actor"),
    )
    subject_label = models.CharField(_("subject"), max_length=200)
    summary = models.CharField(_("summary"), max_length=300)
    window_start = models.DateTimeField(_("from"))
    window_end = models.DateTimeField(_("to"))
    # The trail's events that caused it (sequence numbers, capped): the admin filters the trail
    # to them in one click.
    event_sequences = ArrayField(
        models.BigIntegerField(), default=list, verbose_name=_("event sequences")
    )
    event_count = models.PositiveIntegerField(_("events"), default=0)
    raised_at = models.DateTimeField(_("raised at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ("-raised_at",)
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        permissions = [("triage_alert", "Can triage alerts")]
        constraints = [
            # One open alert per rule and subject in a tenant: two evaluations at once cannot
            # both raise it, and a repeat is merged.
            models.UniqueConstraint(
                "tenant",
                "rule",
                "subject_key",
                condition=models.Q(status__in=("new", "investigating")),
                nulls_distinct=False,
                name="audit_alert_one_open_per_subject",
            )
        ]
        indexes = [models.Index(fields=("tenant", "status", "-raised_at"), name="audit_alert_open")]

    def __str__(self) -> str:
        return f"{self.summary} ({self.get_status_display()})"


class AlertStatusChange(models.Model):
    """One triage step: who moved the alert from which status to which, when, and why."""

    alert = models.ForeignKey(
        Alert, on_delete=models.PROTECT, related_name="status_changes", verbose_name=_("alert")
    )
    from_status = models.CharField(
        max_length=20, choices=AlertStatus.choices, verbose_name=_("from status")
    )
    to_status = models.CharField(
        max_length=20, choices=AlertStatus.choices, verbose_name=_("to status")
    )
    note = models.TextField(_("note"), max_length=2000)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(verbose_name=_("changed at"))

    class Meta:
        ordering = ("changed_at", "id")
        verbose_name = _("alert status change")
        verbose_name_plural = _("alert status changes")

    def __str__(self) -> str:
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"


class AlertRule(models.TextChoices):
    """The rules of audit/alerts/rules.py, by code (the reasons are in each rule's docstring)."""

    VOLUME = "volume", _("Many recordings opened in a short time")
    OFF_HOURS = "off_hours", _("Access outside working hours")
    DENIED_BURST = "denied_burst", _("Burst of refused attempts")
    CROSS_TENANT = "cross_tenant", _("Another tenant's data asked for")
    DOWNLOAD_SPIKE = "download_spike", _("Many downloads in a day")
    PURPOSE_MISUSE = "purpose_misuse", _("Listening purpose misused")
    DORMANT_ACCOUNT = "dormant_account", _("Dormant account signed in")
    INTEGRITY = "integrity", _("Integrity check failed")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


def _weekend() -> list[int]:
    return [Weekday.SATURDAY, Weekday.SUNDAY]


class AlertRuleSetting(models.Model):
    """A rule's thresholds: the platform's default (no tenant, platform operators only) or one
    tenant's own, which overrides the default for that tenant's events."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tenant"),
    )
    rule = models.CharField(_("rule"), max_length=40, choices=AlertRule.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    threshold = models.PositiveIntegerField(
        _("threshold"),
        validators=[MinValueValidator(1, _("A threshold must be at least 1."))],
        help_text=_("How many (events, recordings, days) it takes: see the rule's description."),
    )
    window_minutes = models.PositiveIntegerField(
        _("window (minutes)"),
        validators=[MinValueValidator(1, _("A window must last at least one minute."))],
    )
    days_off = ArrayField(
        models.PositiveSmallIntegerField(choices=Weekday.choices),
        default=_weekend,
        blank=True,
        verbose_name=_("days off"),
        help_text=_("Off hours rule: the tenant's days off, in its time zone."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("rule", "tenant")
        verbose_name = _("alert rule setting")
        verbose_name_plural = _("alert rule settings")
        constraints = [
            models.UniqueConstraint(
                "tenant", "rule", nulls_distinct=False, name="audit_alert_rule_setting_once"
            ),
            models.CheckConstraint(
                condition=models.Q(threshold__gte=1, window_minutes__gte=1),
                name="audit_alert_rule_setting_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_rule_display())


class AlertRuleCursor(models.Model):
    """How far one rule has read the trail (the last sequence number it evaluated) and what it
    remembers of the events before (its windows), saved in the transaction that saves the alerts
    those events raised."""

    rule = models.CharField(
        max_length=40, primary_key=True, choices=AlertRule.choices, verbose_name=_("rule")
    )
    last_sequence = models.BigIntegerField(default=0, verbose_name=_("last sequence"))
    # JSON (written by orjson: the windows of a busy hour are saved with every chunk).
    state = models.BinaryField(default=bytes, verbose_name=_("state"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    def __str__(self) -> str:
        return f"{self.rule} at #{self.last_sequence}"


# --- personal-data breaches: incidents and their playbooks (audit/incidents.py) -----------------

# GDPR Art. 33(1): the supervisory authority is notified without undue delay and, where
# feasible, within 72 hours of becoming aware of a personal-data breach.
BREACH_NOTIFICATION_HOURS = 72
# The tenant's compliance officers are reminded this long before the deadline.
BREACH_REMINDER_HOURS_BEFORE = 24


class IncidentNature(models.TextChoices):
    ACCOUNT_COMPROMISE = "account_compromise", _("Account compromise")
    UNAUTHORISED_LISTENING = "unauthorised_listening", _("Unauthorised listening")
    DATA_EXFILTRATION = "data_exfiltration", _("Data exfiltration")
    LOST_DEVICE = "lost_device", _("Lost or stolen device")
    RANSOMWARE = "ransomware", _("Ransomware")
    OTHER = "other", _("Other")


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Incident(models.Model):
    """A personal-data breach (GDPR Art. 4(12)), opened from an alert judged a real danger or by
    hand, with what Art. 33(3) asks the notification to describe, the notification itself, what
    the data subjects were told (Art. 34) and the crisis playbook of its nature, ticked action by
    action. Written by the services of audit/incidents.py only, each change an audit event."""

    tenant = models.ForeignKey(
        "compliance.Tenant", on_delete=models.PROTECT, related_name="+", verbose_name=_("tenant")
    )
    title = models.CharField(_("title"), max_length=200)
    nature = models.CharField(_("nature"), max_length=30, choices=IncidentNature.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=IncidentStatus.choices,
        default=IncidentStatus.OPEN,
    )
    alerts = models.ManyToManyField(
        Alert, blank=True, related_name="incidents", verbose_name=_("alerts")
    )
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("opened by"),
    )
    # The 72 hours of Art. 33(1) run from here: when the controller became aware of the breach.
    aware_at = models.DateTimeField(_("aware since"))
    # Art. 33(3)(a): the nature of the breach, the categories and approximate number of data
    # subjects and of records concerned.
    description = models.TextField(_("what happened"), max_length=4000, blank=True)
    data_categories = models.TextField(
        _("categories of data subjects and records"),
        max_length=2000,
        blank=True,
    )
    subjects_approximate = models.PositiveIntegerField(
        _("approximate number of data subjects"),
        null=True,
        blank=True,
    )
    records_approximate = models.PositiveIntegerField(
        _("approximate number of records"),
        null=True,
        blank=True,
    )
    # Art. 33(3)(b), (c), (d).
    dpo_contact = models.CharField(_("DPO or other contact point"), max_length=300, blank=True)
    likely_consequences = models.TextField(_("likely consequences"), max_length=4000, blank=True)
    measures = models.TextField(_("measures taken or proposed"), max_length=4000, blank=True)
    authority_notified_at = models.DateTimeField(
        _("supervisory authority notified at"),
        null=True,
        blank=True,
    )
    authority_reference = models.CharField(
        _("supervisory authority's reference"),
        max_length=100,
        blank=True,
    )
    # Art. 34: the data subjects told, or why not (Art. 34(3)).
    subjects_informed = models.BooleanField(_("data subjects informed"), default=False)
    subjects_not_informed_reason = models.TextField(
        _("why the data subjects were not informed"),
        max_length=2000,
        blank=True,
    )
    # When the compliance officers were reminded of the deadline (once per incident).
    reminder_sent_at = models.DateTimeField(_("deadline reminder sent at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closing_note = models.TextField(_("closing note"), max_length=2000, blank=True)

    class Meta:
        ordering = ("-opened_at",)
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            models.Index(fields=("tenant", "status", "aware_at"), name="audit_incident_open")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def deadline(self):
        """When the supervisory authority must have been notified (Art. 33(1))."""
        return self.aware_at + timedelta(hours=BREACH_NOTIFICATION_HOURS)


class PlaybookAction(models.Model):
    """One established action of the crisis playbook of a nature of incident. Rows without a
    tenant are the platform's defaults (data migration 0007); a tenant that writes its own
    actions for a nature uses them instead of the defaults for that nature."""

    tenant = models.ForeignKey(
        "compliance.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tenant"),
    )
    nature = models.CharField(_("nature"), max_length=30, choices=IncidentNature.choices)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.CharField(_("action"), max_length=300)
    mandatory = models.BooleanField(_("mandatory"), default=True)

    class Meta:
        ordering = ("nature", "position", "id")
        verbose_name = _("playbook action")
        verbose_name_plural = _("playbook actions")

    def __str__(self) -> str:
        return self.text


class IncidentAction(models.Model):
    """An action of the incident's playbook, copied when the incident opened, ticked once with
    who and when."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="actions", verbose_name=_("incident")
    )
    position = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"))
    text = models.CharField(_("action"), max_length=300)
    mandatory = models.BooleanField(_("mandatory"), default=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("done by"),
    )

    class Meta:
        ordering = ("position", "id")
        verbose_name = _("incident action")
        verbose_name_plural = _("incident actions")

    def __str__(self) -> str:
        return self.text


# --- the trail forwarded to a tenant's own SOC (audit/forwarding/) -------------------------------


class ForwarderKind(models.TextChoices):
    SYSLOG = "syslog", _("Syslog collector (RFC 5424 over TCP)")
    HTTPS = "https", _("HTTPS endpoint (POST of JSON)")


class SiemForwarder(models.Model):
    """Where one tenant's trail goes as it is written: a syslog collector or an HTTPS endpoint of
    the tenant's security operations centre. `last_sequence` is the cursor: the last event of
    the tenant the collector accepted; it only moves once a batch is accepted, so that a
    collector that was down catches up in order and nothing is skipped (at-least-once)."""

    tenant = models.ForeignKey(
        "compliance.Tenant", on_delete=models.PROTECT, related_name="+", verbose_name=_("tenant")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=ForwarderKind.choices)
    host = models.CharField(
        _("host"),
        max_length=253,
        blank=True,
        help_text=_("Syslog: the collector's host name."),
    )
    port = models.PositiveIntegerField(
        _("port"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text=_("Syslog: usually 6514 with TLS, 514 without."),
    )
    use_tls = models.BooleanField(
        _("use TLS"),
        default=True,
        help_text=_("Syslog: encrypt the connection (RFC 5425)."),
    )
    ca_certificate = models.TextField(
        _("CA certificate"),
        blank=True,
        max_length=20_000,
        help_text=_(
            "PEM text of the authority that signed the collector's certificate, when it is not "
            "one the system trusts. The certificate's host name is always checked."
        ),
    )
    url = models.URLField(
        _("URL"),
        max_length=500,
        blank=True,
        help_text=_("HTTPS: where each batch is POSTed."),
    )
    # Sealed with a key derived from SECRET_KEY (audit/forwarding/secrets.py); never shown again.
    bearer_secret_sealed = models.TextField(
        blank=True, editable=False, verbose_name=_("bearer secret sealed")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # The cursor and the state of delivery (written by audit/forwarding/delivery.py only).
    last_sequence = models.BigIntegerField(_("last event delivered"), default=0)
    last_delivered_at = models.DateTimeField(_("last delivery"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ("tenant", "name")
        verbose_name = _("SIEM forwarder")
        verbose_name_plural = _("SIEM forwarders")
        constraints = [
            models.UniqueConstraint("tenant", "name", name="audit_siemforwarder_unique_name"),
            models.CheckConstraint(
                condition=models.Q(port__isnull=True) | models.Q(port__gte=1, port__lte=65535),
                name="audit_siemforwarder_port_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Each kind needs its own fields; a clear error names the field that is wrong."""
        from .forwarding.addresses import host_refusal, host_syntax_error
        from .forwarding.transports import tls_context

        errors: dict[str, str] = {}
        if self.kind == ForwarderKind.SYSLOG:
            if not self.host:
                errors["host"] = _("A syslog collector needs its host name.")
            else:
                problem = host_syntax_error(self.host) or host_refusal(self.host)
                if problem:
                    errors["host"] = problem
            if self.port is None:
                errors["port"] = _("A syslog collector needs its port (6514 for TLS).")
            if self.ca_certificate and not self.use_tls:
                errors["ca_certificate"] = _("A CA certificate is only used with TLS.")
        elif self.kind == ForwarderKind.HTTPS:
            url = urlsplit(self.url or "")
            if not self.url:
                errors["url"] = _("An HTTPS endpoint needs its URL.")
            elif url.scheme != "https" or not url.hostname:
                errors["url"] = _("The URL must start with https:// and name a host.")
            elif url.username or url.password:
                errors["url"] = _("Put no credentials in the URL: use the bearer secret.")
            else:
                problem = host_refusal(url.hostname)
                if problem:
                    errors["url"] = problem
        if self.ca_certificate and "ca_certificate" not in errors:
            if "-----BEGIN CERTIFICATE-----" not in self.ca_certificate:
                errors["ca_certificate"] = _(
                    "Paste the certificate as PEM text (BEGIN CERTIFICATE)."
                )
            else:
                try:
                    tls_context(self.ca_certificate)
                except (ssl.SSLError, ValueError) as error:
                    errors["ca_certificate"] = _("Not a usable PEM certificate: %(error)s") % {
                        "error": error
                    }
        if errors:
            raise ValidationError(errors)
