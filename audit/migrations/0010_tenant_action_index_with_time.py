from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

# Left by an earlier run of this migration that stopped part-way (a concurrent build that fails
# leaves its index behind, invalid; a build that succeeded before the old index's drop failed
# leaves it valid): dropped first, so that running `migrate` again finishes the job instead of
# stopping at "relation already exists". On a first run, nothing to drop.
NEW_INDEX_LEFT = 'DROP INDEX CONCURRENTLY IF EXISTS "audit_tenant_action_at"'
OLD_INDEX_LEFT = 'DROP INDEX CONCURRENTLY IF EXISTS "audit_tenant_action_seq"'


class Migration(migrations.Migration):
    # The new index is built, then the old one dropped, without blocking appends to a large,
    # live trail; until the new one is valid, the old one answers.
    atomic = False

    dependencies = [
        ("audit", "0009_translated_labels"),
    ]

    operations = [
        migrations.RunSQL(NEW_INDEX_LEFT, reverse_sql=migrations.RunSQL.noop),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(
                fields=["tenant", "action", "-sequence"],
                include=("occurred_at",),
                name="audit_tenant_action_at",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="auditevent",
            name="audit_tenant_action_seq",
        ),
        # Backwards, the same for the old index that a stopped reversal left.
        migrations.RunSQL(migrations.RunSQL.noop, reverse_sql=OLD_INDEX_LEFT),
    ]
