"""Screenings of a campaign by the services that never hand out their list (Bloctel in France,
Lista Robinson in Spain): the campaign's numbers of that service's country exported in its file
format (compliance/dnc_screening_files.py), submitted by the compliance officer, and the
service's answer, the numbers to remove, imported into that screening.

- `screening_export`: the numbers of the source's country that the campaign holds now, one file,
  a `Screening` SUBMITTED with its time, count and SHA-256; the file is returned for download
  (it is not stored: the same numbers give the same file, which its SHA-256 proves).
- `screening_answer_import`: the answer's numbers, all or nothing: a line that is no number of
  the source's country, or a number the submitted file did not hold, refuses the whole answer
  with the lines named. The answer is dated by the officer (the day the service produced it):
  not in the future, not before the export. The screening is then ANSWERED, screened on that
  day: from the start of that day in the tenant's time zone, or from the export when the answer
  came the same day (it cannot be older than the file it answers).

A number added to the campaign after a screening's export is not covered by it: the decision
(whether a number may be called) reads `exported_at` for that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.context import names_its_actor
from audit.services import event_record
from kit.refusals import Refused, grouped
from kit.times import tenant_day, zone_of

from ..campaign_files import FILE_MAX_BYTES, read_number_lines
from ..date_window import date_window_error
from ..dnc_models import Campaign, CampaignNumber, Screening, ScreeningRemoval, ScreeningStatus
from ..dnc_numbers import ListNumberReader
from ..dnc_screening_files import ScreeningFormat, screening_format
from ..dnc_sources import DncSource
from .campaigns import REJECTIONS_NAMED, actor_label, refuse_unless_permitted, rejections_named


@dataclass(frozen=True)
class ExportedFile:
    screening: Screening
    content: bytes
    file_name: str


def screening_format_for(campaign: Campaign, source: str) -> ScreeningFormat:
    """The format of `source`'s file for this campaign, or Refused naming the source."""
    found = screening_format(source)
    if found is None:
        label = DncSource(source).label if source in DncSource.values else repr(source)
        raise Refused(
            format_lazy(
                _("{label} is not screened by submitting a file: it is a list Custodia holds"),
                label=label,
            ),
            field="source",
        )
    if source not in (campaign.sources or []):
        raise Refused(
            format_lazy(
                _("{label} does not apply to this campaign (it calls no number of its country)"),
                label=DncSource(source).label,
            ),
            field="source",
        )
    return found


def _numbers_of(campaign: Campaign, country: str, *, until: datetime | None = None):
    numbers = CampaignNumber.objects.filter(campaign=campaign, country=country)
    if until is not None:
        numbers = numbers.filter(added_at__lte=until)
    return numbers


@names_its_actor
@transaction.atomic
def screening_export(*, actor, campaign: Campaign, source: str) -> ExportedFile:
    """The campaign's numbers of `source`'s country as the service takes them, and the
    screening that awaits its answer."""
    refuse_unless_permitted(
        actor, campaign.tenant, "compliance.change_campaign", _("export screening files")
    )
    file_format = screening_format_for(campaign, source)
    # The numbers as of now: an import running at the same time waits, or is not in the file.
    campaign = Campaign.objects.select_for_update().select_related("tenant").get(pk=campaign.pk)
    now = timezone.now()
    numbers = list(
        _numbers_of(campaign, file_format.country, until=now).values_list("number", flat=True)
    )
    if not numbers:
        raise Refused(
            format_lazy(
                _("the campaign holds no number for {label}: nothing to submit"),
                label=DncSource(source).label,
            ),
            field="source",
        )
    content = file_format.file(numbers)
    screening = Screening.objects.create(
        campaign=campaign,
        source=source,
        status=ScreeningStatus.SUBMITTED,
        exported_at=now,
        exported_count=len(numbers),
        export_sha256=hashlib.sha256(content).hexdigest(),
        exported_by=actor_label(actor),
    )
    file_name = file_format.file_name(campaign.name, tenant_day(now, campaign.tenant))
    event_record(
        action="screening.exported",
        tenant=campaign.tenant,
        target=screening,
        extra={
            "campaign": campaign.pk,
            "source": source,
            "numbers": len(numbers),
            "file_name": file_name,
            "file_sha256": screening.export_sha256,
        },
    )
    return ExportedFile(screening=screening, content=content, file_name=file_name)


@names_its_actor
@transaction.atomic
def screening_file_download(*, actor, screening: Screening) -> ExportedFile:
    """The file a screening submitted, again (the first download lost, the service asking for
    it anew): rebuilt from the numbers the campaign held at its export, which the campaign
    never loses, and proved the same by its SHA-256. Another export of the campaign's numbers,
    on the trail as such."""
    campaign = screening.campaign
    refuse_unless_permitted(
        actor, campaign.tenant, "compliance.change_campaign", _("download screening files")
    )
    file_format = screening_format_for(campaign, screening.source)
    numbers = list(
        _numbers_of(campaign, file_format.country, until=screening.exported_at).values_list(
            "number", flat=True
        )
    )
    content = file_format.file(numbers)
    if hashlib.sha256(content).hexdigest() != screening.export_sha256:
        raise Refused(
            _(
                "the campaign's numbers are no longer those this screening submitted: export the "
                "file again for a new screening"
            ),
            field="screening",
            status=409,
        )
    file_name = file_format.file_name(
        campaign.name, tenant_day(screening.exported_at, campaign.tenant)
    )
    event_record(
        action="screening.file_downloaded",
        tenant=campaign.tenant,
        target=screening,
        extra={"campaign": campaign.pk, "source": screening.source, "numbers": len(numbers)},
    )
    return ExportedFile(screening=screening, content=content, file_name=file_name)


