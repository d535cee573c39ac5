from django.db import migrations, models

BUILD = (
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "recording_purpose_status" '
    'ON "recordings_recording" ("tenant_id", "purpose_id", "status")'
)
DROP = 'DROP INDEX CONCURRENTLY IF EXISTS "recording_purpose_status"'


class Migration(migrations.Migration):
    # The dashboard counts a tenant's recordings per purpose and status (capped, as the admin
    # list counts them) from this index alone: no other index has the status after the purpose,
    # so a rare status (anonymised rows of a purpose with millions active) meant reading every
    # row of the purpose. Built without blocking ingestion into a large, live table; a build
    # interrupted (an INVALID index) is dropped and built again when the migration runs again.
    atomic = False

    dependencies = [
        ("recordings", "0013_subject_export"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=[
                        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON "
                        "c.oid = i.indexrelid WHERE c.relname = 'recording_purpose_status' "
                        "AND NOT i.indisvalid) THEN EXECUTE 'DROP INDEX recording_purpose_status'; "
                        "END IF; END $$",
                        BUILD,
                    ],
                    reverse_sql=[DROP],
                ),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="recording",
                    index=models.Index(
                        fields=["tenant", "purpose", "status"], name="recording_purpose_status"
                    ),
                ),
            ],
        ),
    ]
