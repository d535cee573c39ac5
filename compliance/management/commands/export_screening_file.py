"""manage.py export_screening_file --tenant SLUG --campaign NAME --source bloctel --output PATH:
the campaign's file for a screening service (compliance/services/screenings.py), written to
PATH, and its screening awaiting the answer."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from kit.refusals import Refused

from ...services.screenings import screening_export
from ._campaign_arguments import add_campaign_arguments, campaign_named

ACTOR = "command:export_screening_file"


class Command(BaseCommand):
    help = (
        "Export a campaign's numbers for Bloctel (--source bloctel) or Lista Robinson "
        "(--source robinson), one national number per line, and open its screening."
    )

    def add_arguments(self, parser):
        add_campaign_arguments(parser)
        parser.add_argument("--source", required=True, help="bloctel or robinson")
        parser.add_argument(
            "--output", help="where to write the file (default: its own name, here)"
        )

    def handle(self, *args, tenant, campaign, source, output, **_):
        found = campaign_named(tenant, campaign)
        try:
            with acting_as(ACTOR):
                exported = screening_export(actor=ACTOR, campaign=found, source=source)
        except Refused as refusal:
            raise CommandError(str(refusal.message)) from None
        path = Path(output or exported.file_name)
        path.write_bytes(exported.content)
        self.stdout.write(
            f"{exported.screening.exported_count} numbers written to {path} "
            f"(SHA-256 {exported.screening.export_sha256}); screening {exported.screening.pk} "
            "awaits the answer"
        )
