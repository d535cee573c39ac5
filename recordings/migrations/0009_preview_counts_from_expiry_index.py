from django.db import migrations, models

TABLE = '"recordings_recording"'
COLUMNS = '("tenant_id", "retain_until", "id")'
ACTIVE = "WHERE \"status\" = 'active'"


def _swap(build: str, definition: str) -> list[str]:
    """Build `build` beside the live index without blocking writes, then drop the live one and
    give the new one its name. Every step can run again after an interruption: a leftover of an
    earlier attempt (an INVALID index left by a failed CREATE INDEX CONCURRENTLY, or a built one
    never renamed) is dropped first, and a missing live index is no error."""
    return [
        f'DROP INDEX CONCURRENTLY IF EXISTS "{build}"',
        f'CREATE INDEX CONCURRENTLY "{build}" ON {TABLE} {definition}',
        'DROP INDEX CONCURRENTLY IF EXISTS "recording_tenant_expiry"',
        f'ALTER INDEX "{build}" RENAME TO "recording_tenant_expiry"',
    ]


class Migration(migrations.Migration):
    # recording_tenant_expiry gains the purpose and the deletion reason (INCLUDE), so that the
    # purge preview counts a tenant's expired recordings per purpose and reason from the index
    # alone. Built beside the old one without blocking ingestion into a large, live table, then
    # the old one dropped and the new one given its name (a catalogue change). Written as SQL so
    # that a run interrupted at any step (a long build on a large table) can simply run again.
    atomic = False

    dependencies = [
        ("compliance", "0009_role_groups_from_memberships"),
        ("recordings", "0008_accessgrant_first_played_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=_swap(
                        "recording_tenant_expiry_new",
                        f'{COLUMNS} INCLUDE ("purpose_id", "deletion_reason") {ACTIVE}',
                    ),
                    reverse_sql=_swap("recording_tenant_expiry_old", f"{COLUMNS} {ACTIVE}"),
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="recording", name="recording_tenant_expiry"),
                migrations.AddIndex(
                    model_name="recording",
                    index=models.Index(
                        condition=models.Q(("status", "active")),
                        fields=["tenant", "retain_until", "id"],
                        include=("purpose", "deletion_reason"),
                        name="recording_tenant_expiry",
                    ),
                ),
            ],
        ),
    ]
