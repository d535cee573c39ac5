"""The NUL character ("\\x00") in client input.

PostgreSQL's text types cannot hold it (nor can jsonb, as the escape \\u0000): a query or a row
holding one fails with a DataError, which a view turns into a 500. So client strings are checked
where they enter, and a NUL is refused with a 4xx naming what to fix, before anything is written:
the API's fields and every admin's query string here. Django's form CharFields refuse it already
(ProhibitNullCharactersValidator).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import BadRequest
from django.http import HttpRequest

NUL = "\x00"


def holds_nul(value: object) -> bool:
    return isinstance(value, str) and NUL in value


def first_field_with_nul(fields: Mapping[str, object], names: tuple[str, ...]) -> str | None:
    """The first of `names` whose value in `fields` holds a NUL, if any."""
    return next((name for name in names if holds_nul(fields.get(name))), None)


def without_nul_values(fields: Mapping[str, object]) -> dict[str, object]:
    """`fields` less the values holding a NUL: what a refusal can put on the audit trail."""
    return {name: value for name, value in fields.items() if not holds_nul(value)}


def refuse_nul_in_query_string(request: HttpRequest) -> None:
    """A 400 (BadRequest) when a name or a value of the query string holds a NUL."""
    for name, values in request.GET.lists():
        if holds_nul(name) or any(holds_nul(value) for value in values):
            raise BadRequest(f"The query parameter {name!r} holds a NUL character.")


class RefuseNulInQueryStringAdmin:
    """For every ModelAdmin (TenantScopedAdmin includes it): a NUL anywhere in the query string
    is a 400 rather than PostgreSQL's DataError, a 500, when the rows are read. Every view of
    the rows starts from get_queryset (changelist, list filters, lookups such as ?name=, search,
    the change page, and the autocomplete of any form that picks this model's rows), so it is
    checked there. Django's changelist search form alone would only drop a NUL ?q= with a
    message; the rest would fail."""

    def get_queryset(self, request):
        refuse_nul_in_query_string(request)
        return super().get_queryset(request)
