from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # recording_tenant_expiry gains the purpose and the deletion reason (INCLUDE), so that the
    # purge preview counts a tenant's expired recordings per purpose and reason from the index
    # alone. Built beside the old one without blocking ingestion into a large, live table, then
    # the old one dropped and the new one given its name (a catalogue change).
    atomic = False

    dependencies = [
        ("compliance", "0009_role_groups_from_memberships"),
        ("recordings", "0008_accessgrant_first_played_at"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="recording",
            index=models.Index(
                condition=models.Q(("status", "active")),
                fields=["tenant", "retain_until", "id"],
                include=("purpose", "deletion_reason"),
                name="recording_tenant_expiry_new",
            ),
        ),
        RemoveIndexConcurrently(model_name="recording", name="recording_tenant_expiry"),
        migrations.RenameIndex(
            model_name="recording",
            new_name="recording_tenant_expiry",
            old_name="recording_tenant_expiry_new",
        ),
    ]
