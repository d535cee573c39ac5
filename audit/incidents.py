"""Triage of alerts, and personal-data breaches (incidents) with their 72-hour clock and playbooks.

Every operation here is a service: keyword-only arguments, an explicit `actor` whose role in the
alert's or incident's own tenant must carry the permission (audit.permissions), one transaction,
and an audit event for each change (docs/architecture.md, "Incidents"). The admin
(audit/admin_incidents.py) and seed_demo call them; nothing else writes these rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kit.refusals import Refused

from .context import names_its_actor
from .models import (
    Alert,
    AlertRule,
    AlertStatus,
    AlertStatusChange,
    Incident,
    IncidentAction,
    IncidentNature,
    IncidentStatus,
    PlaybookAction,
)
from .permissions import tenant_permits
from .services import event_record

# What a triage step may move an alert to: new → investigating → a judgement → closed.
ALERT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    AlertStatus.NEW: (AlertStatus.INVESTIGATING,),
    AlertStatus.INVESTIGATING: (
        AlertStatus.FALSE_ALARM,
        AlertStatus.REAL_DANGER,
        AlertStatus.INAPPROPRIATE_USE,
    ),
    AlertStatus.FALSE_ALARM: (AlertStatus.CLOSED,),
    AlertStatus.REAL_DANGER: (AlertStatus.CLOSED,),
    AlertStatus.INAPPROPRIATE_USE: (AlertStatus.CLOSED,),
    AlertStatus.CLOSED: (),
}
TRIAGE_NOTE_LIMIT = 2000
CLOSING_NOTE_LIMIT = 2000

# The incident's fields a compliance officer edits on its page (Art. 33(3), 34), and which of
# them are free text: the trail names a changed free-text field, never its words (the trail is
# append-only, and a description may name people).
INCIDENT_FIELDS = (
    "title",
    "aware_at",
    "description",
    "data_categories",
    "subjects_approximate",
    "records_approximate",
    "dpo_contact",
    "likely_consequences",
    "measures",
    "authority_notified_at",
    "authority_reference",
    "subjects_informed",
    "subjects_not_informed_reason",
)
_FREE_TEXT = {
    "title",
    "description",
    "data_categories",
    "dpo_contact",
    "likely_consequences",
    "measures",
    "subjects_not_informed_reason",
}


def _require(actor, tenant_id: int | None, permission: str, what: str) -> None:
    if not tenant_permits(actor, tenant_id, permission):
        message = _("You may not %(what)s in this tenant.") % {"what": what}
        raise Refused(str(message), field="actor")


def _text(value: str, *, limit: int, field: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Refused(str(_("This field is required.")), field=field)
    if len(value) > limit:
        raise Refused(
            str(
                _("At most %(limit)d characters (%(given)d given).")
                % {
                    "limit": limit,
                    "given": len(value),
                }
            ),
            field=field,
        )
    return value


def _not_in_future(value: datetime | None, *, field: str) -> None:
    if value is not None and value > timezone.now() + timedelta(minutes=5):
        raise Refused(str(_("This date is in the future.")), field=field)


# --- triage -------------------------------------------------------------------------------------


def alert_next_statuses(alert: Alert) -> tuple[str, ...]:
    return ALERT_TRANSITIONS.get(alert.status, ())


@names_its_actor
@transaction.atomic
def alert_triage(*, actor, alert: Alert, to_status: str, note: str) -> AlertStatusChange:
    """One triage step with its mandatory note: who, when, from which status to which."""
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    _require(actor, locked.tenant_id, "audit.triage_alert", _("triage alerts"))
    if to_status not in alert_next_statuses(locked):
        raise Refused(
            str(
                _("An alert that is %(current)s cannot become %(to)s.")
                % {
                    "current": locked.get_status_display().lower(),
                    "to": str(AlertStatus(to_status).label).lower()
                    if to_status in AlertStatus.values
                    else to_status,
                }
            ),
            field="to_status",
        )
    note = _text(note, limit=TRIAGE_NOTE_LIMIT, field="note", required=True)
    now = timezone.now()
    change = AlertStatusChange.objects.create(
        alert=locked,
        from_status=locked.status,
        to_status=to_status,
        note=note,
        changed_by=actor,
        changed_at=now,
    )
    locked.status = to_status
    locked.updated_at = now
    locked.save(update_fields=["status", "updated_at"])
    event_record(
        action="alert.closed" if to_status == AlertStatus.CLOSED else "alert.triaged",
        tenant=locked.tenant_id,
        target=locked,
        justification=note,
        extra={"from": change.from_status, "to": to_status, "rule": locked.rule},
    )
    alert.status, alert.updated_at = locked.status, locked.updated_at
    return change


# --- playbooks ----------------------------------------------------------------------------------


def playbook_for(*, tenant_id: int, nature: str) -> list[PlaybookAction]:
    """The crisis playbook of a nature for a tenant: the tenant's own actions for that nature
    when it wrote any, else the platform's defaults."""
    own = list(PlaybookAction.objects.filter(tenant_id=tenant_id, nature=nature))
    return own or list(PlaybookAction.objects.filter(tenant__isnull=True, nature=nature))


