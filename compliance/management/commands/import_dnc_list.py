"""manage.py import_dnc_list --source S --file PATH: a new version of a full do-not-call list
(compliance/services/dnc_lists.py), with its progress on the terminal. Exits 1 with one line
when the import is refused or fails (the version in force stays)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.context import acting_as
from kit.refusals import Refused

from ...dnc_models import DncList
from ...dnc_sources import DncSource
from ...models import Tenant
from ...services.dnc_lists import DncImportFailed, dnc_list_import, full_list_rule


class Command(BaseCommand):
    help = (
        "Import a full do-not-call list (TPS, CTPS, a tenant's internal opt-outs) from a file: "
        "one number per line, or a CSV whose header names its number column. The new version "
        "replaces the one in force only once it is whole. A file with rejected lines is refused "
        "unless --max-rejected allows that many."
    )

    def add_base_argument(self, parser, *args, **kwargs):
        if "--version" in args:
            return  # here --version is the list's version, not Django's
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help=", ".join(DncSource.values))
        parser.add_argument("--file", required=True, help="the list's file")
        parser.add_argument("--tenant", help="the tenant's slug (its internal list only)")
        parser.add_argument(
            "--version",
            dest="list_version",
            help="the list's version, as its provider names it (default: its delivery date)",
        )
        parser.add_argument(
            "--delivered-at",
            help=(
                "when the provider produced the list (YYYY-MM-DD or an ISO 8601 date-time); "
                "required for a list that goes stale, whose age runs from it"
            ),
        )
        parser.add_argument(
            "--max-rejected",
            type=int,
            default=0,
            help="rejected lines accepted (reported) before the file is refused; default 0",
        )

    def handle(self, *args, source, file, tenant, list_version, delivered_at, max_rejected, **_):
        try:
            rule = full_list_rule(source)
        except Refused as refusal:
            raise CommandError(refusal.message) from None
        owner = self._tenant(tenant) if tenant else None
        delivered = self._delivered_at(delivered_at, rule.max_age_days, source, owner)
        version = list_version or timezone.localtime(delivered, _zone(owner)).date().isoformat()
        self.stdout.write(
            f"importing {rule.label} version {version} from {file} "
            f"({'tenant ' + owner.slug if owner else 'platform-wide'})"
        )
        try:
            with acting_as("command:import_dnc_list"):
                dnc_list = dnc_list_import(
                    actor=None,
                    source=source,
                    tenant=owner,
                    path=file,
                    version=version,
                    delivered_at=delivered,
                    max_rejected=max_rejected,
                    on_progress=self._progress,
                )
        except DncImportFailed as failed:
            self._end_progress_line()
            raise CommandError(f"refused: {failed.message}") from None
        except Refused as refusal:
            raise CommandError(f"refused ({refusal.field}): {refusal.message}") from None
        self._end_progress_line()
        count = dnc_list.rejected_count
        rejected = f", {count:,} rejected lines" if count else ""
        self.stdout.write(
            f"{rule.label} version {dnc_list.version} in force: {dnc_list.entry_count:,} numbers "
            f"from {dnc_list.lines_read:,} lines{rejected}"
        )
        for item in dnc_list.rejected_lines:
            self.stdout.write(f"  rejected line {item['line']}: {item['reason']}")

    def _tenant(self, slug: str) -> Tenant:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        return tenant

    @staticmethod
    def _delivered_at(text: str | None, max_age_days, source: str, tenant) -> datetime:
        if not text:
            if max_age_days is not None:
                raise CommandError(
                    f"--delivered-at is required for {source}: its freshness "
                    f"({max_age_days} days) runs from when the provider produced the list"
                )
            return timezone.now()
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                raise CommandError(
                    f"--delivered-at {text!r}: give YYYY-MM-DD or an ISO 8601 date-time"
                )
            moment = datetime.combine(day, time(0, 0))
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, _zone(tenant))
        return moment

    def _progress(self, dnc_list: DncList) -> None:
        step = "indexing and swapping in" if dnc_list.progress >= 100 else "reading"
        line = (
            f"{step}: {dnc_list.progress:3d}% ({dnc_list.lines_read:,} lines, "
            f"{dnc_list.entry_count:,} numbers)"
        )
        if not self.stdout.isatty():
            self.stdout.write(line)  # a log: one line each time
            return
        self.stdout.write(f"\r{line}", ending="")
        self.stdout.flush()
        self._open_line = True

    def _end_progress_line(self) -> None:
        if getattr(self, "_open_line", False):
            self.stdout.write("")
            self._open_line = False


def _zone(tenant) -> ZoneInfo:
    return ZoneInfo(getattr(tenant, "time_zone", "") or settings.TIME_ZONE)
