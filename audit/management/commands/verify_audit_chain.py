from __future__ import annotations

import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from audit.services import AuditChainError
from audit.verification import Verification, audit_chain_verify, audit_chain_verify_and_alert

_ANCHOR = re.compile(r"(\d{1,19}):([0-9a-f]{64})")


def anchor(value: str) -> tuple[int, str]:
    """SEQUENCE:HASH, as written in the anchor file (its "anchor" field) and the log."""
    match = _ANCHOR.fullmatch(value.strip().lower())
    if match is None:
        raise CommandError(
            f"--against: {value!r} is not SEQUENCE:HASH (a sequence number, a colon and the "
            "64 hexadecimal digits of that event's hash)"
        )
    return int(match[1]), match[2]


class Command(BaseCommand):
    help = (
        "Re-hash the whole audit chain (the default) or, with --incremental, the events after "
        "the latest signed checkpoint; says which range was re-hashed. Exits 0 when intact, 1 "
        "naming the first broken sequence number. --against SEQUENCE:HASH also checks the chain "
        "against an anchor kept outside the database. --export FILE writes JSON Lines that "
        "audit/chain.py verifies offline."
    )

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--full", action="store_true", help="re-hash every event (the default)")
        scope.add_argument(
            "--incremental",
            action="store_true",
            help="re-hash only the events after the latest signed checkpoint",
        )
        parser.add_argument("--export", type=Path, help="write the chain as JSON Lines to FILE")
        parser.add_argument(
            "--against",
            metavar="SEQUENCE:HASH",
            help="an anchor kept outside the database (from AUDIT_ANCHOR_PATH or the log)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            help="processes for a long stretch of the chain (default: one per CPU; 1: a single "
            "pass)",
        )

    def handle(
        self,
        *args,
        full: bool,
        incremental: bool,
        export: Path | None,
        against: str | None,
        workers: int | None,
        **options,
    ):
        if workers is not None and workers < 1:
            raise CommandError("--workers must be 1 or more")
        anchor_value = anchor(against) if against is not None else None
        if incremental and (anchor_value is not None or export is not None):
            raise CommandError("--incremental cannot be combined with --against or --export")
        try:
            result = self._verify(export, anchor_value, incremental, workers)
        except AuditChainError as error:
            raise CommandError(str(error)) from error
        self._report(result, export, anchor_value)

    def _verify(
        self,
        export: Path | None,
        anchor_value: tuple[int, str] | None,
        incremental: bool,
        workers: int | None,
    ) -> Verification:
        with acting_as("command:verify_audit_chain"):
            if export is not None:
                if not export.parent.is_dir():
                    raise CommandError(f"--export: folder {export.parent} does not exist")
                partial = export.with_name(export.name + ".partial")
                try:
                    with partial.open("w", encoding="utf-8") as stream:
                        result = audit_chain_verify(export=stream, against=anchor_value)
                except BaseException:
                    partial.unlink(missing_ok=True)
                    raise
                if result.intact:
                    partial.replace(export)
                else:
                    partial.unlink()
            else:
                result = audit_chain_verify_and_alert(
                    full=not incremental, workers=workers, against=anchor_value
                )
        return result

    def _report(
        self, result: Verification, export: Path | None, anchor_value: tuple[int, str] | None
    ) -> None:
        self.stdout.write(
            f"{result.describe()}: {result.checked} events in {result.seconds:.2f} s "
            f"({result.rate:,.0f} events/s)"
        )
        if not result.intact:
            self.stderr.write(f"BROKEN at sequence {result.broken_at}: {result.reason}")
            raise SystemExit(1)
        self.stdout.write(f"intact up to sequence {result.last_sequence}")
        if anchor_value is not None:
            self.stdout.write(f"matches the anchor {anchor_value[0]}:{anchor_value[1]}")
        if export is not None:
            self.stdout.write(
                f"exported to {export}; verify with: python3 audit/chain.py {export} "
                "--hmac-key AUDIT_HMAC_KEY"
            )