def _playbook_values(action: PlaybookAction) -> dict[str, Any]:
    return {
        "nature": action.nature,
        "position": action.position,
        "text": action.text,
        "mandatory": action.mandatory,
    }


@names_its_actor
@transaction.atomic
def playbook_action_save(*, actor, action: PlaybookAction) -> PlaybookAction:
    """Add or change one action of a tenant's own playbook (the platform's, for an operator)."""
    _require(actor, action.tenant_id, "audit.change_playbookaction", _("edit playbooks"))
    if action.nature not in IncidentNature.values:
        raise Refused(str(_("Choose a nature of incident.")), field="nature")
    action.text = _text(action.text, limit=300, field="text", required=True)
    before = None
    if action.pk is not None:
        before = _playbook_values(PlaybookAction.objects.select_for_update().get(pk=action.pk))
    action.save()
    event_record(
        action="playbook.action_changed" if before else "playbook.action_added",
        tenant=action.tenant_id,
        target=action,
        extra={"before": before, "after": _playbook_values(action)},
    )
    return action


@names_its_actor
@transaction.atomic
def playbook_action_remove(*, actor, action: PlaybookAction) -> None:
    _require(actor, action.tenant_id, "audit.delete_playbookaction", _("edit playbooks"))
    values = _playbook_values(action)
    event_record(
        action="playbook.action_removed", tenant=action.tenant_id, target=action, extra=values
    )
    action.delete()


# --- incidents ----------------------------------------------------------------------------------


def _alerts_of_tenant(alerts: Iterable[Alert], tenant_id: int) -> list[Alert]:
    alerts = list(alerts)
    if any(alert.tenant_id != tenant_id for alert in alerts):
        raise Refused(str(_("An incident links only its own tenant's alerts.")), field="alerts")
    return alerts


