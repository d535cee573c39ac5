from django.db import migrations, models

NEW = "audit_tenant_action_at"
OLD = "audit_tenant_action_seq"
COLUMNS = '("tenant_id", "action", "sequence" DESC)'
CREATE_NEW = (
    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{NEW}" ON "audit_auditevent" {COLUMNS} '
    'INCLUDE ("occurred_at")'
)
CREATE_OLD = f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{OLD}" ON "audit_auditevent" {COLUMNS}'


def _invalid_dropper(name: str):
    """A concurrent build that fails leaves its index behind, invalid: dropped, so that running
    the migration again builds it instead of stopping at "relation already exists". A valid one
    (a build that finished before a later step failed) is kept: IF NOT EXISTS skips it."""

    def drop(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s AND NOT i.indisvalid",
                [name],
            )
            if cursor.fetchone():
                cursor.execute(f'DROP INDEX CONCURRENTLY "{name}"')

    return drop


class Migration(migrations.Migration):
    # The new index is built, then the old one dropped, without blocking appends to a large,
    # live trail; until the new one is valid, the old one answers. Each step may be run again
    # after a run that stopped part-way, in either direction, and finishes the job.
    atomic = False

    dependencies = [
        ("audit", "0009_translated_labels"),
    ]

    operations = [
        migrations.RunPython(_invalid_dropper(NEW), migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    CREATE_NEW, reverse_sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{NEW}"'
                )
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(
                        fields=["tenant", "action", "-sequence"],
                        include=("occurred_at",),
                        name=NEW,
                    ),
                )
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX CONCURRENTLY IF EXISTS "{OLD}"', reverse_sql=CREATE_OLD
                )
            ],
            state_operations=[migrations.RemoveIndex(model_name="auditevent", name=OLD)],
        ),
        migrations.RunPython(migrations.RunPython.noop, _invalid_dropper(OLD)),
    ]
