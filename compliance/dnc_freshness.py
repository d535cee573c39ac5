"""Whether the do-not-call sources a campaign (or a tenant) depends on are fresh enough to call.

A *full list* (TPS, CTPS, a tenant's own list) is fresh while its version in force is younger
than its rule's `max_age_days` (compliance/dnc_sources.py), counted from the version's delivery;
with no version in force it is not fresh. A platform-wide list has no tenant; a tenant may also
hold its own version of a list, and then both versions in force apply (the older one decides).
The internal opt-outs never go stale and need no version (the numbers added one by one are
opt-outs too).

A *submitted file* (Bloctel, Lista Robinson) is fresh while the campaign's latest answered
screening of that source is younger than the rule's `max_age_days`, counted from the service's
answer (`screened_at`); a campaign never screened by it is not fresh.

No number depending on a source that is not fresh may be called: compliance/dnc_screening.py
applies that; this module only says which source is fresh, since when it is stale, and why, in a
sentence a compliance officer (and the dialer's operator) reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext

from kit.times import zone_of

from .dnc_models import Campaign, DncList, Screening, ScreeningStatus
from .dnc_sources import Delivery, DncSource, rule_for, sources_for_countries, stale_after


@dataclass(frozen=True)
class SourceState:
    source: str
    label: str
    # The delivery of the version in force (full list) or the answer of the latest answered
    # screening (submitted file); None when there is none.
    dated: datetime | None
    # When it went or goes stale; None when it never goes stale or nothing exists (see fresh).
    stale_since: datetime | None
    fresh: bool
    # What was checked, for people: "version 2026-11", "screening of 3 November 2026".
    reference: str
    # Why it is not fresh, in a sentence; empty when fresh.
    message: str
    # The DncList versions in force (full list) or the Screening (submitted file) behind it.
    list_ids: tuple[int, ...] = ()
    screening_id: int | None = None
    # The latest answered screening's file export: numbers added to the campaign after it were
    # not in the file the service screened.
    exported_at: datetime | None = None
    # The version's name as its provider gives it (the oldest in force), for the API.
    version: str = ""


def _day(value: datetime, tenant) -> str:
    """A date as people read it ("3 November 2026"), in the tenant's time zone."""
    return formats.date_format(timezone.localtime(value, zone_of(tenant)), "j F Y")


def _short_label(source: str) -> str:
    """The source's name without its country ("Bloctel", "TPS"), for the start of a sentence."""
    return {
        DncSource.TPS: "TPS",
        DncSource.CTPS: "CTPS",
        DncSource.BLOCTEL: "Bloctel",
        DncSource.ROBINSON: "Lista Robinson",
        DncSource.INTERNAL: gettext("Internal opt-outs"),
    }[DncSource(source)]


def _stale_message(source: str, what: str, dated: datetime, stale_since: datetime, tenant) -> str:
    return gettext(
        "%(source)s: %(what)s (%(dated)s) is older than %(days)d days; stale since %(since)s."
    ) % {
        "source": _short_label(source),
        "what": what,
        "dated": _day(dated, tenant),
        "days": rule_for(source).max_age_days,
        "since": _day(stale_since, tenant),
    }


def _full_list_state(source: str, versions: list[DncList], tenant, now: datetime) -> SourceState:
    """One source from its versions in force (platform-wide and the tenant's own)."""
    label = str(DncSource(source).label)
    ids = tuple(version.pk for version in versions)
    if not versions:
        if source == DncSource.INTERNAL:
            return SourceState(source, label, None, None, True, gettext("opt-outs only"), "")
        return SourceState(
            source,
            label,
            None,
            None,
            False,
            gettext("no version in force"),
            gettext("%(source)s: no version in force.") % {"source": _short_label(source)},
        )
    # The oldest version in force decides: every one of them must be fresh.
    oldest = min(versions, key=lambda version: version.delivered_at)
    reference = gettext("version %(version)s") % {"version": oldest.version}
    stale_since = stale_after(source, oldest.delivered_at)
    if stale_since is None or now < stale_since:
        return SourceState(
            source,
            label,
            oldest.delivered_at,
            stale_since,
            True,
            reference,
            "",
            ids,
            version=oldest.version,
        )
    message = _stale_message(
        source,
        gettext("the version in force, %(version)s,") % {"version": oldest.version},
        oldest.delivered_at,
        stale_since,
        tenant,
    )
    return SourceState(
        source,
        label,
        oldest.delivered_at,
        stale_since,
        False,
        reference,
        message,
        ids,
        version=oldest.version,
    )


def _screening_state(source: str, screening: Screening | None, tenant, now) -> SourceState:
    label = str(DncSource(source).label)
    if screening is None:
        return SourceState(
            source,
            label,
            None,
            None,
            False,
            gettext("never screened"),
            gettext("%(source)s: this campaign's file has never been screened.")
            % {"source": _short_label(source)},
        )
    dated = screening.screened_at
    reference = gettext("screening of %(date)s") % {"date": _day(dated, tenant)}
    stale_since = stale_after(source, dated)
    fresh = stale_since is None or now < stale_since
    message = (
        ""
        if fresh
        else _stale_message(source, gettext("the last screening"), dated, stale_since, tenant)
    )
    return SourceState(
        source,
        label,
        dated,
        stale_since,
        fresh,
        reference,
        message,
        screening_id=screening.pk,
        exported_at=screening.exported_at,
    )


