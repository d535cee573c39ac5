"""How many of a campaign's numbers each do-not-call source takes out, for the campaign's page:
per source that applies, the numbers it covers (its country's; every number for the internal
opt-outs), how many of them it lists, and the share.

- A full list (TPS, CTPS, the internal list): the campaign's numbers found in its versions in
  force (platform-wide and the tenant's own), and for the internal list the opt-outs added one
  by one too. Counted now.
- A submitted file (Bloctel, Lista Robinson): the latest answered screening's figures, the
  numbers submitted and the numbers its answer says to remove.

A campaign's numbers are some thousands; each count is one query over them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, Q
from django.db.models.functions import Cast, Substr

from .dnc_freshness import latest_screenings, versions_in_force
from .dnc_models import (
    Campaign,
    CampaignNumber,
    DncEntry,
    DncList,
    DncOptOut,
    Screening,
)
from .dnc_sources import Delivery, DncSource, rule_for


@dataclass(frozen=True)
class RemovalShare:
    source: str
    label: str
    # The numbers the source was checked against (its country's, or those submitted).
    checked: int
    removed: int
    # None when nothing was checked (no version in force, never screened).
    screening: Screening | None = None
    available: bool = True
    # A submitted file's: the campaign's numbers of its country added after the latest answered
    # screening's export, which its answer does not cover (export again to screen them).
    unscreened: int = 0

    @property
    def share(self) -> float | None:
        if not self.available or not self.checked:
            return None
        return self.removed / self.checked


def _full_list_share(
    campaign: Campaign, source: str, versions: dict[str, list[DncList]]
) -> RemovalShare:
    rule = rule_for(source)
    numbers = CampaignNumber.objects.filter(campaign=campaign)
    if rule.country is not None:
        numbers = numbers.filter(country=rule.country)
    in_force = [version.pk for version in versions.get(source, [])]
    listed = Q(number__in=DncEntry.objects.filter(list_id__in=in_force).values("number"))
    if source == DncSource.INTERNAL:
        # The opt-outs are E.164 text, the campaign's numbers stored digits: compared in SQL
        # (compliance/dnc_numbers.py::as_stored), never loaded into the process.
        listed |= Q(
            number__in=DncOptOut.objects.filter(tenant=campaign.tenant_id)
            .annotate(stored=Cast(Substr("number", 2), BigIntegerField()))
            .values("stored")
        )
    available = bool(in_force) or source == DncSource.INTERNAL
    return RemovalShare(
        source=source,
        label=str(DncSource(source).label),
        checked=numbers.count(),
        removed=numbers.filter(listed).count() if available else 0,
        available=available,
    )


def _screening_share(campaign: Campaign, source: str, latest: Screening | None) -> RemovalShare:
    numbers = CampaignNumber.objects.filter(campaign=campaign, country=rule_for(source).country)
    if latest is not None:
        numbers = numbers.filter(added_at__gt=latest.exported_at)
    return RemovalShare(
        source=source,
        label=str(DncSource(source).label),
        checked=latest.exported_count if latest else 0,
        removed=latest.removed_count if latest else 0,
        screening=latest,
        available=latest is not None,
        unscreened=numbers.count(),
    )


def removal_shares(campaign: Campaign) -> list[RemovalShare]:
    """One row per source that applies to the campaign, in its order. The versions in force and
    the latest screenings are the ones its freshness is judged by (compliance/dnc_freshness.py)."""
    sources = [source for source in campaign.sources or [] if source in DncSource.values]
    versions = versions_in_force(campaign.tenant)
    screenings = latest_screenings(campaign)
    return [
        _full_list_share(campaign, source, versions)
        if rule_for(source).delivery == Delivery.FULL_LIST
        else _screening_share(campaign, source, screenings.get(source))
        for source in sources
    ]
