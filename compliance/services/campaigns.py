"""Marketing campaigns and their numbers, screened against the do-not-call lists that apply.

A campaign belongs to a tenant, serves one of its purposes on a legal basis, and runs between
two days. The lists that apply (`Campaign.sources`) follow from the countries it calls
(compliance/dnc_sources.py::sources_for_countries): the tenant's own country, where its campaigns
call from, and the country of every number imported. A number of another country is accepted,
and brings that country's national list with it: a UK number in a French tenant's campaign makes
the TPS and the CTPS apply to the campaign (a French list does not cover it, and calling it
unscreened would break the UK's rule). The sources are recomputed at each import.

Numbers are imported from a file (`campaign_numbers_import`): one number per line or a CSV whose
header names its number column, in UTF-8, Latin-1 or UTF-16, read as the do-not-call lists are
(compliance/campaign_files.py): normalised to E.164, a national number read in the tenant's
country. All or nothing: a file with more rejected lines than the import allows (none by
default), or that is no file of numbers, adds nothing; the rejected lines are reported with
their line numbers. Numbers already in the campaign, or twice in the file, are ignored (counted).
Every number imported carries the import's time (`added_at`): a screening exported before it
does not cover it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from kit.null_characters import unstorable
from kit.refusals import Refused, grouped
from kit.times import tenant_day

from ..campaign_files import FILE_MAX_BYTES, read_numbers
from ..date_window import EARLIEST
from ..dnc_files import FileRefused, Rejection
from ..dnc_models import Campaign, CampaignNumber
from ..dnc_numbers import ListNumberReader
from ..dnc_screening import country_of
from ..dnc_sources import sources_for_countries
from ..models import LegalBasis, Purpose, Tenant
from ..roles import tenant_permits

# How many rejected lines a refusal or a report names (the count says how many in all).
REJECTIONS_NAMED = 20
# How far ahead a campaign may be planned.
PLANNED_AHEAD = timedelta(days=5 * 366)


def actor_label(actor) -> str:
    if hasattr(actor, "get_username"):
        return actor.get_username()[:150]
    return str(actor or "")[:150]


def refuse_unless_permitted(actor, tenant: Tenant, permission: str, doing: str) -> None:
    """A person must hold `permission` in the tenant; a command (actor a label or None) is the
    platform's own shell."""
    if hasattr(actor, "get_username") and not tenant_permits(actor, tenant.pk, permission):
        raise Refused(
            format_lazy(_("you may not {doing} for {name}"), doing=doing, name=tenant.name),
            field="actor",
            status=403,
        )


def _refuse_bad_day(value, field: str) -> None:
    """A campaign's day: within compliance/date_window.py's window, except that a campaign is
    planned ahead: up to PLANNED_AHEAD from today (further is a typo: 2207 for 2027)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise Refused(format_lazy(_("{field} must be a date"), field=field), field=field)
    latest = timezone.localdate() + PLANNED_AHEAD
    if value < EARLIEST or value > latest:
        raise Refused(
            format_lazy(
                _("{field} is outside the dates a campaign may have ({isoformat} to {isoformat2})"),
                field=field,
                isoformat=EARLIEST.isoformat(),
                isoformat2=latest.isoformat(),
            ),
            field=field,
        )


def campaign_create_check(
    *,
    tenant: Tenant,
    name: str,
    purpose: Purpose,
    legal_basis: str,
    starts_on: date,
    ends_on: date,
) -> str:
    """The campaign's name, stripped, or Refused naming the field (the admin's form asks it)."""
    name = (name or "").strip()
    limit = Campaign._meta.get_field("name").max_length
    if not name:
        raise Refused(_("a campaign needs a name"), field="name")
    if len(name) > limit or unstorable(name):
        raise Refused(
            format_lazy(_("the name must be at most {limit} printable characters"), limit=limit),
            field="name",
        )
    if Campaign.objects.filter(tenant=tenant, name=name).exists():
        raise Refused(
            format_lazy(
                _("{name} already has a campaign named {name2}"), name=tenant.name, name2=repr(name)
            ),
            field="name",
        )
    if purpose is None or not Purpose.objects.available_to(tenant).filter(pk=purpose.pk).exists():
        raise Refused(
            _("the purpose must be an active purpose of the platform or of the tenant"),
            field="purpose",
        )
    if legal_basis not in LegalBasis.values:
        raise Refused(
            format_lazy(
                _("legal_basis must be one of {value}"), value=", ".join(LegalBasis.values)
            ),
            field="legal_basis",
        )
    _refuse_bad_day(starts_on, "starts_on")
    _refuse_bad_day(ends_on, "ends_on")
    if ends_on < starts_on:
        raise Refused(_("the campaign ends before it starts"), field="ends_on")
    return name


@names_its_actor
@transaction.atomic
def campaign_create(
    *,
    actor,
    tenant: Tenant,
    name: str,
    purpose: Purpose,
    legal_basis: str,
    starts_on: date,
    ends_on: date,
) -> Campaign:
    """A new campaign, without numbers yet: the lists that apply are the tenant's country's
    (and its internal opt-outs) until numbers of other countries are imported."""
    refuse_unless_permitted(actor, tenant, "compliance.add_campaign", _("create campaigns"))
    name = campaign_create_check(
        tenant=tenant,
        name=name,
        purpose=purpose,
        legal_basis=legal_basis,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                tenant=tenant,
                name=name,
                purpose=purpose,
                legal_basis=legal_basis,
                sources=sources_for_countries({tenant.country_code}),
                starts_on=starts_on,
                ends_on=ends_on,
                created_by=actor_label(actor),
            )
    except IntegrityError as error:  # created meanwhile under the same name
        raise Refused(
            format_lazy(
                _("{name} already has a campaign named {name2}"), name=tenant.name, name2=repr(name)
            ),
            field="name",
            status=409,
        ) from error
    event_record(
        action="campaign.created",
        tenant=tenant,
        target=campaign,
        extra={
            "name": name,
            "purpose": purpose.code,
            "legal_basis": legal_basis,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "sources": campaign.sources,
        },
    )
    return campaign


@dataclass
class NumbersImported:
    """What an import did: numbers added, those already there (in the campaign or earlier in
    the file), the rejected lines it accepted (the first REJECTIONS_NAMED named)."""

    added: int = 0
    duplicates: int = 0
    lines: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    countries: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def rejections_named(rejections: list[Rejection]) -> str:
    named = "; ".join(f"line {r.line}: {r.reason}" for r in rejections[:REJECTIONS_NAMED])
    more = len(rejections) - REJECTIONS_NAMED
    return named + (f"; and {more:,} more" if more > 0 else "")


def campaign_sources(campaign: Campaign) -> list[str]:
    """The lists that apply to `campaign`: its tenant's country's and its numbers'."""
    countries = set(
        CampaignNumber.objects.filter(campaign=campaign)
        .exclude(country="")
        .values_list("country", flat=True)
        .distinct()
    )
    return sources_for_countries(countries | {campaign.tenant.country_code})


