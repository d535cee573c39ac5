from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from audit.forwarding.delivery import audit_trail_forward, audit_trails_forward
from audit.models import SiemForwarder


class Command(BaseCommand):
    help = (
        "Send each enabled SIEM forwarder's new audit events to its collector now, from its "
        "cursor (what the beat task does every SIEM_FORWARD_EVERY_SECONDS). Exits 1 when a "
        "collector refused a batch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--forwarder", type=int, help="only this forwarder (its id)")
        parser.add_argument(
            "--now", action="store_true", help="do not wait for the back-off after failures"
        )

    def handle(self, *args, forwarder=None, now=False, **options):
        with acting_as("command:forward_audit_trail"):
            if forwarder is not None:
                if not SiemForwarder.objects.filter(pk=forwarder).exists():
                    raise CommandError(f"--forwarder: no SIEM forwarder {forwarder}")
                results = [audit_trail_forward(forwarder_id=forwarder, ignore_backoff=now)]
            else:
                results = audit_trails_forward(ignore_backoff=now)
        failed = False
        for result in results:
            line = f"forwarder {result.forwarder_id}: {result.status}, {result.delivered} sent"
            if result.error:
                failed = True
                line += f" ({result.error})"
            self.stdout.write(line)
        if failed:
            raise CommandError("a collector refused a batch; it is retried with back-off")
