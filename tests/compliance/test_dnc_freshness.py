"""Whether the do-not-call sources are fresh enough to call (compliance/dnc_freshness.py): a
full list by its version in force, a submitted file by the campaign's latest answered
screening, the internal opt-outs always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from compliance.dnc_freshness import campaign_freshness, campaigns_freshness, list_freshness
from compliance.dnc_models import ScreeningStatus

from ..factories import CampaignFactory, ScreeningFactory, TenantFactory, dnc_list_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _by_source(states):
    return {state.source: state for state in states}


def test_campaign_without_screening_is_never_screened_for_bloctel(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    states = _by_source(campaign_freshness(campaign, now=NOW))
    assert list(states) == ["internal", "bloctel"]
    assert states["internal"].fresh
    bloctel = states["bloctel"]
    assert not bloctel.fresh
    assert bloctel.dated is None and bloctel.stale_since is None
    assert bloctel.message == "Bloctel: this campaign's file has never been screened."


def test_fresh_screening_is_fresh_until_its_thirtieth_day(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    screened = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    ScreeningFactory(
        campaign=campaign, exported_at=screened - timedelta(days=1), screened_at=screened
    )
    bloctel = _by_source(campaign_freshness(campaign, now=screened + timedelta(days=29)))["bloctel"]
    assert bloctel.fresh and bloctel.message == ""
    assert bloctel.dated == screened
    assert bloctel.stale_since == screened + timedelta(days=30)
    assert bloctel.reference == "screening of 3 November 2026"


def test_stale_screening_says_since_when(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    screened = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    ScreeningFactory(
        campaign=campaign, exported_at=screened - timedelta(days=1), screened_at=screened
    )
    bloctel = _by_source(
        campaign_freshness(campaign, now=screened + timedelta(days=30, seconds=1))
    )["bloctel"]
    assert not bloctel.fresh
    assert bloctel.message == (
        "Bloctel: the last screening (3 November 2026) is older than 30 days; "
        "stale since 3 December 2026."
    )


def test_latest_answered_screening_counts_not_one_awaiting_its_answer(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    answered = ScreeningFactory(campaign=campaign, exported_at=NOW - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign, exported_at=NOW - timedelta(days=1), status=ScreeningStatus.SUBMITTED
    )
    older = ScreeningFactory(campaign=campaign, exported_at=NOW - timedelta(days=25))
    bloctel = _by_source(campaign_freshness(campaign, now=NOW))["bloctel"]
    assert bloctel.screening_id == answered.pk != older.pk
    assert bloctel.dated == answered.screened_at


def test_another_campaigns_screening_does_not_count(cast):
    campaign = CampaignFactory(tenant=cast.acme)
    ScreeningFactory(
        campaign=CampaignFactory(tenant=cast.acme), exported_at=NOW - timedelta(days=2)
    )
    assert not _by_source(campaign_freshness(campaign, now=NOW))["bloctel"].fresh


def test_tps_without_a_version_in_force_is_not_fresh():
    uk = TenantFactory(country_code="GB", time_zone="Europe/London")
    campaign = CampaignFactory(tenant=uk)
    states = _by_source(campaign_freshness(campaign, now=NOW))
    assert list(states) == ["internal", "tps", "ctps"]
    assert not states["tps"].fresh
    assert states["tps"].message == "TPS: no version in force."


def test_platform_tps_version_is_fresh_for_28_days():
    uk = TenantFactory(country_code="GB", time_zone="Europe/London")
    version = dnc_list_for(tenant=None, source="tps", version="2026-11", delivered_at=NOW)
    campaign = CampaignFactory(tenant=uk, sources=["internal", "tps"])
    tps = _by_source(campaign_freshness(campaign, now=NOW + timedelta(days=27)))["tps"]
    assert tps.fresh and tps.reference == "version 2026-11"
    assert tps.list_ids == (version.pk,)
    stale = _by_source(campaign_freshness(campaign, now=NOW + timedelta(days=28)))["tps"]
    assert not stale.fresh
    assert stale.stale_since == NOW + timedelta(days=28)
    assert "stale since 4 January 2027" in stale.message


def test_a_tenants_own_stale_version_makes_the_list_stale_beside_a_fresh_platform_one():
    uk = TenantFactory(country_code="GB", time_zone="Europe/London")
    dnc_list_for(tenant=None, source="tps", delivered_at=NOW - timedelta(days=1))
    own = dnc_list_for(tenant=uk, source="tps", delivered_at=NOW - timedelta(days=40))
    tps = _by_source(list_freshness(tenant=uk, now=NOW))["tps"]
    assert not tps.fresh
    assert tps.dated == own.delivered_at
    assert len(tps.list_ids) == 2


def test_internal_opt_outs_never_go_stale(cast):
    dnc_list_for(tenant=cast.acme, source="internal", delivered_at=NOW - timedelta(days=900))
    internal = _by_source(campaign_freshness(CampaignFactory(tenant=cast.acme), now=NOW))[
        "internal"
    ]
    assert internal.fresh and internal.stale_since is None


def test_list_freshness_shows_the_tenants_lists_not_another_tenants(cast):
    dnc_list_for(tenant=cast.globex, source="internal")
    own = dnc_list_for(tenant=cast.acme, source="internal")
    states = list_freshness(tenant=cast.acme, now=timezone.now())
    assert [state.source for state in states] == ["internal"]
    assert states[0].list_ids == (own.pk,)


def test_list_freshness_of_the_platform_flags_missing_national_lists():
    dnc_list_for(tenant=None, source="tps", delivered_at=NOW - timedelta(days=2))
    states = _by_source(list_freshness(now=NOW))
    assert states["tps"].fresh
    assert not states["ctps"].fresh and states["ctps"].message == "CTPS: no version in force."


def test_campaigns_read_together_have_the_freshness_each_has_alone(cast):
    uk = TenantFactory(country_code="GB", time_zone="Europe/London")
    dnc_list_for(tenant=None, source="tps", delivered_at=NOW - timedelta(days=3))
    dnc_list_for(tenant=uk, source="tps", delivered_at=NOW - timedelta(days=40))
    screened = CampaignFactory(tenant=cast.acme)
    ScreeningFactory(
        campaign=screened, exported_at=NOW - timedelta(days=5), screened_at=NOW - timedelta(days=4)
    )
    campaigns = [
        screened,
        CampaignFactory(tenant=cast.acme),
        CampaignFactory(tenant=uk, sources=["internal", "tps"]),
        CampaignFactory(tenant=cast.globex),
    ]
    together = campaigns_freshness(campaigns, now=NOW)
    assert together == {c.pk: campaign_freshness(c, now=NOW) for c in campaigns}
    assert [state.fresh for state in together[campaigns[2].pk]] == [True, False]
