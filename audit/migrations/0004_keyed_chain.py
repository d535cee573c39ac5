"""The keyed chain (hash scheme 2) and append-only, numbered, chained checkpoints.

Existing events keep scheme 1 (key id ""): they stay verifiable, and the *seal* written here
(checkpoint 1, signed with AUDIT_HMAC_KEY at the current head) is what makes them acceptable,
up to its sequence only: a scheme-1 event after it is refused as a downgrade (audit/chain.py).
Checkpoints written before this migration were unnumbered and deletable; each one that still
verifies is checked against the chain first (a chain cut back since then stops the migration),
then they are replaced by the seal. PostgreSQL then refuses UPDATE, DELETE and TRUNCATE on
checkpoints, as migration 0002 does for events.
"""

from django.conf import settings
from django.db import migrations, models

from audit.chain import (
    GENESIS_HASH,
    SEAL,
    format_instant,
    key_id_of,
    legacy_checkpoint_signature,
    sign_checkpoint,
)

APPEND_ONLY = """
CREATE TRIGGER audit_checkpoint_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_no_truncate
    BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""
NOT_APPEND_ONLY = """
DROP TRIGGER audit_checkpoint_no_truncate ON audit_checkpoint;
DROP TRIGGER audit_checkpoint_no_update_delete ON audit_checkpoint;
"""


def _head(schema_editor) -> tuple[int, str]:
    with schema_editor.connection.cursor() as cursor:
        # Appends wait until the seal is written: no scheme-1 event may slip in after it.
        cursor.execute("SELECT sequence, hash FROM audit_chainhead WHERE id = 1 FOR UPDATE")
        row = cursor.fetchone()
    return row or (0, GENESIS_HASH)


def replace_legacy_checkpoints(apps, schema_editor):
    checkpoint_model = apps.get_model("audit", "Checkpoint")
    event_model = apps.get_model("audit", "AuditEvent")
    head_sequence, _ = _head(schema_editor)
    key = settings.AUDIT_HMAC_KEY
    for checkpoint in checkpoint_model.objects.order_by("sequence"):
        expected = legacy_checkpoint_signature(
            key, checkpoint.sequence, checkpoint.hash, format_instant(checkpoint.created_at)
        )
        if expected != checkpoint.signature:
            continue  # never trusted (another key): nothing to carry over
        stored = event_model.objects.filter(sequence=checkpoint.sequence).values_list(
            "hash", flat=True
        )
        if checkpoint.sequence > head_sequence or list(stored) != [checkpoint.hash]:
            raise RuntimeError(
                f"the audit chain no longer matches its signed checkpoint at event "
                f"{checkpoint.sequence}: it was cut back or rewritten. Investigate (run "
                "verify_audit_chain --full with the previous release) before migrating."
            )
    checkpoint_model.objects.all().delete()


def write_seal(apps, schema_editor):
    """Checkpoint 1, the seal, when there are scheme-1 events to vouch for."""
    from django.utils import timezone

    from audit.anchors import anchor_write

    head_sequence, head_hash = _head(schema_editor)
    if head_sequence == 0:
        return  # a new chain: every event will be keyed, none needs the seal
    key = settings.AUDIT_HMAC_KEY
    fields = {
        "number": 1,
        "kind": SEAL,
        "sequence": head_sequence,
        "hash": head_hash,
        "created_at": timezone.now(),
        "key_id": key_id_of(key),
        "previous_signature": "",
    }
    signed = {**fields, "created_at": format_instant(fields["created_at"])}
    signature = sign_checkpoint(
        key,
        number=1,
        kind=SEAL,
        sequence=head_sequence,
        chain_hash=head_hash,
        created_at=signed["created_at"],
        key_id=fields["key_id"],
        previous_signature="",
    )
    apps.get_model("audit", "Checkpoint").objects.create(**fields, signature=signature)
    anchor_write({**signed, "signature": signature})


def refuse_to_drop_key_ids(apps, schema_editor):
    """Going back would drop the key ids: keyed events would then read as unkeyed and never
    verify again. Only a chain with no keyed event may go back."""
    event_model = apps.get_model("audit", "AuditEvent")
    if event_model.objects.exclude(key_id="").exists():
        raise RuntimeError(
            "the audit chain has keyed events, which the previous release cannot verify: "
            "migration audit 0004 cannot be reversed"
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_tenant_scoped_indexes")]

    operations = [
        migrations.RunPython(replace_legacy_checkpoints, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="checkpoint",
            options={"get_latest_by": "number", "ordering": ("-number",)},
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="checkpoint",
            name="number",
            field=models.BigIntegerField(unique=True, default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="checkpoint",
            name="kind",
            field=models.CharField(
                choices=[
                    ("seal", "Seal of the events hashed before keys"),
                    ("verified", "Chain verified"),
                    ("rotation", "Audit key rotated"),
                ],
                default="verified",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="checkpoint",
            name="key_id",
            field=models.CharField(default="", max_length=16),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="checkpoint",
            name="previous_signature",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(write_seal, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY, NOT_APPEND_ONLY),
        migrations.RunPython(migrations.RunPython.noop, refuse_to_drop_key_ids),
    ]
