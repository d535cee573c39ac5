from django.core.management.base import BaseCommand

from audit.context import acting_as
from recordings.services.integrity import recordings_verify_integrity


class Command(BaseCommand):
    help = "Decrypt and re-hash every active recording; exit 1 if any no longer matches."

    def handle(self, *args, **options):
        with acting_as("command:verify_recording_integrity"):
            report = recordings_verify_integrity()
        self.stdout.write(f"{report.checked} recordings checked")
        for failure in report.failures:
            self.stderr.write(f"recording {failure['recording']}: {failure['problem']}")
        if not report.intact:
            raise SystemExit(1)
        self.stdout.write("every recording matches its SHA-256")
