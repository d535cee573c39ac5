from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.alerts.engine import CHUNK_SIZE, alert_rules_evaluate
from audit.alerts.rules import TRAIL_RULES
from audit.context import acting_as


def chunk_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise CommandError(f"--chunk-size: {value!r} is not a whole number of events of at least 1")
    return size


class Command(BaseCommand):
    help = (
        "Evaluate the alert rules over the audit events appended since their last run (what the "
        "beat task audit.tasks.evaluate_alert_rules does). Exits 1 naming a rule that failed: "
        "its events stay to be evaluated by the next run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rule",
            action="append",
            choices=[rule.code for rule in TRAIL_RULES],
            help="evaluate only this rule (repeatable)",
        )
        parser.add_argument(
            "--chunk-size",
            type=chunk_size,
            default=CHUNK_SIZE,
            help=f"events read per transaction (default {CHUNK_SIZE})",
        )

    def handle(self, *args, rule, chunk_size, **options):
        with acting_as("command:evaluate_alert_rules"):
            result = alert_rules_evaluate(chunk_size=chunk_size, only=rule)
        self.stdout.write(
            f"read {result.events_read} events; {result.raised} alerts raised, "
            f"{result.merged} merged into open ones"
        )
        if result.failed:
            failures = "; ".join(f"{code}: {error}" for code, error in result.failed.items())
            raise CommandError(f"rules failed (retried by the next run): {failures}")
