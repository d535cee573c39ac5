from django.core.management.base import BaseCommand

from recordings.models import DeletionCertificate
from recordings.services.purge.verification import deletion_certificates_verify


class Command(BaseCommand):
    help = "Check every deletion certificate's signature and that no certified audio remains."

    def handle(self, *args, **options):
        problems = deletion_certificates_verify()
        self.stdout.write(f"{DeletionCertificate.objects.count()} certificates checked")
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise SystemExit(1)
        self.stdout.write("every certificate verifies and no certified audio remains")
