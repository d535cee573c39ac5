"""manage.py import_screening_answer --screening ID --file PATH --screened-on YYYY-MM-DD: a
screening service's answer (the numbers to remove) imported into its screening
(compliance/services/screenings.py), all or nothing."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from audit.context import acting_as
from kit.refusals import Refused

from ...dnc_models import Screening
from ...services.screenings import screening_answer_import

ACTOR = "command:import_screening_answer"


class Command(BaseCommand):
    help = (
        "Import the answer of Bloctel or Lista Robinson into the screening its file opened "
        "(see export_screening_file): the numbers to remove, one per line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--screening", required=True, type=int, help="the screening's id")
        parser.add_argument("--file", required=True, help="the service's answer")
        parser.add_argument(
            "--screened-on", required=True, help="the answer's date (YYYY-MM-DD), as it says"
        )

    def handle(self, *args, screening, file, screened_on, **_):
        found = Screening.objects.select_related("campaign__tenant").filter(pk=screening).first()
        if found is None:
            raise CommandError(f"no screening {screening}")
        day = parse_date(screened_on or "")
        if day is None:
            raise CommandError("--screened-on must be a date, YYYY-MM-DD")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no file at {path}")
        try:
            with acting_as(ACTOR):
                answered = screening_answer_import(
                    actor=ACTOR,
                    screening=found,
                    data=path.read_bytes(),
                    screened_on=day,
                    file_name=path.name,
                )
        except Refused as refusal:
            raise CommandError(str(refusal.message)) from None
        self.stdout.write(
            f"{answered.removed_count} numbers to remove of {answered.exported_count} submitted"
        )
