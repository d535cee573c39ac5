"""The do-not-call decision: may this campaign call these numbers, and if not, why.

For a campaign and a batch of numbers (E.164 without "+", as stored), every number gets a verdict
with its reasons. The rules, each in one place here (the sources' own rules are
compliance/dnc_sources.py's, their freshness compliance/dnc_freshness.py's):

- The tenant's internal opt-outs (the numbers added one by one, `DncOptOut`, and its own
  internal list in force) apply to every number, and no consent lifts them (GDPR Art. 21(3)).
- A national source applies to the numbers of its country (by country calling code: the UK's
  TPS covers +44, the Crown Dependencies' numbers included). The sources that apply to a number
  are the campaign's (set from its tenant's country and its numbers' countries) and the national
  ones of the number's own country, so that a number of another country checked against a
  campaign is held to its own country's list.
- A full list (TPS, CTPS) listing the number in a version in force: reason `<source>`.
- A submitted file (Bloctel, Lista Robinson): the number among the removals of the campaign's
  latest answered screening of that source: reason `<source>`; the number not covered by that
  screening (not in the campaign's file, or added to it after the file was exported):
  `unscreened:<source>`.
- A source the number depends on that is not fresh (stale, never screened, no version in
  force): `stale:<source>`; the answer carries the source's sentence saying since when.
- Express consent (the latest decision of the caller for the campaign's purpose, granted, with
  the tenant) lifts every reason of a source whose rule lets consent override it (Lista
  Robinson, TPS, CTPS): listed, unscreened or stale, that source does not apply to that person.
  Never the internal opt-outs, never Bloctel.
- Outside the campaign's dates (starts_on to ends_on, in the tenant's days):
  `campaign_not_started` / `campaign_ended`, for every number.

A batch is decided with one query (the numbers as an array, unnested and probed against the
entries, the opt-outs, the removals, the campaign's numbers and the consents, each through its
index) after the campaign's state (its sources' freshness: two queries, or one with the campaign
itself for the API's check, `campaign_check_load`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from django.utils import timezone
from django.utils.translation import gettext

from kit.sql import prepared_cursor

from .dnc_freshness import SourceState, latest_screenings, source_state, versions_in_force
from .dnc_models import Campaign, DncList, Screening
from .dnc_sources import NATIONAL_SOURCES, Delivery, DncSource, rule_for

CAMPAIGN_NOT_STARTED = "campaign_not_started"
CAMPAIGN_ENDED = "campaign_ended"
# A scrub's row whose cell holds no valid number (compliance/services/dnc_scrubs.py).
INVALID_NUMBER = "invalid_number"
UNSCREENED = "unscreened:"
STALE = "stale:"


def reason_label(code: str) -> str:
    """A reason's human label (in the active language)."""
    if code == CAMPAIGN_NOT_STARTED:
        return gettext("The campaign has not started yet")
    if code == CAMPAIGN_ENDED:
        return gettext("The campaign has ended")
    if code == INVALID_NUMBER:
        return gettext("Not a valid phone number")
    if code == DncSource.INTERNAL:
        return gettext("On the tenant's internal opt-outs")
    for prefix, text in (
        (UNSCREENED, gettext("Not covered by the campaign's latest %(source)s screening")),
        (STALE, gettext("%(source)s is not fresh enough to call")),
    ):
        if code.startswith(prefix):
            return text % {"source": DncSource(code[len(prefix) :]).label}
    return gettext("Listed on %(source)s") % {"source": DncSource(code).label}


def reason_codes() -> list[str]:
    """Every reason a verdict may give (for the documentation and the label tests)."""
    sources = [str(s) for s in DncSource.values]
    national = [s for s in sources if s != DncSource.INTERNAL]
    submitted = [s for s in national if rule_for(s).delivery == Delivery.SUBMITTED_FILE]
    return [
        *sources,
        *(UNSCREENED + s for s in submitted),
        *(STALE + s for s in national),
        CAMPAIGN_NOT_STARTED,
        CAMPAIGN_ENDED,
        INVALID_NUMBER,
    ]


