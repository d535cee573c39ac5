from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from recordings.services.purge.preview import preview_named
from recordings.services.purge.run import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_WORKERS,
    purge_expired_recordings,
)


class Command(BaseCommand):
    help = (
        "Delete every expired recording not under legal hold, with a signed certificate for "
        "each. --dry-run shows what would be deleted, per tenant and purpose."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="show, delete nothing")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--workers",
            type=int,
            default=DEFAULT_WORKERS,
            help="database connections running a tenant's batches at once",
        )

    def handle(self, *args, dry_run: bool, batch_size: int, workers: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        with acting_as("command:purge_expired_recordings"):
            run = purge_expired_recordings(
                batch_size=batch_size, dry_run=dry_run, triggered_by="manage.py", workers=workers
            )
        if dry_run:
            # The dry run's own preview, as recorded on its PurgeRun (computed once).
            self._print_preview(run.preview)
            self.stdout.write("dry run: nothing was deleted")
            return
        self.stdout.write(
            f"purge run {run.pk}: {run.purged} purged, {run.skipped_held} kept by legal holds, "
            f"{run.failed} failed, {run.files_removed} files removed"
        )
        for error in run.errors:
            self.stderr.write(str(error))
        if run.failed:
            raise SystemExit(1)

    def _print_preview(self, rows):
        if not rows:
            self.stdout.write("nothing has expired")
        for row in preview_named(rows):
            self.stdout.write(
                f"{row['tenant']}: {row['purpose']} ({row['reason']}): "
                f"{row['to_delete']} to delete, {row['held_back']} kept by legal holds, "
                f"{row.get('restricted', 0)} kept by restrictions (GDPR Art. 18)"
            )
