"""The alert rules: each a small class with the reason it exists (legal or security) in its
docstring. A rule reads the trail's events in sequence order (audit/alerts/engine.py feeds it
only the actions it names) and keeps what it must remember (its windows) in a JSON-able state
that the engine saves with its cursor. It returns a `Finding` when an alert is due; raising or
merging it is audit/alerts/raising.py's. The shared pieces are audit/alerts/base.py.

Thresholds come from `AlertRuleSetting` (a tenant's own row, else the platform's, else the
rule's defaults below): `limits.threshold`, `limits.window_seconds`, `limits.days_off`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import AlertRule, Outcome, Severity
from .base import DAY, Limits, Rule, WindowRule, need_labels, purpose_fits, subject_of
from .raising import Finding, alert_raise

RECORDING = "recordings.recording"
# Opening a recording's personal data or audio (volume, download spike).
RECORDING_ACCESS = frozenset(
    {"recording.viewed", "recording.played", "recording.downloaded", "recording.access_granted"}
)
# Any access to personal data (off hours).
PERSONAL_DATA_ACCESS = RECORDING_ACCESS | {
    "recording.searched",
    "consent.viewed",
    "consent.searched",
    "consent.receipt_viewed",
    "legal_hold.viewed",
    "audit.exported",
}
CROSS_TENANT_ACTION = "access.cross_tenant_refused"
# Refused attempts (denied burst), beyond which every event whose outcome is "denied" counts.
REFUSALS = frozenset(
    {
        "auth.login_failed",
        "auth.two_factor_failed",
        "recording.play_denied",
        "recording.access_denied",
        "consent.receipt_denied",
        "api.auth_failed",
        CROSS_TENANT_ACTION,
    }
)


# --- the rules -----------------------------------------------------------------------------------


class VolumeRule(WindowRule):
    """One person opening or playing many distinct recordings in a short time.

    Why: listening must serve the need stated for *that* call (GDPR Art. 5(1)(b) purpose
    limitation, Art. 5(1)(c) minimisation; CNIL workplace recording guidance); a quality review
    samples a few calls, whereas dozens in minutes looks like harvesting recordings or personal
    data (Art. 32: detect unauthorised access)."""

    code = AlertRule.VOLUME
    severity = Severity.MEDIUM
    # Thirty calls played in a minute raise it; a reviewer's steady sampling does not.
    default_threshold = 20
    default_window_minutes = 10
    meaning = gettext_lazy(
        "more than THRESHOLD distinct recordings opened by one person within WINDOW"
    )
    actions = RECORDING_ACCESS
    distinct = True

    def applies(self, event, limits: Limits) -> bool:
        return event.target_type == RECORDING and event.actor_id is not None

    def counted(self, event):
        return event.target_id

    def describe(self, window, limits) -> str:
        return _("%(count)d distinct recordings opened within %(minutes)d minutes") % {
            "count": len(window.counts),
            "minutes": limits.window_seconds // 60,
        }


class OffHoursRule(WindowRule):
    """Personal data opened outside the tenant's working hours or on its days off, in its time
    zone.

    Why: access at night or at the weekend, when no supervisor works and no customer calls,
    is a classic sign of a misused or stolen account (Art. 32(1)(b),(d): ongoing
    confidentiality and regular testing of the measures; the CNIL's logging guidance asks for
    automated review of abnormal access)."""

    code = AlertRule.OFF_HOURS
    severity = Severity.LOW
    default_threshold = 1
    default_window_minutes = 60
    meaning = gettext_lazy("THRESHOLD accesses off hours by one person within WINDOW")
    actions = PERSONAL_DATA_ACCESS

    def applies(self, event, limits: Limits) -> bool:
        if event.actor_id is None:
            return False
        day = self.context.local_day(event.tenant_id, event.at)
        if day is None:
            return False
        return day.weekday in limits.days_off or not day.work_begins <= event.at < day.work_ends

    def describe(self, window, limits) -> str:
        return _("%(count)d accesses to personal data outside working hours") % {
            "count": len(window.entries)
        }


class DeniedBurstRule(WindowRule):
    """Many refused attempts by one person or from one address in a short time.

    Why: repeated refusals (passwords, second factors, listening without a valid purpose,
    receipts, API keys) are how credentials are guessed and limits probed (Art. 32; ANSSI and
    CNIL password guidance ask that failed attempts be watched)."""

    code = AlertRule.DENIED_BURST
    severity = Severity.MEDIUM
    default_threshold = 10
    default_window_minutes = 10
    meaning = gettext_lazy("THRESHOLD refused attempts by one person or address within WINDOW")
    actions = REFUSALS
    reads_denied = True

    def applies(self, event, limits: Limits) -> bool:
        return event.outcome == Outcome.DENIED

    def describe(self, window, limits) -> str:
        return _("%(count)d refused attempts within %(minutes)d minutes") % {
            "count": len(window.entries),
            "minutes": limits.window_seconds // 60,
        }


class CrossTenantRule(WindowRule):
    """Someone asked for another tenant's object.

    Why: each tenant is a separate data controller; nobody but its own people may reach its
    recordings (Art. 28(3)(b), 29, 32). The portal refuses, but asking at all means a probe or a
    misconfigured client, which the controller must hear about (Art. 33: assess a possible
    breach)."""

    code = AlertRule.CROSS_TENANT
    severity = Severity.HIGH
    default_threshold = 1
    default_window_minutes = 60
    meaning = gettext_lazy("THRESHOLD refused requests for another tenant's data within WINDOW")
    actions = frozenset({CROSS_TENANT_ACTION})

    def describe(self, window, limits) -> str:
        return _("%(count)d requests for another tenant's data refused") % {
            "count": len(window.entries)
        }


class DownloadSpikeRule(WindowRule):
    """Many recordings downloaded by one person in one of the tenant's days.

    Why: a downloaded file leaves the portal's control (no more purpose check, no trail of
    further plays); a spike of downloads is how recordings are exfiltrated (Art. 5(1)(f)
    integrity and confidentiality, Art. 32)."""

    code = AlertRule.DOWNLOAD_SPIKE
    severity = Severity.MEDIUM
    default_threshold = 20
    default_window_minutes = 1440
    meaning = gettext_lazy("more than THRESHOLD downloads by one person in one day of the tenant")
    actions = frozenset({"recording.downloaded"})

    def window_key(self, event, subject_key: str) -> tuple:
        local = self.context.local_day(event.tenant_id, event.at)
        day = local.date if local else datetime.fromtimestamp(event.at, tz=UTC).date().isoformat()
        return (event.tenant_id, subject_key, day)

    def window_seconds(self, limits: Limits) -> int:
        return 2 * DAY  # a day is its own window (the key names it); kept until it is over

    def passes(self, window, limits) -> bool:
        return len(window.entries) > limits.threshold

    def describe(self, window, limits) -> str:
        return _("%(count)d recordings downloaded in one day") % {"count": len(window.entries)}


class PurposeMisuseRule(WindowRule):
    """A listening purpose that does not fit: the same justification text pasted for many
    distinct recordings, or a stated need not compatible with the recording's purpose.

    Why: the stated need must be that call's (Art. 5(1)(b) purpose limitation, 6(4)
    compatibility of further processing); one justification reused across many calls is a
    formality, not a reason, and a need the recording's purpose does not allow is a use the
    caller was never told of (Art. 13(1)(c))."""

    code = AlertRule.PURPOSE_MISUSE
    severity = Severity.MEDIUM
    default_threshold = 5
    default_window_minutes = 1440
    meaning = gettext_lazy(
        "the same justification for more than THRESHOLD distinct recordings within WINDOW, or "
        "any grant whose need does not fit the recording's purpose"
    )
    actions = frozenset({"recording.access_granted"})
    distinct = True

    def applies(self, event, limits: Limits) -> bool:
        return event.actor_id is not None and bool(event.justification)

    def window_key(self, event, subject_key: str) -> tuple:
        text = " ".join(event.justification.lower().split())
        return (event.tenant_id, subject_key, hashlib.sha256(text.encode()).hexdigest()[:16])

    def counted(self, event):
        return event.target_id

    def describe(self, window, limits) -> str:
        return _("the same justification given for %(count)d distinct recordings") % {
            "count": len(window.counts)
        }

    def feed(self, event) -> Finding | None:
        unfit = self._unfit(event)
        reused = super().feed(event)
        if unfit is None or reused is None:
            return unfit or reused
        reused.summary = f"{reused.summary}; {unfit.summary}"  # the event is in both
        return reused

    def _unfit(self, event) -> Finding | None:
        subject = subject_of(event)
        if subject is None or not event.recording_purpose or not event.purpose:
            return None
        if not self.context.limits(self.code, event.tenant_id).enabled:
            return None
        platform = event.recording_purpose_platform == "true"
        if purpose_fits(event.recording_purpose, platform, event.purpose):
            return None
        summary = _(
            "listened for “%(need)s”, which does not fit the recording's purpose “%(purpose)s”"
        )
        summary %= {
            "need": need_labels.get(event.purpose, event.purpose),
            "purpose": event.recording_purpose_name or event.recording_purpose,
        }
        return self.finding(event, subject, summary, [event.sequence], event.at, 1)


class DormantAccountRule(Rule):
    """A sign-in after a long time without one.

    Why: accounts of people who left or changed jobs should be closed (Art. 32; CNIL guidance
    on authorisations: review and remove unused access); a dormant account that wakes up is
    either one that should have been closed or someone else using it."""

    code = AlertRule.DORMANT_ACCOUNT
    severity = Severity.LOW
    default_threshold = 90
    default_window_minutes = 1
    meaning = gettext_lazy(
        "a sign-in after more than THRESHOLD days without one (the window is not used)"
    )
    actions = frozenset({"auth.login"})

    def load(self, state: dict) -> None:
        self.last_sign_in: dict[str, float] = dict(state)
        self.found: dict[int, float | None] = {}  # looked up on the trail in this run

    def dump(self, now: float) -> dict:
        return self.last_sign_in

    def prepare(self, events: list) -> None:
        """The last sign-in before this chunk of those the state does not know: one query."""
        unknown = {
            event.actor_id
            for event in events
            if event.actor_id is not None
            and event.actor_id not in self.found
            and str(event.actor_id) not in self.last_sign_in
        }
        if unknown:
            self.found.update(self.context.previous_sign_ins(sorted(unknown), events[0].sequence))

    def feed(self, event) -> Finding | None:
        if event.actor_id is None:
            return None
        key = str(event.actor_id)
        previous = self.last_sign_in.get(key)
        if previous is None:
            if event.actor_id not in self.found:
                self.prepare([event])
            previous = self.found[event.actor_id]
        self.last_sign_in[key] = event.at
        limits = self.context.limits(self.code, event.tenant_id)
        if previous is None or not limits.enabled:
            return None
        days = (event.at - previous) / DAY
        if days <= limits.threshold:
            return None
        summary = _("signed in after %(days)d days without signing in") % {"days": int(days)}
        return self.finding(event, subject_of(event), summary, [event.sequence], previous, 1)


class IntegrityRule:
    """A broken audit chain or a recording whose audio no longer matches its hash.

    Why: the trail and the recordings are evidence (Art. 5(1)(f), 5(2) accountability; Code des
    assurances R.112-7 and MiFID II Art. 16(7) keep recordings as proof); a failed check means
    tampering or corruption, to be investigated at once. Raised directly by the verification
    jobs (audit/verification.py::audit_chain_verify_and_alert,
    recordings/services/integrity.py::recordings_verify_integrity), not from the trail."""

    code = AlertRule.INTEGRITY
    severity = Severity.HIGH
    default_threshold = 1
    default_window_minutes = 1
    meaning = gettext_lazy("raised at every failed check (the threshold and window are not used)")

    @classmethod
    def raise_now(cls, *, tenant_id: int | None, summary: str, event_sequence: int):
        now = datetime.now(tz=UTC)
        return alert_raise(
            Finding(
                rule=cls.code,
                severity=cls.severity,
                tenant_id=tenant_id,
                subject_key="platform",
                subject_label=_("Platform"),
                summary=summary,
                window_start=now,
                window_end=now,
                event_sequences=[event_sequence],
                event_count=1,
            )
        )


# The rules the engine evaluates over the trail, in this order.
TRAIL_RULES: tuple[type[Rule], ...] = (
    VolumeRule,
    OffHoursRule,
    DeniedBurstRule,
    CrossTenantRule,
    DownloadSpikeRule,
    PurposeMisuseRule,
    DormantAccountRule,
)
ALL_RULES = {rule.code: rule for rule in (*TRAIL_RULES, IntegrityRule)}
