"""The API's prepared statements (kit.sql.prepared_cursor) survive what a long-running process
meets: a database connection the server dropped, and a migration that changed a column a
prepared statement returns."""

from __future__ import annotations

import pytest
from django.db import close_old_connections, connection

from compliance.services.api_keys import api_key_authenticate, api_key_create

pytestmark = pytest.mark.django_db(transaction=True)


def _other_connection():
    """A connection of its own to the test database, as another process would have."""
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    return raw


def test_a_dropped_connection_is_replaced_before_the_key_is_checked(cast):
    _, token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Recorder")
    assert api_key_authenticate(token) is not None
    backend = connection.connection.info.backend_pid
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    close_old_connections()  # what Django does when a request starts
    key = api_key_authenticate(token)
    assert key is not None and key.tenant_id == cast.acme.pk
    assert connection.connection.info.backend_pid != backend


def test_a_column_changed_by_a_migration_does_not_break_the_prepared_statement(cast):
    _, token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Recorder")
    assert api_key_authenticate(token) is not None  # prepared on this connection now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT character_maximum_length FROM information_schema.columns"
            " WHERE table_name = 'compliance_tenant' AND column_name = 'name'"
        )
        (length,) = cursor.fetchone()
    with _other_connection() as other:
        other.execute(f"ALTER TABLE compliance_tenant ALTER COLUMN name TYPE varchar({length + 1})")
    try:
        key = api_key_authenticate(token)
        assert key is not None and key.tenant.name == "Acme Insurance"
        assert api_key_authenticate(token) is not None
    finally:
        with _other_connection() as other:
            other.execute(f"ALTER TABLE compliance_tenant ALTER COLUMN name TYPE varchar({length})")
        connection.close()  # its statements were prepared against the widened column
