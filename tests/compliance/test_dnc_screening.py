"""The do-not-call decision (compliance/dnc_screening.py): for a campaign and a batch of numbers,
callable or not, with the reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.dnc_screening import CampaignCheck, reason_codes, reason_label

from ..factories import (
    CampaignFactory,
    ScreeningFactory,
    TenantFactory,
    campaign_numbers_add,
    consent_for,
    dnc_entries_add,
    dnc_list_for,
    dnc_opt_out_for,
)

pytestmark = pytest.mark.django_db

FR_1 = 33612345671
FR_2 = 33612345672
FR_3 = 33612345673
ES_1 = 34612345671
GB_1 = 447911123451
GB_2 = 447911123452


@pytest.fixture
def french_campaign(cast):
    """Acme's campaign, its file (FR_1, FR_2, FR_3) screened by Bloctel, FR_2 removed."""
    campaign = CampaignFactory(tenant=cast.acme)
    campaign_numbers_add(campaign, [FR_1, FR_2, FR_3], added_at=timezone.now() - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign, exported_at=timezone.now() - timedelta(days=4), removed=[FR_2]
    )
    return campaign


def _verdicts(campaign, numbers):
    return {v.number: v for v in CampaignCheck(campaign).decide(numbers)}


def test_screened_number_not_removed_is_callable(french_campaign):
    verdict = _verdicts(french_campaign, [FR_1])[FR_1]
    assert verdict.callable and verdict.reasons == ()
    assert verdict.sources == ("internal", "bloctel")


def test_number_removed_by_bloctel_is_not_callable(french_campaign):
    assert _verdicts(french_campaign, [FR_2])[FR_2].reasons == ("bloctel",)


def test_internal_opt_out_applies_to_every_number(french_campaign, cast):
    dnc_opt_out_for(tenant=cast.acme, number="+33612345671")
    dnc_opt_out_for(tenant=cast.acme, number="+447911123451")
    verdicts = _verdicts(french_campaign, [FR_1, GB_1])
    assert verdicts[FR_1].reasons == ("internal",)
    assert "internal" in verdicts[GB_1].reasons


def test_the_tenants_internal_list_in_force_applies(french_campaign, cast):
    dnc_entries_add(dnc_list_for(tenant=cast.acme, source="internal"), [FR_3])
    assert _verdicts(french_campaign, [FR_3])[FR_3].reasons == ("internal",)


def test_another_tenants_opt_out_does_not_apply(french_campaign, cast):
    dnc_opt_out_for(tenant=cast.globex, number="+33612345671")
    assert _verdicts(french_campaign, [FR_1])[FR_1].callable


def test_number_added_after_the_screening_is_unscreened(french_campaign):
    campaign_numbers_add(french_campaign, [33612345679], added_at=timezone.now())
    verdict = _verdicts(french_campaign, [33612345679])[33612345679]
    assert not verdict.callable
    assert verdict.reasons == ("unscreened:bloctel",)


def test_number_not_in_the_campaigns_file_is_unscreened(french_campaign):
    assert _verdicts(french_campaign, [33612345600])[33612345600].reasons == ("unscreened:bloctel",)