def versions_in_force(tenant) -> dict[str, list[DncList]]:
    """The versions in force that apply to `tenant` (platform-wide, and its own), by source."""
    scope = Q(tenant__isnull=True) if tenant is None else Q(tenant__isnull=True) | Q(tenant=tenant)
    by_source: dict[str, list[DncList]] = {}
    for version in DncList.objects.in_force().filter(scope).order_by("source", "tenant_id"):
        by_source.setdefault(version.source, []).append(version)
    return by_source


def latest_screenings(campaign: Campaign) -> dict[str, Screening]:
    """The campaign's latest answered screening of each source (PostgreSQL's DISTINCT ON)."""
    return {
        screening.source: screening
        for screening in Screening.objects.filter(
            campaign=campaign, status=ScreeningStatus.ANSWERED
        )
        .order_by("source", "-screened_at", "-pk")
        .distinct("source")
    }


def source_state(
    source: str,
    *,
    tenant,
    versions: dict[str, list[DncList]],
    screenings: dict[str, Screening],
    now: datetime,
) -> SourceState:
    """The state of one source from what applies (`versions_in_force`, `latest_screenings`, or
    the same read otherwise): no query."""
    if rule_for(source).delivery == Delivery.FULL_LIST:
        return _full_list_state(source, versions.get(source, []), tenant, now)
    return _screening_state(source, screenings.get(source), tenant, now)


def sources_state(
    *, campaign: Campaign, sources: list[str], now: datetime | None = None
) -> list[SourceState]:
    """The state of `sources` for `campaign` (a campaign's own sources, or more: the national
    list of a number of another country checked against it). Two queries at most."""
    now = now or timezone.now()
    tenant = campaign.tenant
    full = any(rule_for(s).delivery == Delivery.FULL_LIST for s in sources)
    submitted = any(rule_for(s).delivery == Delivery.SUBMITTED_FILE for s in sources)
    versions = versions_in_force(tenant) if full else {}
    screenings = latest_screenings(campaign) if submitted else {}
    return [
        source_state(s, tenant=tenant, versions=versions, screenings=screenings, now=now)
        for s in sources
    ]


def campaign_freshness(campaign: Campaign, *, now: datetime | None = None) -> list[SourceState]:
    """One state per source of the campaign (`campaign.sources`), in that order."""
    return sources_state(campaign=campaign, sources=list(campaign.sources), now=now)


def campaigns_freshness(
    campaigns: list[Campaign], *, now: datetime | None = None
) -> dict[int, list[SourceState]]:
    """`campaign_freshness` of each of `campaigns` (with their tenants loaded), by campaign id, in
    two queries whatever their number: the versions in force of their tenants, and their latest
    answered screenings (for the admin's list of campaigns and the dashboard)."""
    now = now or timezone.now()
    if not campaigns:
        return {}
    tenant_ids = {campaign.tenant_id for campaign in campaigns}
    versions: dict[int | None, dict[str, list[DncList]]] = {}
    for version in (
        DncList.objects.in_force()
        .filter(Q(tenant__isnull=True) | Q(tenant_id__in=tenant_ids))
        .order_by("source", "tenant_id")
    ):
        versions.setdefault(version.tenant_id, {}).setdefault(version.source, []).append(version)
    screenings: dict[int, dict[str, Screening]] = {}
    for screening in (
        Screening.objects.filter(campaign__in=campaigns, status=ScreeningStatus.ANSWERED)
        .order_by("campaign_id", "source", "-screened_at", "-pk")
        .distinct("campaign_id", "source")
    ):
        screenings.setdefault(screening.campaign_id, {})[screening.source] = screening
    platform = versions.get(None, {})
    states = {}
    for campaign in campaigns:
        own = versions.get(campaign.tenant_id, {})
        applying = {
            source: own.get(source, []) + platform.get(source, [])
            for source in set(platform) | set(own)
        }
        states[campaign.pk] = [
            source_state(
                source,
                tenant=campaign.tenant,
                versions=applying,
                screenings=screenings.get(campaign.pk, {}),
                now=now,
            )
            for source in campaign.sources
        ]
    return states


def list_freshness(*, tenant=None, now: datetime | None = None) -> list[SourceState]:
    """The full lists that apply to `tenant` (the platform-wide lists and its own; only the
    platform-wide ones without a tenant), one state per source: those in force, and the national
    full lists of the tenant's country that have no version in force (for the admin and the
    dashboard). Every platform-wide national list without a tenant."""
    now = now or timezone.now()
    versions = versions_in_force(tenant)
    if tenant is None:
        expected = [
            s
            for s in DncSource.values
            if s != DncSource.INTERNAL and rule_for(s).delivery == Delivery.FULL_LIST
        ]
    else:
        expected = [
            s
            for s in sources_for_countries({tenant.country_code})
            if rule_for(s).delivery == Delivery.FULL_LIST and s != DncSource.INTERNAL
        ]
    sources = sorted(set(versions) | set(expected), key=DncSource.values.index)
    return [_full_list_state(source, versions.get(source, []), tenant, now) for source in sources]
