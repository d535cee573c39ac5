from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from recordings.services.keys import MissingMasterKey, master_key_rotate


class Command(BaseCommand):
    help = (
        "Rewrap every recording's data key under RECORDINGS_MASTER_KEY. Put the old key in "
        "RECORDINGS_PREVIOUS_MASTER_KEYS first; remove it once this command has finished."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            with acting_as("command:rotate_master_key"):
                summary = master_key_rotate(batch_size=batch_size)
        except MissingMasterKey as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{summary.rewrapped} data keys rewrapped under master key {summary.current_key_id}"
        )