def screened_at_for(screening: Screening, screened_on: date) -> datetime:
    """When an answer dated `screened_on` screened the file, or Refused (field "screened_on")
    for a day in the future or before the export."""
    if not isinstance(screened_on, date) or isinstance(screened_on, datetime):
        raise Refused(_("screened_on must be a date"), field="screened_on")
    error = date_window_error(screened_on)
    if error is not None:
        raise Refused(format_lazy(_("screened_on {error}"), error=error), field="screened_on")
    tenant = screening.campaign.tenant
    today = tenant_day(timezone.now(), tenant)
    if screened_on > today:
        raise Refused(
            format_lazy(
                _("the answer's date ({isoformat}) is in the future"),
                isoformat=screened_on.isoformat(),
            ),
            field="screened_on",
        )
    exported_on = tenant_day(screening.exported_at, tenant)
    if screened_on < exported_on:
        raise Refused(
            format_lazy(
                _("the answer's date ({isoformat}) is before the file was exported ({isoformat2})"),
                isoformat=screened_on.isoformat(),
                isoformat2=exported_on.isoformat(),
            ),
            field="screened_on",
        )
    start = timezone.make_aware(datetime.combine(screened_on, time(0, 0)), zone_of(tenant))
    return max(start, screening.exported_at)


def screening_answer_check(*, screening: Screening, data: bytes, screened_on: date) -> datetime:
    """What may be refused before the answer is read (the admin's form asks it too)."""
    if screening.status != ScreeningStatus.SUBMITTED:
        raise Refused(
            _(
                "this screening's answer was already imported: export the file again for a new "
                "screening"
            ),
            field="screening",
            status=409,
        )
    if len(data) > FILE_MAX_BYTES:
        raise Refused(
            format_lazy(
                _("the file is larger than {file_max_bytes} bytes"),
                file_max_bytes=grouped(FILE_MAX_BYTES),
            ),
            field="file",
            status=413,
        )
    return screened_at_for(screening, screened_on)


@names_its_actor
@transaction.atomic
def screening_answer_import(
    *,
    actor,
    screening: Screening,
    data: bytes,
    screened_on: date,
    file_name: str = "",
) -> Screening:
    """Import the service's answer (`data`, the file's bytes: the numbers to remove, one per
    line, in the file's national form) into `screening`: ANSWERED, or Refused naming the lines
    at fault (field "file") with nothing imported."""
    screening = (
        Screening.objects.select_for_update()
        .select_related("campaign__tenant")
        .get(pk=screening.pk)
    )
    campaign = screening.campaign
    refuse_unless_permitted(
        actor, campaign.tenant, "compliance.change_campaign", _("import screening answers")
    )
    screened_at = screening_answer_check(screening=screening, data=data, screened_on=screened_on)
    file_format = screening_format_for(campaign, screening.source)
    country = file_format.country
    reader = ListNumberReader(country=country, default_region=country)
    read = read_number_lines(data, numbers=reader)
    if read.rejections:
        raise Refused(
            format_lazy(
                _("nothing was imported: {value} lines hold no number of {country}: {value2}"),
                value=grouped(len(read.rejections)),
                country=file_format.country,
                value2=rejections_named(read.rejections),
            ),
            field="file",
        )
    removed = list(dict.fromkeys(number for _line, number in read.numbers))
    submitted = set(
        _numbers_of(campaign, country, until=screening.exported_at)
        .filter(number__in=removed)
        .values_list("number", flat=True)
    )
    foreign = [line for line, number in read.numbers if number not in submitted]
    if foreign:
        named = ", ".join(str(line) for line in foreign[:REJECTIONS_NAMED])
        more = len(foreign) - REJECTIONS_NAMED
        if more > 0:
            named = format_lazy(_("{named} and {more} more"), named=named, more=grouped(more))
        raise Refused(
            format_lazy(
                _(
                    "nothing was imported: {count} lines name a number the submitted file did "
                    "not hold (is this the answer to this screening's file?): lines {named}"
                ),
                count=grouped(len(foreign)),
                named=named,
            ),
            field="file",
        )
    ScreeningRemoval.objects.bulk_create(
        [ScreeningRemoval(screening=screening, number=number) for number in removed],
        batch_size=5000,
    )
    screening.status = ScreeningStatus.ANSWERED
    screening.screened_at = screened_at
    screening.answer_file_name = (file_name or "")[:255]
    screening.answer_sha256 = hashlib.sha256(data).hexdigest()
    screening.removed_count = len(removed)
    screening.answered_by = actor_label(actor)
    screening.save(
        update_fields=[
            "status",
            "screened_at",
            "answer_file_name",
            "answer_sha256",
            "removed_count",
            "answered_by",
        ]
    )
    event_record(
        action="screening.answer_imported",
        tenant=campaign.tenant,
        target=screening,
        extra={
            "campaign": campaign.pk,
            "source": screening.source,
            "screened_at": screened_at,
            "submitted": screening.exported_count,
            "removed": len(removed),
            "file_name": screening.answer_file_name,
            "file_sha256": screening.answer_sha256,
        },
    )
    return screening
