"""Retention dates are the tenant's days: "yesterday" after a withdrawal or a telesales refusal
of a contract is the day before today in the tenant's time zone, not the server's."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from recordings.services.telesales import telesales_outcome_record

from ..factories import consent_for
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

NUMBER = "+33655555555"


def _tenant_on_another_day(tenant):
    """The tenant moved to a time zone whose date is not the server's now: fourteen hours ahead
    of UTC or eleven behind, one of which always is on another day than the server."""
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if timezone.localdate(timezone=ZoneInfo(zone)) != timezone.localdate():
            tenant.time_zone = zone
            tenant.save(update_fields=["time_zone"])
            return timezone.localdate(timezone=ZoneInfo(zone))
    raise AssertionError("both time zones are on the server's date")


def test_tenant_today_is_the_date_in_its_time_zone(cast):
    today = _tenant_on_another_day(cast.acme)
    assert cast.acme.today() == today != timezone.localdate()


def test_a_withdrawal_ends_retention_on_the_tenants_yesterday(cast):
    consent_for(tenant=cast.acme, number=NUMBER, ago=timedelta(hours=2))
    recording = ingest(cast.acme, purpose="telemarketing", number=NUMBER)
    today = _tenant_on_another_day(cast.acme)
    consent_for(tenant=cast.acme, number=NUMBER, decision="withdrawn")
    recording.refresh_from_db()
    assert recording.retain_until == today - timedelta(days=1)


def test_no_contract_ends_retention_on_the_tenants_yesterday(cast):
    consent_for(
        tenant=cast.acme, number=NUMBER, purpose_code="insurance_telesales", ago=timedelta(hours=2)
    )
    recording = ingest(cast.acme, purpose="insurance_telesales", number=NUMBER)
    today = _tenant_on_another_day(cast.acme)
    telesales_outcome_record(actor=cast.alice, recordings=[recording], signed_on=None)
    recording.refresh_from_db()
    assert recording.retain_until == today - timedelta(days=1)