@names_its_actor
@transaction.atomic
def incident_open(
    *,
    actor,
    tenant,
    title: str,
    nature: str,
    aware_at: datetime | None = None,
    alerts: Iterable[Alert] = (),
    **details: Any,
) -> Incident:
    """Open a personal-data breach, by hand or from alerts judged a real danger, with the
    playbook of its nature copied as its checklist. The 72 hours run from `aware_at` (when the
    breach became known; by default now)."""
    tenant_id = getattr(tenant, "pk", tenant)
    _require(actor, tenant_id, "audit.add_incident", _("open incidents"))
    if nature not in IncidentNature.values:
        raise Refused(str(_("Choose a nature of incident.")), field="nature")
    title = _text(title, limit=200, field="title", required=True)
    _not_in_future(aware_at, field="aware_at")
    alerts = _alerts_of_tenant(alerts, tenant_id)
    for alert in alerts:
        if alert.status != AlertStatus.REAL_DANGER:
            raise Refused(
                str(_("Only an alert judged a real danger opens an incident.")), field="alerts"
            )
    unknown = set(details) - set(INCIDENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown incident fields: {sorted(unknown)}")
    now = timezone.now()
    incident = Incident(
        tenant_id=tenant_id,
        title=title,
        nature=nature,
        opened_at=now,
        opened_by=actor,
        aware_at=aware_at or now,
    )
    for name, value in details.items():
        setattr(incident, name, value)
    incident_check(incident)
    incident.save()
    incident.alerts.set(alerts)
    IncidentAction.objects.bulk_create(
        IncidentAction(incident=incident, position=index, text=step.text, mandatory=step.mandatory)
        for index, step in enumerate(playbook_for(tenant_id=tenant_id, nature=nature))
    )
    event_record(
        action="incident.opened",
        tenant=tenant_id,
        target=incident,
        extra={
            "nature": nature,
            "aware_at": incident.aware_at,
            "deadline": incident.deadline,
            "alerts": [alert.pk for alert in alerts],
        },
    )
    return incident


def incident_check(incident: Incident) -> None:
    """Refuse what an incident may not hold (free text past its ceiling, a date to come, a
    notification before the breach was known); the admin form calls it before saving."""
    for name in _FREE_TEXT:
        limit = Incident._meta.get_field(name).max_length
        setattr(incident, name, _text(getattr(incident, name), limit=limit, field=name))
    if not incident.title:
        raise Refused(str(_("This field is required.")), field="title")
    _not_in_future(incident.aware_at, field="aware_at")
    _not_in_future(incident.authority_notified_at, field="authority_notified_at")
    if incident.authority_notified_at and incident.authority_notified_at < incident.aware_at:
        raise Refused(
            str(_("The authority cannot have been notified before the breach was known.")),
            field="authority_notified_at",
        )


def _shown(name: str, value: Any) -> Any:
    return "(changed)" if name in _FREE_TEXT else value


@names_its_actor
@transaction.atomic
def incident_update(
    *,
    actor,
    incident: Incident,
    changes: dict[str, Any],
    alerts: Iterable[Alert] | None = None,
    actions_done: Iterable[int] = (),
) -> Incident:
    """Change an open incident's fields, its linked alerts, and tick actions of its playbook:
    one event for the fields, one per alert linked or unlinked and one per action ticked."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    _require(actor, locked.tenant_id, "audit.change_incident", _("change incidents"))
    if locked.status == IncidentStatus.CLOSED:
        raise Refused(str(_("A closed incident is not changed.")), field="status")
    unknown = set(changes) - set(INCIDENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown incident fields: {sorted(unknown)}")
    changed: dict[str, Any] = {}
    for name, value in changes.items():
        old = getattr(locked, name)
        if old != value:
            setattr(locked, name, value)
            changed[name] = [_shown(name, old), _shown(name, value)]
    incident_check(locked)
    if changed:
        locked.save(update_fields=list(changed))
        event_record(
            action="incident.changed",
            tenant=locked.tenant_id,
            target=locked,
            extra={"changed": changed},
        )
    if alerts is not None:
        _relink_alerts(locked, _alerts_of_tenant(alerts, locked.tenant_id))
    _tick(actor, locked, actions_done)
    return locked


def _relink_alerts(incident: Incident, alerts: list[Alert]) -> None:
    before = set(incident.alerts.values_list("pk", flat=True))
    after = {alert.pk for alert in alerts}
    if before == after:
        return
    incident.alerts.set(alerts)
    for alert_id in sorted(after - before):
        event_record(
            action="incident.alert_linked",
            tenant=incident.tenant_id,
            target=incident,
            extra={"alert": alert_id},
        )
    for alert_id in sorted(before - after):
        event_record(
            action="incident.alert_unlinked",
            tenant=incident.tenant_id,
            target=incident,
            extra={"alert": alert_id},
        )


def _tick(actor, incident: Incident, action_ids: Iterable[int]) -> None:
    ids = {int(action_id) for action_id in action_ids}
    if not ids:
        return
    if incident.actions.filter(pk__in=ids).count() != len(ids):
        raise Refused(str(_("That action is not on this incident's playbook.")), field="actions")
    actions = list(incident.actions.select_for_update().filter(pk__in=ids, done_at__isnull=True))
    now = timezone.now()
    for action in actions:
        action.done_at, action.done_by = now, actor
        action.save(update_fields=["done_at", "done_by"])
        event_record(
            action="incident.action_done",
            tenant=incident.tenant_id,
            target=incident,
            extra={"action": action.pk, "text": action.text, "mandatory": action.mandatory},
        )


@names_its_actor
@transaction.atomic
def incident_tick(*, actor, incident: Incident, action_ids: Iterable[int]) -> None:
    """Tick actions of an open incident's playbook, each with who and when."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    _require(actor, locked.tenant_id, "audit.change_incident", _("change incidents"))
    if locked.status == IncidentStatus.CLOSED:
        raise Refused(str(_("A closed incident is not changed.")), field="status")
    _tick(actor, locked, action_ids)


@names_its_actor
@transaction.atomic
def incident_close(*, actor, incident: Incident, note: str) -> Incident:
    """Close an incident once every mandatory action of its playbook is done."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    _require(actor, locked.tenant_id, "audit.change_incident", _("close incidents"))
    if locked.status == IncidentStatus.CLOSED:
        raise Refused(str(_("This incident is already closed.")), field="status")
    note = _text(note, limit=CLOSING_NOTE_LIMIT, field="closing_note", required=True)
    undone = list(
        locked.actions.filter(mandatory=True, done_at__isnull=True).values_list("text", flat=True)
    )
    if undone:
        raise Refused(
            str(_("Mandatory actions are not done yet: %(actions)s."))
            % {"actions": "; ".join(undone)},
            field="closing_note",
        )
    locked.status = IncidentStatus.CLOSED
    locked.closed_at = timezone.now()
    locked.closed_by = actor
    locked.closing_note = note
    locked.save(update_fields=["status", "closed_at", "closed_by", "closing_note"])
    event_record(
        action="incident.closed",
        tenant=locked.tenant_id,
        target=locked,
        justification=note,
        extra={"authority_notified_at": locked.authority_notified_at},
    )
    return locked


def hours_left(incident: Incident, now: datetime | None = None) -> int:
    """Whole hours until the 72-hour deadline, negative once it has passed (an incident 8 hours
    and 20 minutes past it is 8 hours overdue; one 20 minutes past it, 0: see `is_overdue`)."""
    seconds = (incident.deadline - (now or timezone.now())).total_seconds()
    return int(seconds / 3600)


def is_overdue(incident: Incident, now: datetime | None = None) -> bool:
    """The deadline has passed and the supervisory authority was not notified (Art. 33(1))."""
    return incident.authority_notified_at is None and incident.deadline < (now or timezone.now())


def rule_label(code: str) -> str:
    """An alert rule's human label (audit/models.py::AlertRule); a code no rule has any more
    reads as itself, tidied: "volume_of_plays" reads "Volume of plays"."""
    if code in AlertRule.values:
        return str(AlertRule(code).label)
    return code.replace("_", " ").replace(".", " ").strip().capitalize() or "—"
