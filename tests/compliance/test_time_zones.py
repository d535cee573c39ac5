"""One rule for every time on screen: in the viewer's tenant's zone, to the second, the zone
named; exports in ISO 8601 with the offset.

Acme is moved to New York here, so that its zone is neither the server's (Europe/Paris) nor the
database's (UTC): a page that showed either would show another hour than the one asserted."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import Consent, Purpose
from compliance.services.consents import consent_record
from compliance.services.policies import purpose_save
from recordings.models import PurgeRun, PurgeRunStatus

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
# Django's own rendering of a time ("9:51 p.m.", "noon"), which no page shows any more.
TWELVE_HOUR_CLOCK = re.compile(r"\d (a\.m\.|p\.m\.)|\bnoon\b|\bmidnight\b")


def shown(instant: datetime, zone: ZoneInfo = NEW_YORK) -> str:
    """The one format of every page: 2026-11-20 15:51:07 EST."""
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


@pytest.fixture
def acme_in_new_york(cast):
    cast.acme.time_zone = "America/New_York"
    cast.acme.save(update_fields=["time_zone"])
    return cast


def _consent(cast, decided_at: datetime, decision: str = "granted") -> Consent:
    return consent_record(
        recorded_by="alice",
        tenant=cast.acme,
        customer_number="+33612345678",
        purpose_code="telemarketing",
        decision=decision,
        decided_at=decided_at,
        channel="ivr",
    )


def test_the_consent_page_shows_each_time_once_in_the_tenants_zone(acme_in_new_york, login):
    """Found: the page showed one decision as "9:51 p.m." (Django's field) and "20:51" (the
    history table, in UTC)."""
    cast = acme_in_new_york
    decided = timezone.now().replace(microsecond=0) - timedelta(days=2, hours=3)
    consent = _consent(cast, decided)

    page = login(cast.alice).get(reverse("admin:compliance_consent_change", args=[consent.pk]))

    text = page.content.decode()
    assert text.count(shown(decided)) == 2  # the field, and the row of the history table
    assert shown(decided, PARIS) not in text
    assert decided.astimezone(ZoneInfo("UTC")).strftime("%H:%M") not in text
    assert not TWELVE_HOUR_CLOCK.search(text)


def test_the_consent_list_and_receipt_agree_with_the_page(acme_in_new_york, login):
    cast = acme_in_new_york
    decided = timezone.now().replace(microsecond=0) - timedelta(days=1, hours=7)
    consent = _consent(cast, decided)
    client = login(cast.alice)

    listing = client.get(reverse("admin:compliance_consent_changelist")).content.decode()
    receipt = client.get(reverse("consent_receipt", args=[consent.pk])).content.decode()

    assert shown(decided) in listing and not TWELVE_HOUR_CLOCK.search(listing)
    # The receipt, a document of the data controller, in its zone and the same format.
    assert receipt.count(shown(decided)) == 2  # the decision, and its row in the history
    assert shown(consent.recorded_at.replace(microsecond=0)) in receipt


def test_a_purge_runs_title_and_its_start_are_the_same_time(acme_in_new_york, login):
    """Found: the run's title (its __str__, in UTC) and its "started at" (in the server's zone)
    differed by an hour."""
    started = timezone.now().replace(microsecond=0) - timedelta(hours=5)
    run = PurgeRun.objects.create(
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        status=PurgeRunStatus.FINISHED,
        triggered_by="beat",
    )
    client = login(acme_in_new_york.alice)

    page = client.get(reverse("admin:recordings_purgerun_change", args=[run.pk]))
    listing = client.get(reverse("admin:recordings_purgerun_changelist"))

    assert page.context["subtitle"] == f"purge {shown(started)} (Finished)"
    text = page.content.decode()
    assert text.count(shown(started)) >= 3  # the page's title, its heading, "started at"
    assert shown(started + timedelta(seconds=42)) in text  # "finished at", to the second
    assert shown(started) in listing.content.decode()


def test_the_audit_trail_shows_times_to_the_second_in_the_viewers_zone(acme_in_new_york, login):
    cast = acme_in_new_york
    _consent(cast, timezone.now() - timedelta(hours=2))
    event = AuditEvent.objects.get(action="consent.recorded")
    client = login(cast.alice)

    listing = client.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    detail = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))

    assert shown(event.occurred_at) in listing
    assert shown(event.occurred_at) in detail.content.decode()
    assert not TWELVE_HOUR_CLOCK.search(listing)


def test_the_audit_csv_writes_iso_8601_with_the_viewers_offset(acme_in_new_york, login):
    """Found: the export was in UTC while the pages were not."""
    cast = acme_in_new_york
    _consent(cast, timezone.now() - timedelta(hours=2))
    event = AuditEvent.objects.get(action="consent.recorded")

    response = login(cast.alice).get(reverse("admin:audit_auditevent_export"))

    text = b"".join(response.streaming_content).decode()
    rows = {row["sequence"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
    written = rows[str(event.sequence)]["occurred_at"]
    assert written == event.occurred_at.astimezone(NEW_YORK).isoformat()
    assert datetime.fromisoformat(written) == event.occurred_at
    assert written.endswith(("-05:00", "-04:00"))


def test_history_pages_show_their_times_in_the_viewers_zone(acme_in_new_york, login):
    """django-simple-history's shared template showed the server's zone."""
    cast = acme_in_new_york
    purpose = Purpose(
        tenant=cast.acme,
        code="acme_surveys",
        name="Customer surveys",
        legal_basis="legitimate_interest",
        default_retention_months=6,
    )
    purpose_save(actor=cast.alice, purpose=purpose, created=True)
    version = purpose.history.get()
    page = login(cast.alice).get(reverse("admin:compliance_purpose_history", args=[purpose.pk]))
    text = page.content.decode()
    assert shown(version.history_date) in text
    assert shown(version.history_date, PARIS) not in text
    assert not TWELVE_HOUR_CLOCK.search(text)


def test_without_one_tenants_zone_the_server_zone_is_shown_and_named(acme_in_new_york, login):
    """A platform operator belongs to no tenant: the server's zone, named like any other."""
    cast = acme_in_new_york
    decided = timezone.now().replace(microsecond=0) - timedelta(days=2)
    consent = _consent(cast, decided)

    page = login(cast.root).get(reverse("admin:compliance_consent_change", args=[consent.pk]))

    assert page.content.decode().count(shown(decided, PARIS)) == 2


def test_the_zone_of_one_request_does_not_stay_for_the_next(acme_in_new_york, client, login):
    cast = acme_in_new_york
    decided = timezone.now().replace(microsecond=0) - timedelta(days=3)
    consent = _consent(cast, decided)
    url = reverse("admin:compliance_consent_change", args=[consent.pk])
    login(cast.alice).get(url)
    client.logout()
    assert timezone.get_current_timezone() == timezone.get_default_timezone()
    assert shown(decided, PARIS) in login(cast.root).get(url).content.decode()
