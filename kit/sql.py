"""Hand-written SQL for the few hot paths where the ORM's per-query work is the cost.

On a busy API (the recorder pushing calls), building and compiling a queryset costs several times
what PostgreSQL spends answering it. These helpers keep the model as the single description of
the table (columns come from `_meta`, values are prepared by the fields themselves, instances are
built with `Model.from_db`), and cache the SQL text per model, so that a hot path writes the
statement's shape once and nothing about the table twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import NotSupportedError, connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model


class _PreparedCursorWrapper(CursorWrapper):
    """Django's cursor wrapper around a server-binding cursor, which survives a migration that
    changed a column the statement returns since it was prepared. PostgreSQL then refuses to run
    the prepared statement ("cached plan must not change result type") on that connection until
    it is deallocated; psycopg only forgets its prepared statements on a rollback, which a
    statement run outside a transaction never causes, so every call would fail until the
    connection ended. Outside a transaction, the connection is replaced and the statement runs
    again once; inside one, the error rolls the transaction back, and with it psycopg's cache."""

    def execute(self, sql, params=None):
        try:
            return super().execute(sql, params)
        except NotSupportedError as error:
            if self.db.in_atomic_block or "cached plan must not change result type" not in str(
                error
            ):
                raise
        self.db.close()
        self.cursor = _server_binding_cursor()
        return super().execute(sql, params)


def _server_binding_cursor() -> ServerBindingCursor:
    connection.close_if_health_check_failed()  # as Django's own cursor() does
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return ServerBindingCursor(connection.connection)


def prepared_cursor() -> CursorWrapper:
    """A cursor for a statement that runs on every API call: its parameters are bound by the
    server, and PostgreSQL parses and plans it once per connection, on first use, then only
    executes it (planning is most of the cost of a small statement: 0.44 against 0.10 ms for the
    upload's lookup on the development machine). Django's own cursors bind on the client side and
    never prepare. With DATABASE_PREPARED_STATEMENTS off, the statements are not prepared.
    The cursor is Django's wrapper, so execute wrappers still see the statements. While queries
    are logged (DEBUG, CaptureQueriesContext, the debug toolbar) it is Django's usual cursor:
    psycopg keeps no text of a statement it runs as prepared, and the log would show None."""
    if connection.queries_logged:
        return connection.cursor()
    cursor = _server_binding_cursor()
    connection.validate_thread_sharing()
    return _PreparedCursorWrapper(cursor, connection)


@cache
def _fields(model: type[Model]) -> tuple[Field, ...]:
    return tuple(model._meta.concrete_fields)


def select_list(model: type[Model], alias: str) -> str:
    """`alias."col1", alias."col2", ...`: every concrete column, in `from_row`'s order."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in _fields(model))


def column_count(model: type[Model]) -> int:
    return len(_fields(model))


def from_row(model: type[Model], values: Sequence) -> Model:
    """An instance from the values of `select_list(model, ...)`, as a queryset would build it."""
    return model.from_db(connection.alias, _attnames(model), values)


@cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in _fields(model))


@cache
def _insert_sql(model: type[Model], conflict: tuple[str, ...]) -> tuple[str, tuple[Field, ...]]:
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = tuple(field for field in _fields(model) if field is not pk)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # nosec B608 # model metadata
    if conflict:
        target = ", ".join(quote(model._meta.get_field(name).column) for name in conflict)
        sql += f" ON CONFLICT ({target}) DO NOTHING"
    return f"{sql} RETURNING {quote(pk.column)}", fields


@cache
def _insert_with_history_sql(
    model: type[Model], history_model: type[Model], conflict: tuple[str, ...]
) -> tuple[str, tuple[Field, ...], tuple[str, ...]]:
    """The row's INSERT, and the history row's INSERT copying the row's own columns from what the
    first one inserted; only the history's own fields (history_date, _type, _user, ...) are
    parameters, in the order of the returned attnames."""
    quote = connection.ops.quote_name
    insert_sql, fields = _insert_sql(model, conflict)
    copied = {field.attname for field in _fields(model)}
    columns, values, own = [], [], []
    for field in _fields(history_model):
        if field is history_model._meta.pk:
            continue
        columns.append(quote(field.column))
        if field.attname in copied:
            values.append(f"inserted.{quote(model._meta.get_field(field.name).column)}")
        else:
            values.append("%s")
            own.append(field.attname)
    sql = (
        f"WITH inserted AS ({insert_sql.rsplit(' RETURNING ', 1)[0]} RETURNING *) "
        f"INSERT INTO {quote(history_model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM inserted "
        f"RETURNING {quote(model._meta.pk.column)}"  # nosec B608 # model metadata
    )
    return sql, fields, tuple(own)


def insert_with_history(
    instance: Model,
    history: dict[str, object],
    *,
    on_conflict_do_nothing: tuple[str, ...] = (),
) -> bool:
    """INSERT one new row and its django-simple-history row in one statement, the way `save()`
    of a new instance and the history's post_save would: each field's `pre_save` (auto_now_add)
    and database preparation, without the queryset machinery and without model signals. The
    history row copies the inserted row's columns in SQL; `history` gives its own fields by
    attname (history_date, history_type, history_user_id, history_change_reason).
    Sets the instance's primary key and returns True; returns False, and inserts nothing, when
    `on_conflict_do_nothing` (a unique constraint's fields) finds the row exists."""
    sql, fields, own = _insert_with_history_sql(
        type(instance), _history_model(type(instance)), on_conflict_do_nothing
    )
    parameters = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    parameters += [history[attname] for attname in own]
    with prepared_cursor() as cursor:
        cursor.execute(sql, parameters)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True


@cache
def _history_model(model: type[Model]) -> type[Model]:
    """The model's django-simple-history model. Cached: reading it through the history attribute
    builds a new manager class each time (inspect.getmembers over the queryset), about a third of
    a millisecond per upload."""
    return getattr(model, model._meta.simple_history_manager_attribute).model
