from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from audit.keys import MissingAuditKey
from audit.rotation import audit_key_rotate
from audit.services import AuditChainError


class Command(BaseCommand):
    help = (
        "Start using a new AUDIT_HMAC_KEY: put the new key in AUDIT_HMAC_KEY and the old one in "
        "AUDIT_HMAC_PREVIOUS_KEYS, then run this. It checks that every key id in use has its "
        "key, verifies the whole chain, stores a checkpoint signed with the new key, and counts "
        "what each key made. Keep previous keys listed while anything they made is kept."
    )

    def handle(self, *args, **options):
        try:
            with acting_as("command:rotate_audit_key"):
                rotation = audit_key_rotate()
        except (MissingAuditKey, AuditChainError) as error:
            raise CommandError(str(error)) from error
        verification = rotation.verification
        self.stdout.write(
            f"chain intact ({verification.describe()}); checkpoint "
            f"{verification.checkpoint_stored} signed with key {rotation.current_key_id}"
        )
        for label, by_key in rotation.counts.items():
            for key_id, count in sorted(by_key.items()):
                name = key_id or "none (unkeyed, before the seal)"
                current = " (current)" if key_id == rotation.current_key_id else ""
                self.stdout.write(f"{label}: {count} with key {name}{current}")
