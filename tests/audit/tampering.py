"""Changing the trail as a database administrator would (the triggers that keep it append-only
switched off, an edit, switched back on): what the chain's verification must then find."""

from __future__ import annotations

from django.db import connection

AUDIT_TABLES = ("audit_auditevent", "audit_checkpoint", "audit_chainhead")


def tamper(*statements: tuple[str, list] | str, tables: tuple[str, ...] = AUDIT_TABLES) -> None:
    """Run each statement (SQL, or SQL with its parameters) with the tables' triggers off."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            sql, params = (statement, []) if isinstance(statement, str) else statement
            cursor.execute(sql, params)
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