@cache
def _calling_codes() -> dict[str, str]:
    """Country calling code -> its main region (44 -> GB); none for the codes of no country
    (+800, +882...: phonenumbers' region "001")."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    return {
        str(code): regions[0]
        for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()
        if regions and regions[0] != "001"
    }


def country_of(number: int) -> str:
    """The country whose national list covers a stored number: the main region of its country
    calling code (447911123456 -> GB; +44 is GB's, Guernsey's and Jersey's numbers included: the
    TPS covers every +44 number); "" for a code of no country. Country calling codes are a prefix
    code of one to three digits, so this reads the digits, not phonenumbers' parser: a batch of
    10,000 numbers asks it 10,000 times."""
    digits = str(number)
    codes = _calling_codes()
    for length in (1, 2, 3):
        region = codes.get(digits[:length])
        if region is not None:
            return region
    return ""


@dataclass(frozen=True)
class Verdict:
    number: int
    callable: bool
    reasons: tuple[str, ...]
    # The sources this number depends on, in the campaign's order.
    sources: tuple[str, ...]


# One query for a batch: every probe is an index lookup per number (entries: each partition's
# number index; opt-outs: (tenant, number) unique; removals: (screening, number) unique;
# campaign numbers: (campaign, number) unique; consents: consent_subject_latest). Only the numbers
# with a fact are returned (most of a batch has none: _NO_FACTS, not sent back and parsed).
_DECIDE_SQL = """
SELECT * FROM (
SELECT b.number,
    EXISTS (
        SELECT 1 FROM compliance_dncoptout o
        WHERE o.tenant_id = %(tenant)s AND o.number = '+' || b.number::text
    ),
    ARRAY (
        SELECT e.list_id FROM compliance_dncentry e
        WHERE e.list_id = ANY (%(lists)s::bigint[]) AND e.number = b.number
    ),
    ARRAY (
        SELECT r.screening_id FROM compliance_screeningremoval r
        WHERE r.screening_id = ANY (%(screenings)s::bigint[]) AND r.number = b.number
    ),
    (
        SELECT n.added_at FROM compliance_campaignnumber n
        WHERE n.campaign_id = %(campaign)s AND n.number = b.number
    ),
    COALESCE((
        SELECT c.decision = 'granted' FROM compliance_consent c
        WHERE c.tenant_id = %(tenant)s AND c.customer_number = '+' || b.number::text
            AND c.purpose_id = %(purpose)s
        ORDER BY c.decided_at DESC, c.id DESC LIMIT 1
    ), false)
FROM (SELECT DISTINCT unnest(%(numbers)s::bigint[]) AS number) AS b
) AS f (number, opted_out, lists, removed_by, added_at, consented)
WHERE f.opted_out OR f.lists <> '{}' OR f.removed_by <> '{}' OR f.added_at IS NOT NULL
    OR f.consented
