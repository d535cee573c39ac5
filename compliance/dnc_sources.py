"""The do-not-call sources and the rule each one imposes, in one place with its legal reference.

A *full list* (TPS, CTPS, a tenant's internal opt-outs) is delivered whole and imported as a
version of `DncList`. A *submitted file* (Bloctel, Lista Robinson) is never handed out: the
professional sends the campaign's numbers and gets back the numbers it must remove, kept as a
`Screening` of that campaign.

Each rule says how old the list or screening may be before no number depending on it may be
called (`max_age_days`, overridable per source with the `DNC_MAX_AGE_DAYS` setting), whether the
caller's express consent to the company overrides a listing, and the delay after which a
registration takes effect (shown to compliance officers; the freshness is what enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DncSource(models.TextChoices):
    TPS = "tps", _("Telephone Preference Service (UK)")
    CTPS = "ctps", _("Corporate Telephone Preference Service (UK)")
    BLOCTEL = "bloctel", _("Bloctel (France)")
    ROBINSON = "robinson", _("Lista Robinson (Spain)")
    INTERNAL = "internal", _("Internal opt-outs")


class Delivery(models.TextChoices):
    FULL_LIST = "full_list", _("Delivered as a full list")
    SUBMITTED_FILE = "submitted_file", _("Screened by submitting the campaign's file")


@dataclass(frozen=True)
class SourceRule:
    source: str
    # The country whose numbers the list covers; None for a tenant's own opt-outs (every number).
    country: str | None
    delivery: str
    # How old the list version (full list) or the campaign's screening (submitted file) may be;
    # None: never goes stale (internal opt-outs never expire).
    max_age_days: int | None
    consent_overrides: bool
    effective_delay_days: int
    legal_reference: str

    @property
    def label(self) -> str:
        return str(DncSource(self.source).label)

    @property
    def default_region(self) -> str | None:
        """The region national numbers in the source's files are read in."""
        return self.country


RULES: dict[str, SourceRule] = {
    DncSource.TPS: SourceRule(
        source=DncSource.TPS,
        country="GB",
        delivery=Delivery.FULL_LIST,
        # TPS Ltd licenses the list on condition that calls are screened against a copy at most
        # 28 days old; a registration takes effect 28 days after it is made.
        max_age_days=28,
        # PECR reg. 21(4): a subscriber on the TPS may notify a caller that, for the time
        # being, they do not object to its calls.
        consent_overrides=True,
        effective_delay_days=28,
        legal_reference=(
            "Privacy and Electronic Communications Regulations 2003, reg. 21 and 26; "
            "TPS licence: screen against a copy no more than 28 days old"
        ),
    ),
    DncSource.CTPS: SourceRule(
        source=DncSource.CTPS,
        country="GB",
        delivery=Delivery.FULL_LIST,
        max_age_days=28,
        consent_overrides=True,
        effective_delay_days=28,
        legal_reference=(
            "Privacy and Electronic Communications Regulations 2003, reg. 21 and 26 "
            "(corporate subscribers); CTPS licence: screen at least every 28 days"
        ),
    ),
    DncSource.BLOCTEL: SourceRule(
        source=DncSource.BLOCTEL,
        country="FR",
        delivery=Delivery.SUBMITTED_FILE,
        # Code de la consommation D223-3: the professional has its files cleaned before each
        # campaign and at least every 30 days while it runs. Only an existing contract, not a
        # consent, lets a registered consumer be canvassed (L223-1), which Custodia does not model.
        max_age_days=30,
        consent_overrides=False,
        effective_delay_days=30,
        legal_reference=(
            "Code de la consommation, art. L223-1 to L223-5 and D223-3: screen the file before "
            "each campaign and at least every 30 days during it"
        ),
    ),
    DncSource.ROBINSON: SourceRule(
        source=DncSource.ROBINSON,
        country="ES",
        delivery=Delivery.SUBMITTED_FILE,
        # LOPDGDD art. 23.4: the list is consulted before the campaign. The law sets no period
        # during one; 30 days, as in France, unless DNC_MAX_AGE_DAYS says otherwise.
        max_age_days=30,
        # LOPDGDD art. 23.4: the caller's express consent to this company overrides the listing.
        consent_overrides=True,
        effective_delay_days=0,
        legal_reference=(
            "Ley Orgánica 3/2018 (LOPDGDD), art. 23.4: consult the list before the campaign; "
            "the caller's express consent to the company prevails"
        ),
    ),
    DncSource.INTERNAL: SourceRule(
        source=DncSource.INTERNAL,
        country=None,
        delivery=Delivery.FULL_LIST,
        max_age_days=None,
        # GDPR Art. 21(3): after an objection to direct marketing the data may no longer be
        # processed for it; a later consent to another purpose does not lift it.
        consent_overrides=False,
        effective_delay_days=0,
        legal_reference=(
            "GDPR Art. 21(2) and (3): an objection to direct marketing, which never expires"
        ),
    ),
}

# The purposes (by code) whose processing is direct marketing. A caller who refuses consent to
# one, or withdraws it, objects to being called for marketing: GDPR Art. 21(2) and (3) (the data
# may no longer be processed for it), PECR reg. 21(1)(b) (a subscriber who notified the caller
# that such calls should not be made): the number joins the tenant's internal opt-outs, for good.
DIRECT_MARKETING_PURPOSES = frozenset({"telemarketing"})

# The national list that covers each country's numbers.
NATIONAL_SOURCES: dict[str, tuple[str, ...]] = {
    "GB": (DncSource.TPS, DncSource.CTPS),
    "FR": (DncSource.BLOCTEL,),
    "ES": (DncSource.ROBINSON,),
}


def rule_for(source: str) -> SourceRule:
    """The rule of `source`, with its freshness as configured (DNC_MAX_AGE_DAYS)."""
    rule = RULES[DncSource(source)]
    configured = getattr(settings, "DNC_MAX_AGE_DAYS", {}).get(rule.source)
    if configured is not None and rule.max_age_days is not None:
        return replace(rule, max_age_days=int(configured))
    return rule


def stale_after(source: str, dated: datetime) -> datetime | None:
    """When a list version (or screening) of `source` dated `dated` (delivered, for a list)
    goes stale: its rule's `max_age_days` later; None for a source that never goes stale."""
    max_age = rule_for(source).max_age_days
    return None if max_age is None else dated + timedelta(days=max_age)


def sources_for_countries(countries: set[str] | frozenset[str]) -> list[str]:
    """The sources a campaign calling numbers of `countries` must respect: the internal opt-outs
    always, and the national lists of each country."""
    sources = [DncSource.INTERNAL.value]
    for country in sorted(countries):
        sources.extend(str(source) for source in NATIONAL_SOURCES.get(country, ()))
    return sources
