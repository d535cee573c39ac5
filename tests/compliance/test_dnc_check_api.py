"""GET /api/v1/dnc/check: the dialer asks whether it may call a number for a campaign; the checks
are counted and go on the trail as one `dnc.checked` event per tenant, campaign and key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.dnc_check_counts import PREFIX, client, dnc_checks_record
from compliance.services.api_keys import api_key_create
from compliance.tasks import record_dnc_checks

from ..factories import CampaignFactory, ScreeningFactory, campaign_numbers_add, dnc_opt_out_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/dnc/check"


@pytest.fixture(autouse=True)
def _no_counts_left():
    redis = client()

    def clean():
        for key in redis.scan_iter(match=f"{PREFIX}*"):
            redis.delete(key)

    clean()
    yield
    clean()


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme dialer")[1]


@pytest.fixture
def campaign(cast):
    campaign = CampaignFactory(tenant=cast.acme, name="Winter offers")
    campaign_numbers_add(
        campaign, [33612345671, 33612345672], added_at=timezone.now() - timedelta(days=5)
    )
    ScreeningFactory(
        campaign=campaign, exported_at=timezone.now() - timedelta(days=4), removed=[33612345672]
    )
    return campaign


def _check(token: str, **params):
    return Client().get(URL, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def _events(action="dnc.checked"):
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_callable_number(acme_token, campaign):
    response = _check(acme_token, number="06 12 34 56 71", campaign=campaign.pk)
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == "+33612345671"
    assert body["callable"] is True and body["reasons"] == [] and body["stale"] == []
    assert set(body["checked_against"]) == {"internal", "bloctel"}
    bloctel = body["checked_against"]["bloctel"]
    assert bloctel["fresh"] is True
    assert bloctel["screening"] == campaign.screenings.get().pk
    assert bloctel["dated"].endswith("+01:00") and bloctel["stale_since"].endswith("+01:00")


def test_removed_number_is_not_callable_with_its_reason(acme_token, campaign):
    body = _check(acme_token, number="+33612345672", campaign=campaign.pk).json()
    assert body["callable"] is False
    assert body["reasons"] == ["bloctel"]
    assert body["reason_labels"] == {"bloctel": "Listed on Bloctel (France)"}


def test_opted_out_number_is_not_callable(acme_token, campaign, cast):
    dnc_opt_out_for(tenant=cast.acme, number="+33612345671")
    body = _check(acme_token, number="+33612345671", campaign=campaign.pk).json()
    assert body["reasons"] == ["internal"]


def test_stale_screening_answers_which_list_and_since_when(acme_token, cast):
    campaign = CampaignFactory(tenant=cast.acme)
    campaign_numbers_add(campaign, [33612345671], added_at=timezone.now() - timedelta(days=40))
    ScreeningFactory(campaign=campaign, exported_at=timezone.now() - timedelta(days=35))
    body = _check(acme_token, number="+33612345671", campaign=campaign.pk).json()
    assert body["callable"] is False
    assert body["reasons"] == ["stale:bloctel"]
    assert body["checked_against"]["bloctel"]["fresh"] is False
    [message] = body["stale"]
    assert message.startswith("Bloctel: the last screening (") and "stale since" in message


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"number": "+33612345671"}, "campaign", 400),
        ({"campaign": "999999"}, "number", 400),
        ({"number": "+33612345671", "campaign": "winter"}, "campaign", 400),
        ({"number": "+33612345671", "campaign": "999999"}, "campaign", 404),
        ({"campaign": "{campaign}"}, "number", 400),
        ({"number": "not a number", "campaign": "{campaign}"}, "number", 400),
        ({"number": "+3361", "campaign": "{campaign}"}, "number", 400),
    ],
)
def test_bad_request_names_the_field(acme_token, campaign, params, field, status):
    params = {k: v.format(campaign=campaign.pk) for k, v in params.items()}
    response = _check(acme_token, **params)
    assert response.status_code == status
    assert response.json()["field"] == field
    assert response.json()["error"]


def test_another_tenants_campaign_is_not_found(cast, campaign):
    globex_token = api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex dialer")[1]
    response = _check(globex_token, number="+33612345671", campaign=campaign.pk)
    assert response.status_code == 404
    assert response.json() == {"error": "no such campaign", "field": "campaign"}


def test_without_a_key_the_check_is_refused(campaign):
    response = Client().get(URL, {"number": "+33612345671", "campaign": campaign.pk})
    assert response.status_code == 401


def test_post_is_refused(acme_token, campaign):
    response = Client().post(
        f"{URL}?number=%2B33612345671&campaign={campaign.pk}",
        HTTP_AUTHORIZATION=f"Bearer {acme_token}",
    )
    assert response.status_code == 405
    assert response.json()["field"] == "method"


def test_checks_are_one_event_per_batch_with_counts_by_outcome_and_reason(acme_token, campaign):
    for number in ("+33612345671", "+33612345671", "+33612345672"):
        _check(acme_token, number=number, campaign=campaign.pk)
    _check(acme_token, number="nope", campaign=campaign.pk)
    assert _events() == []  # counted, not recorded one by one
    assert record_dnc_checks() == {"events": 2, "checks": 4}
    by_target = {event.target_id: event for event in _events()}
    event = by_target[str(campaign.pk)]
    assert event.tenant_id == campaign.tenant_id
    assert event.extra["checks"] == 3
    assert event.extra["outcomes"] == {"callable": 2, "not_callable": 1}
    assert event.extra["reasons"] == {"bloctel": 1}
    assert event.extra["first"] and event.extra["last"]
    # A refused request is counted without its campaign.
    refused = by_target[""]
    assert refused.tenant_id == campaign.tenant_id
    assert refused.extra["outcomes"] == {"refused:number": 1}
    # Nothing is recorded twice.
    assert dnc_checks_record() == {"events": 0, "checks": 0}


def test_a_batch_left_by_a_killed_run_is_recorded_by_the_next(acme_token, campaign):
    _check(acme_token, number="+33612345671", campaign=campaign.pk)
    redis = client()
    [key] = [k.decode() for k in redis.smembers(f"{PREFIX}:index")]
    # A run that took the counters and died before recording them.
    redis.srem(f"{PREFIX}:index", key)
    redis.rename(key, f"{PREFIX}:batch:{key[len(PREFIX) + 1 :]}:dead")
    assert dnc_checks_record() == {"events": 1, "checks": 1}


def test_a_second_run_while_one_records_records_nothing(acme_token, campaign):
    _check(acme_token, number="+33612345671", campaign=campaign.pk)
    held = client().lock(f"{PREFIX}:recording", timeout=30)
    assert held.acquire(blocking=False)
    try:
        assert dnc_checks_record() == {"events": 0, "checks": 0}
    finally:
        held.release()
    assert dnc_checks_record() == {"events": 1, "checks": 1}


def test_without_redis_each_check_records_its_own_event(acme_token, campaign, settings):
    settings.DNC_CHECK_COUNTS_URL = "redis://127.0.0.1:1/0"
    response = _check(acme_token, number="+33612345672", campaign=campaign.pk)
    assert response.status_code == 200
    [event] = _events()
    assert event.extra["checks"] == 1
    assert event.extra["reasons"] == {"bloctel": 1}
