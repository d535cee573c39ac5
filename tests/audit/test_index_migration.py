"""Migration audit 0010 builds the per-action index with the time concurrently, on a live trail,
then drops the old one. A concurrent build that fails leaves its index behind (invalid), and a
drop that fails leaves the new index next to the old: run again, in either direction, the
migration finishes instead of stopping at "relation already exists", and never drops a valid
index it would have to build again (the trail would have neither meanwhile)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader

from audit.services import event_record

pytestmark = pytest.mark.django_db(transaction=True)

MIGRATION = ("audit", "0010_tenant_action_index_with_time")
BEFORE = ("audit", "0009_translated_labels")
NEW = "audit_tenant_action_at"
OLD = "audit_tenant_action_seq"
NEW_SQL = (
    f'CREATE INDEX CONCURRENTLY "{NEW}" ON "audit_auditevent" '
    '("tenant_id", "action", "sequence" DESC) INCLUDE ("occurred_at")'
)
OLD_SQL = (
    f'CREATE INDEX CONCURRENTLY "{OLD}" ON "audit_auditevent" '
    '("tenant_id", "action", "sequence" DESC)'
)


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _oid(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::regclass::oid", [name])
        return cursor.fetchone()[0]


def _indexes() -> dict[str, bool]:
    """The two indexes of the trail that exist, each with whether it is valid."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT index.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class index ON index.oid = i.indexrelid "
            "JOIN pg_class tab ON tab.oid = i.indrelid "
            "WHERE tab.relname = 'audit_auditevent' AND index.relname IN (%s, %s)",
            [NEW, OLD],
        )
        return dict(cursor.fetchall())


def _failed_build_left(name: str) -> None:
    """What a concurrent build that fails leaves: the index, marked invalid."""
    with transaction.atomic():
        for _ in range(2):
            event_record(action="auth.login")
    with pytest.raises(IntegrityError):
        # Two events, one value: the build fails at its end, as any failed build does.
        _execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" ON "audit_auditevent" ((1))')
    assert _indexes()[name] is False


def _migration(*, backwards: bool = False) -> None:
    loader = MigrationLoader(connection)
    migration = loader.get_migration(*MIGRATION)
    state = loader.project_state(BEFORE)
    with connection.schema_editor(atomic=False) as editor:
        if backwards:
            migration.unapply(state, editor)
        else:
            migration.apply(state, editor)


@pytest.fixture(autouse=True)
def _migrated_schema_restored():
    """Whatever a test leaves, the next one finds the schema as migrated."""
    assert _indexes() == {NEW: True}
    yield
    if _indexes() != {NEW: True}:
        _execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{NEW}"')
        _execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{OLD}"')
        _execute(NEW_SQL)


def test_a_build_that_failed_is_built_again_when_migrate_runs_again():
    _execute(f'DROP INDEX CONCURRENTLY "{NEW}"')
    _execute(OLD_SQL)
    _failed_build_left(NEW)
    _migration()
    assert _indexes() == {NEW: True}


def test_a_drop_of_the_old_index_that_failed_is_finished_when_migrate_runs_again():
    built = _oid(NEW)
    _execute(OLD_SQL)
    _migration()
    assert _indexes() == {NEW: True}
    assert _oid(NEW) == built  # kept, not built again


def test_a_finished_run_that_was_not_recorded_changes_nothing_when_run_again():
    built = _oid(NEW)
    _migration()
    assert _indexes() == {NEW: True}
    assert _oid(NEW) == built


def test_a_reversal_that_stopped_part_way_is_finished_when_run_again():
    _failed_build_left(OLD)
    _migration(backwards=True)
    assert _indexes() == {OLD: True}
    _migration()
    assert _indexes() == {NEW: True}