def campaign_numbers_check(*, campaign: Campaign, data: bytes, max_rejected: int = 0) -> None:
    """What may be refused before the file is read (the admin's form asks it too)."""
    if not isinstance(max_rejected, int) or max_rejected < 0:
        raise Refused(_("max_rejected must be a whole number, 0 or more"), field="max_rejected")
    if len(data) > FILE_MAX_BYTES:
        raise Refused(
            format_lazy(
                _("the file is larger than {file_max_bytes} bytes: no campaign's file is"),
                file_max_bytes=grouped(FILE_MAX_BYTES),
            ),
            field="file",
            status=413,
        )
    if not data:
        raise Refused(_("the file is empty"), field="file")
    today = tenant_day(timezone.now(), campaign.tenant)
    if campaign.ends_on < today:
        raise Refused(
            format_lazy(
                _("the campaign ended on {isoformat}: no number may be added"),
                isoformat=campaign.ends_on.isoformat(),
            ),
            field="campaign",
        )


@names_its_actor
@transaction.atomic
def campaign_numbers_import(
    *,
    actor,
    campaign: Campaign,
    data: bytes,
    file_name: str = "",
    max_rejected: int = 0,
) -> NumbersImported:
    """Add the numbers of a file (`data`, its bytes) to the campaign: all, or none with a
    Refused naming the rejected lines (field "file")."""
    tenant = campaign.tenant
    refuse_unless_permitted(actor, tenant, "compliance.change_campaign", _("add campaign numbers"))
    campaign_numbers_check(campaign=campaign, data=data, max_rejected=max_rejected)
    # One import of the campaign at a time: the counts and the sources are the campaign's.
    campaign = Campaign.objects.select_for_update().select_related("tenant").get(pk=campaign.pk)
    reader = ListNumberReader(country=None, default_region=tenant.country_code)
    try:
        read = read_numbers(data, numbers=reader)
    except FileRefused as refused:
        raise Refused(
            format_lazy(_("nothing was imported: {reason}"), reason=refused.reason), field="file"
        ) from None
    if len(read.rejections) > max_rejected:
        raise Refused(
            format_lazy(
                _("nothing was imported: {value} rejected lines, {max_rejected} allowed: {value2}"),
                value=grouped(len(read.rejections)),
                max_rejected=grouped(max_rejected),
                value2=rejections_named(read.rejections),
            ),
            field="file",
        )
    if not read.numbers:
        raise Refused(_("nothing was imported: the file holds no number"), field="file")
    unique = list(dict.fromkeys(read.numbers))
    existing = set(
        CampaignNumber.objects.filter(campaign=campaign, number__in=unique).values_list(
            "number", flat=True
        )
    )
    new = [number for number in unique if number not in existing]
    now = timezone.now()
    countries: dict[str, int] = {}
    rows = []
    for number in new:
        country = country_of(number)
        countries[country] = countries.get(country, 0) + 1
        rows.append(CampaignNumber(campaign=campaign, number=number, country=country, added_at=now))
    CampaignNumber.objects.bulk_create(rows, batch_size=5000)
    campaign.number_count = CampaignNumber.objects.filter(campaign=campaign).count()
    campaign.sources = campaign_sources(campaign)
    campaign.save(update_fields=["number_count", "sources"])
    result = NumbersImported(
        added=len(new),
        duplicates=len(read.numbers) - len(new),
        lines=read.lines,
        rejected=len(read.rejections),
        rejections=read.rejections[:REJECTIONS_NAMED],
        countries=countries,
        sources=campaign.sources,
    )
    event_record(
        action="campaign.numbers_imported",
        tenant=tenant,
        target=campaign,
        extra={
            "added": result.added,
            "duplicates": result.duplicates,
            "lines": result.lines,
            "rejected": result.rejected,
            "rejected_allowed": max_rejected,
            "rejected_lines": [r.as_json() for r in result.rejections],
            "countries": countries,
            "numbers": campaign.number_count,
            "sources": campaign.sources,
            "file_name": (file_name or "")[:255],
            "file_size": len(data),
            "file_sha256": hashlib.sha256(data).hexdigest(),
            "encoding": read.encoding,
            "added_at": now,
        },
    )
    return result
