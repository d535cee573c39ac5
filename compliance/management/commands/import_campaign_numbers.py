"""manage.py import_campaign_numbers --tenant SLUG --campaign NAME --file PATH: a file of numbers
added to a campaign (compliance/services/campaigns.py::campaign_numbers_import), all or nothing.
Exits 1 with one line naming the rejected lines when the file is refused."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from kit.refusals import Refused

from ...services.campaigns import campaign_numbers_import
from ._campaign_arguments import add_campaign_arguments, campaign_named

ACTOR = "command:import_campaign_numbers"


class Command(BaseCommand):
    help = (
        "Add the numbers of a file (one per line, or a CSV whose header names its number "
        "column; UTF-8, Latin-1 or UTF-16) to a campaign. A file with rejected lines adds "
        "nothing unless --max-rejected allows that many."
    )

    def add_arguments(self, parser):
        add_campaign_arguments(parser)
        parser.add_argument("--file", required=True, help="the file of numbers")
        parser.add_argument("--max-rejected", type=int, default=0, help="default 0")

    def handle(self, *args, tenant, campaign, file, max_rejected, **_):
        found = campaign_named(tenant, campaign)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no file at {path}")
        try:
            with acting_as(ACTOR):
                result = campaign_numbers_import(
                    actor=ACTOR,
                    campaign=found,
                    data=path.read_bytes(),
                    file_name=path.name,
                    max_rejected=max_rejected,
                )
        except Refused as refusal:
            raise CommandError(str(refusal.message)) from None
        self.stdout.write(
            f"{result.added} numbers added, {result.duplicates} already there, "
            f"{result.rejected} rejected lines skipped; lists that apply: "
            f"{', '.join(result.sources)}"
        )
        for rejection in result.rejections:
            self.stdout.write(f"  line {rejection.line}: {rejection.reason}")