def test_stale_bloctel_screening_blocks_the_whole_campaign(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    campaign_numbers_add(campaign, [FR_1], added_at=timezone.now() - timedelta(days=40))
    ScreeningFactory(campaign=campaign, exported_at=timezone.now() - timedelta(days=32))
    check = CampaignCheck(campaign)
    verdict = check.decide([FR_1])[0]
    assert verdict.reasons == ("stale:bloctel",)
    [message] = check.stale_messages(verdict.sources)
    assert message.startswith("Bloctel: the last screening (")
    assert "is older than 30 days; stale since" in message


def test_never_screened_campaign_cannot_call_french_numbers(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    campaign_numbers_add(campaign, [FR_1])
    check = CampaignCheck(campaign)
    verdict = check.decide([FR_1])[0]
    assert verdict.reasons == ("stale:bloctel",)
    assert check.stale_messages(verdict.sources) == [
        "Bloctel: this campaign's file has never been screened."
    ]


def test_consent_overrides_robinson(cast):
    campaign = CampaignFactory(tenant=cast.globex)
    campaign_numbers_add(campaign, [ES_1], added_at=timezone.now() - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign,
        source="robinson",
        exported_at=timezone.now() - timedelta(days=4),
        removed=[ES_1],
    )
    assert _verdicts(campaign, [ES_1])[ES_1].reasons == ("robinson",)
    consent_for(tenant=cast.globex, number="+34612345671", purpose_code="telemarketing")
    assert _verdicts(campaign, [ES_1])[ES_1].callable


def test_consent_never_overrides_internal_opt_outs(cast):
    campaign = CampaignFactory(tenant=cast.globex)
    campaign_numbers_add(campaign, [ES_1], added_at=timezone.now() - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign,
        source="robinson",
        exported_at=timezone.now() - timedelta(days=4),
        removed=[ES_1],
    )
    dnc_opt_out_for(tenant=cast.globex, number="+34612345671")
    consent_for(tenant=cast.globex, number="+34612345671", purpose_code="telemarketing")
    assert _verdicts(campaign, [ES_1])[ES_1].reasons == ("internal",)


def test_consent_never_overrides_bloctel(french_campaign, cast):
    consent_for(tenant=cast.acme, number="+33612345672", purpose_code="telemarketing")
    assert _verdicts(french_campaign, [FR_2])[FR_2].reasons == ("bloctel",)


def test_withdrawn_consent_does_not_override(cast):
    campaign = CampaignFactory(tenant=cast.globex)
    campaign_numbers_add(campaign, [ES_1], added_at=timezone.now() - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign,
        source="robinson",
        exported_at=timezone.now() - timedelta(days=4),
        removed=[ES_1],
    )
    consent_for(tenant=cast.globex, number="+34612345671", ago=timedelta(days=2))
    consent_for(
        tenant=cast.globex, number="+34612345671", decision="withdrawn", ago=timedelta(days=1)
    )
    # The withdrawal from telemarketing also made the number an internal opt-out, for good.
    assert _verdicts(campaign, [ES_1])[ES_1].reasons == ("internal", "robinson")


def test_tps_listing_applies_to_uk_numbers_only():
    uk = TenantFactory(country_code="GB", time_zone="Europe/London")
    tps = dnc_entries_add(dnc_list_for(tenant=None, source="tps"), [GB_1, FR_1])
    dnc_entries_add(dnc_list_for(tenant=None, source="ctps"), [])
    assert tps.status == "in_force"
    campaign = CampaignFactory(tenant=uk, sources=["internal", "tps", "ctps", "bloctel"])
    verdicts = _verdicts(campaign, [GB_1, GB_2])
    assert verdicts[GB_1].reasons == ("tps",)
    assert verdicts[GB_2].callable
    # A French number is not the TPS's: only Bloctel (never screened) applies to it.
    assert _verdicts(campaign, [FR_1])[FR_1].reasons == ("stale:bloctel",)


def test_number_of_another_country_is_held_to_its_own_national_list(french_campaign):
    verdict = _verdicts(french_campaign, [ES_1])[ES_1]
    assert verdict.sources == ("internal", "robinson")
    assert verdict.reasons == ("stale:robinson",)


def test_campaign_outside_its_dates_calls_no_one(cast, french_campaign):
    today = cast.acme.today()
    french_campaign.starts_on = today + timedelta(days=1)
    french_campaign.ends_on = today + timedelta(days=10)
    assert _verdicts(french_campaign, [FR_1])[FR_1].reasons == ("campaign_not_started",)
    french_campaign.starts_on = today - timedelta(days=10)
    french_campaign.ends_on = today - timedelta(days=1)
    assert _verdicts(french_campaign, [FR_1])[FR_1].reasons == ("campaign_ended",)


def test_a_batch_is_decided_in_one_query_after_the_campaigns_state(french_campaign):
    check = CampaignCheck(french_campaign)
    numbers = [33600000000 + n for n in range(2000)]
    with CaptureQueriesContext(connection) as queries:
        verdicts = check.decide(numbers + [FR_1])
    assert len(queries) == 1
    assert len(verdicts) == 2001
    assert verdicts[-1].callable


def test_every_reason_has_a_human_label():
    for code in reason_codes():
        label = reason_label(code)
        assert label and label != code and "_" not in label and ":" not in label


def test_the_apis_one_statement_check_agrees_with_the_batch_decision(cast):
    """Two statements decide (a batch; the API's one number with its campaign): on every kind of
    number they give the same verdict."""
    from compliance.dnc_screening import campaign_check_one

    campaign = CampaignFactory(tenant=cast.acme)
    old = timezone.now() - timedelta(days=5)
    campaign_numbers_add(campaign, [FR_1, FR_2, FR_3], added_at=old)
    campaign_numbers_add(campaign, [33612345679], added_at=timezone.now())
    # An older screening removing FR_1: only the latest answered one counts.
    ScreeningFactory(campaign=campaign, exported_at=old - timedelta(days=9), removed=[FR_1])
    ScreeningFactory(campaign=campaign, exported_at=old + timedelta(days=1), removed=[FR_2])
    dnc_opt_out_for(tenant=cast.acme, number="+33612345673")
    dnc_entries_add(dnc_list_for(tenant=None, source="tps"), [GB_1])
    consent_for(tenant=cast.acme, number="+447911123451", purpose_code="telemarketing")
    numbers = [FR_1, FR_2, FR_3, 33612345679, 33612345600, ES_1, GB_1, GB_2]
    batch = {v.number: v for v in CampaignCheck(campaign).decide(numbers)}
    for number in numbers:
        _, single = campaign_check_one(tenant=cast.acme, campaign_id=campaign.pk, number=number)
        assert single == batch[number], number
    assert batch[FR_1].callable
    assert campaign_check_one(tenant=cast.globex, campaign_id=campaign.pk, number=FR_1) is None