"""
_NO_FACTS = (False, [], [], None, False)


class CampaignCheck:
    """A campaign's state for deciding batches of numbers: its dates, the list versions in force
    that apply to its tenant and its latest answered screenings (read once, two queries, or
    given by `campaign_check_load`'s one); each source's freshness follows from them. Meant for
    one request or one scrub: a list imported or a screening answered meanwhile is seen by the
    next one."""

    def __init__(
        self,
        campaign: Campaign,
        *,
        now: datetime | None = None,
        versions: dict[str, list[DncList]] | None = None,
        screenings: dict[str, Screening] | None = None,
    ):
        self.campaign = campaign
        self.now = now or timezone.now()
        self.today: date = campaign.tenant.today()
        self.versions = versions_in_force(campaign.tenant) if versions is None else versions
        self.screenings = latest_screenings(campaign) if screenings is None else screenings
        self.states: dict[str, SourceState] = {}
        self._load(list(campaign.sources))

    def _load(self, sources: list[str]) -> None:
        for source in sources:
            if source not in self.states:
                self.states[source] = source_state(
                    source,
                    tenant=self.campaign.tenant,
                    versions=self.versions,
                    screenings=self.screenings,
                    now=self.now,
                )

    @property
    def window_reasons(self) -> tuple[str, ...]:
        if self.today < self.campaign.starts_on:
            return (CAMPAIGN_NOT_STARTED,)
        if self.today > self.campaign.ends_on:
            return (CAMPAIGN_ENDED,)
        return ()

    def sources_for(self, number: int) -> tuple[str, ...]:
        """The sources `number` depends on: the internal opt-outs, and the national sources of
        its own country, the campaign's first."""
        country = country_of(number)
        national = NATIONAL_SOURCES.get(country, ())
        ordered = [s for s in self.campaign.sources if s == DncSource.INTERNAL or s in national]
        if DncSource.INTERNAL not in ordered:
            ordered.insert(0, DncSource.INTERNAL.value)
        ordered += [str(s) for s in national if s not in ordered]
        return tuple(ordered)

    def _list_sources(self) -> dict[int, str]:
        return {v.pk: source for source, found in self.versions.items() for v in found}

    def _screening_sources(self) -> dict[int, str]:
        return {screening.pk: source for source, screening in self.screenings.items()}

    def decide(self, numbers: Sequence[int]) -> list[Verdict]:
        """A verdict per number, in the order given (a number given twice, twice)."""
        if not numbers:
            return []
        list_source = self._list_sources()
        screening_source = self._screening_sources()
        campaign = self.campaign
        distinct = set(numbers)
        with prepared_cursor() as cursor:
            cursor.execute(
                _DECIDE_SQL,
                {
                    "tenant": campaign.tenant_id,
                    "campaign": campaign.pk,
                    "purpose": campaign.purpose_id,
                    "lists": list(list_source),
                    "screenings": list(screening_source),
                    "numbers": list(distinct),
                },
            )
            facts = {row[0]: row[1:] for row in cursor.fetchall()}
        # Numbers of the same country with the same facts have the same reasons: each such
        # verdict is worked out once per batch (a scrub's 10,000 numbers are mostly alike).
        alike: dict[tuple, Verdict] = {}
        verdicts = {}
        for number in distinct:
            opted_out, lists, removed_by, added_at, consented = facts.get(number, _NO_FACTS)
            key = (
                country_of(number),
                opted_out,
                tuple(lists),
                tuple(removed_by),
                added_at,
                consented,
            )
            verdict = alike.get(key)
            if verdict is None:
                verdict = alike[key] = self._verdict(
                    number,
                    opted_out,
                    lists,
                    removed_by,
                    added_at,
                    consented,
                    list_source,
                    screening_source,
                )
            verdicts[number] = Verdict(number, verdict.callable, verdict.reasons, verdict.sources)
        return [verdicts[number] for number in numbers]

    def _verdict(
        self,
        number: int,
        opted_out: bool,
        lists: list[int],
        removed_by: list[int],
        added_at: datetime | None,
        consented: bool,
        list_source: dict[int, str],
        screening_source: dict[int, str],
    ) -> Verdict:
        """One number's verdict from what the database said of it: opted out, the list
        versions holding it, the screenings removing it (others than the latest are ignored),
        when it joined the campaign's file, whether its consent is granted."""
        sources = self.sources_for(number)
        self._load(list(sources))
        listed = {list_source[list_id] for list_id in lists if list_id in list_source}
        removed = {screening_source[i] for i in removed_by if i in screening_source}
        reasons = list(self.window_reasons)
        if opted_out or DncSource.INTERNAL in listed:
            reasons.append(DncSource.INTERNAL.value)
        for source in sources:
            if source == DncSource.INTERNAL:
                continue  # never stale, never lifted: above
            found = self._source_reasons(source, listed, removed, added_at)
            if found and consented and rule_for(source).consent_overrides:
                continue
            reasons += found
        return Verdict(number, not reasons, tuple(reasons), sources)

    def _source_reasons(
        self, source: str, listed: set[str], removed: set[str], added_at: datetime | None
    ) -> list[str]:
        state = self.states[source]
        found = []
        if rule_for(source).delivery == Delivery.FULL_LIST:
            if source in listed:
                found.append(source)
        elif state.screening_id is not None:
            if source in removed:
                found.append(source)
            elif added_at is None or added_at > state.exported_at:
                found.append(UNSCREENED + source)
        if not state.fresh:
            found.append(STALE + source)
        return found

    def stale_messages(self, sources: Sequence[str]) -> list[str]:
        """The sentences of the sources among `sources` that are not fresh."""
        return [self.states[s].message for s in sources if not self.states[s].fresh]


# The campaign of a tenant by id, with what its check needs (the list versions in force that
# apply to the tenant, the campaign's latest answered screening of each source), in one
# statement, prepared once per connection: the API's check runs it on every call.
_CAMPAIGN_SQL = """
SELECT c.id, c.name, c.purpose_id, c.legal_basis, c.sources, c.starts_on, c.ends_on,
    c.number_count, c.created_at, c.created_by,
    (SELECT coalesce(json_agg(json_build_object(
            'id', l.id, 'tenant_id', l.tenant_id, 'source', l.source, 'version', l.version,
            'delivered_at', l.delivered_at) ORDER BY l.source, l.tenant_id NULLS FIRST), '[]')
        FROM compliance_dnclist l
        WHERE l.status = 'in_force' AND (l.tenant_id IS NULL OR l.tenant_id = c.tenant_id)),
    (SELECT coalesce(json_agg(json_build_object(
            'id', s.id, 'source', s.source, 'exported_at', s.exported_at,
            'screened_at', s.screened_at)), '[]')
        FROM (SELECT DISTINCT ON (source) id, source, exported_at, screened_at
              FROM compliance_screening
              WHERE campaign_id = c.id AND status = 'answered'
              ORDER BY source, screened_at DESC, id DESC) AS s)
FROM compliance_campaign c
WHERE c.id = %s AND c.tenant_id = %s
"""


# The same, with one number's facts (as _DECIDE_SQL gives them): the API's check in one
# statement. The removals are those of any of the campaign's screenings; only the latest
# answered one's count (CampaignCheck._verdict).
_CHECK_SQL = _CAMPAIGN_SQL.replace(
    "FROM compliance_campaign c\n",
    """,
    EXISTS (
        SELECT 1 FROM compliance_dncoptout o
        WHERE o.tenant_id = c.tenant_id AND o.number = '+' || %(number)s::bigint::text
    ),
    ARRAY (
        SELECT e.list_id FROM compliance_dncentry e
        WHERE e.number = %(number)s AND e.list_id IN (
            SELECT l.id FROM compliance_dnclist l
            WHERE l.status = 'in_force' AND (l.tenant_id IS NULL OR l.tenant_id = c.tenant_id))
    ),
    ARRAY (
        SELECT r.screening_id FROM compliance_screeningremoval r
        JOIN compliance_screening s ON s.id = r.screening_id
        WHERE s.campaign_id = c.id AND r.number = %(number)s
    ),
    (
        SELECT n.added_at FROM compliance_campaignnumber n
        WHERE n.campaign_id = c.id AND n.number = %(number)s
    ),
    COALESCE((
        SELECT k.decision = 'granted' FROM compliance_consent k
        WHERE k.tenant_id = c.tenant_id AND k.customer_number = '+' || %(number)s::bigint::text
            AND k.purpose_id = c.purpose_id
        ORDER BY k.decided_at DESC, k.id DESC LIMIT 1
    ), false)
FROM compliance_campaign c
""",
).replace(
    "WHERE c.id = %s AND c.tenant_id = %s", "WHERE c.id = %(campaign)s AND c.tenant_id = %(tenant)s"
)


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def campaign_check_load(*, tenant, campaign_id: int, now: datetime | None = None):
    """The CampaignCheck of `tenant`'s campaign `campaign_id`, None when the tenant has no such
    campaign; one query."""
    with prepared_cursor() as cursor:
        cursor.execute(_CAMPAIGN_SQL, [campaign_id, tenant.pk])
        row = cursor.fetchone()
    return None if row is None else _check_from(row, tenant, now)


def campaign_check_one(
    *, tenant, campaign_id: int, number: int, now: datetime | None = None
) -> tuple[CampaignCheck, Verdict] | None:
    """The check of one number for `tenant`'s campaign `campaign_id` in one query (the API's
    check); None when the tenant has no such campaign."""
    with prepared_cursor() as cursor:
        cursor.execute(_CHECK_SQL, {"campaign": campaign_id, "tenant": tenant.pk, "number": number})
        row = cursor.fetchone()
    if row is None:
        return None
    check = _check_from(row, tenant, now)
    verdict = check._verdict(number, *row[12:17], check._list_sources(), check._screening_sources())
    return check, verdict


def _check_from(row, tenant, now: datetime | None) -> CampaignCheck:
    campaign = Campaign(
        id=row[0],
        tenant=tenant,
        name=row[1],
        purpose_id=row[2],
        legal_basis=row[3],
        sources=row[4] if isinstance(row[4], list) else json.loads(row[4]),
        starts_on=row[5],
        ends_on=row[6],
        number_count=row[7],
        created_at=row[8],
        created_by=row[9],
    )
    versions: dict[str, list[DncList]] = {}
    for item in _json(row[10]):
        versions.setdefault(item["source"], []).append(
            DncList(
                id=item["id"],
                tenant_id=item["tenant_id"],
                source=item["source"],
                version=item["version"],
                delivered_at=_instant(item["delivered_at"]),
                status="in_force",
            )
        )
    screenings = {
        item["source"]: Screening(
            id=item["id"],
            campaign=campaign,
            source=item["source"],
            status="answered",
            exported_at=_instant(item["exported_at"]),
            screened_at=_instant(item["screened_at"]),
        )
        for item in _json(row[11])
    }
    return CampaignCheck(campaign, now=now, versions=versions, screenings=screenings)


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value
