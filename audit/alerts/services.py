"""Changing an alert rule's thresholds: audited with the old and new values (lowering a rule's
sensitivity is itself something a reviewer must be able to see)."""

from __future__ import annotations

from django.db import transaction

from ..context import names_its_actor
from ..models import AlertRuleSetting
from ..services import event_record

SETTING_FIELDS = ("enabled", "threshold", "window_minutes", "days_off")


def _values(setting: AlertRuleSetting) -> dict:
    return {name: getattr(setting, name) for name in SETTING_FIELDS}


@names_its_actor
@transaction.atomic
def alert_rule_setting_save(*, actor, setting: AlertRuleSetting) -> AlertRuleSetting:
    """Create or change a rule's setting (a tenant's, or with no tenant the platform's default),
    validated (a threshold of at least 1, a window of at least a minute), with an
    `alert_rule.changed` event."""
    old = None
    if setting.pk is not None:
        old = _values(AlertRuleSetting.objects.select_for_update().get(pk=setting.pk))
    setting.days_off = sorted(set(setting.days_off))
    setting.full_clean()
    setting.save()
    event_record(
        action="alert_rule.changed",
        tenant=setting.tenant_id,
        target=setting,
        extra={"rule": setting.rule, "old": old, "new": _values(setting)},
    )
    return setting
