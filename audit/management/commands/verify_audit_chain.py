from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from audit.services import audit_chain_verify, audit_chain_verify_and_alert


class Command(BaseCommand):
    help = (
        "Recompute the audit chain. Exits 0 when intact, 1 naming the first broken sequence "
        "number. --export FILE writes JSON Lines that audit/chain.py verifies offline."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="ignore checkpoints")
        parser.add_argument("--export", type=Path, help="write the chain as JSON Lines to FILE")
        parser.add_argument(
            "--workers",
            type=int,
            help="processes for a long stretch of the chain (default: one per CPU; 1: a single "
            "pass)",
        )

    def handle(self, *args, full: bool, export: Path | None, workers: int | None, **options):
        if workers is not None and workers < 1:
            raise CommandError("--workers must be 1 or more")
        with acting_as("command:verify_audit_chain"):
            if export is not None:
                if not export.parent.is_dir():
                    raise CommandError(f"--export: folder {export.parent} does not exist")
                partial = export.with_name(export.name + ".partial")
                with partial.open("w", encoding="utf-8") as stream:
                    result = audit_chain_verify(export=stream)
                if result.intact:
                    partial.replace(export)
                else:
                    partial.unlink()
            else:
                result = audit_chain_verify_and_alert(full=full, workers=workers)
        start = f" from checkpoint #{result.checkpoint_used}" if result.checkpoint_used else ""
        self.stdout.write(
            f"{result.checked} events checked{start} in {result.seconds:.2f} s "
            f"({result.rate:,.0f} events/s)"
        )
        if not result.intact:
            self.stderr.write(f"BROKEN at sequence {result.broken_at}: {result.reason}")
            raise SystemExit(1)
        self.stdout.write(f"intact up to sequence {result.last_sequence}")
        if export is not None:
            self.stdout.write(f"exported to {export}; verify with: python3 audit/chain.py {export}")
