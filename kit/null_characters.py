"""The NUL character ("\\x00") and lone surrogates in client input.

PostgreSQL's text types cannot hold a NUL (nor can jsonb, as the escape \\u0000): a query or a
row holding one fails with a DataError, which a view turns into a 500. Nor can they hold a lone
surrogate (U+D800 to U+DFFF), which is no character at all and cannot be encoded to UTF-8, yet
reaches Python from valid JSON ("\\ud800") or from a form whose declared charset decodes to one
(unicode_escape). So client strings are checked where they enter, and either is refused with a
4xx naming what to fix, before anything is written: the API's fields and every admin's query
string here. Django's form CharFields refuse a NUL already (ProhibitNullCharactersValidator); a
form's text is decoded with errors replaced, so it holds no lone surrogate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .limits import QUERY_STRING_VALUE

NUL = "\x00"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def holds_nul(value: object) -> bool:
    return isinstance(value, str) and NUL in value


def unstorable(value: object) -> str | Promise | None:
    """What in `value` PostgreSQL cannot store, in words for an error message (in the reader's
    language); None if nothing (or if it is no string)."""
    if not isinstance(value, str):
        return None
    if NUL in value:
        return _("NUL characters")
    if _LONE_SURROGATE.search(value):
        return _("lone surrogates (\\ud800 to \\udfff): it is not valid Unicode text")
    return None


def first_unstorable_field(
    fields: Mapping[str, object], names: tuple[str, ...]
) -> tuple[str, str | Promise] | None:
    """The first of `names` whose value in `fields` cannot be stored, with what it holds."""
    for name in names:
        problem = unstorable(fields.get(name))
        if problem is not None:
            return name, problem
    return None


def storable_values(fields: Mapping[str, object]) -> dict[str, object]:
    """`fields` less the values that cannot be stored: what a refusal can put on the trail."""
    return {name: value for name, value in fields.items() if unstorable(value) is None}


def refuse_nul_in_query_string(request: HttpRequest) -> None:
    """A 400 (BadRequest) when a name or a value of the query string holds a NUL, or is longer
    than any search term or filter value a person types (limits.QUERY_STRING_VALUE): thousands
    of digits overflow Python's int conversion in an id filter."""
    for name, values in request.GET.lists():
        if holds_nul(name) or any(holds_nul(value) for value in values):
            raise BadRequest(f"The query parameter {name!r} holds a NUL character.")
        if len(name) > QUERY_STRING_VALUE or any(len(v) > QUERY_STRING_VALUE for v in values):
            raise BadRequest(
                f"The query parameter {name[:40]!r} is longer than {QUERY_STRING_VALUE} characters."
            )


class RefuseNulInQueryStringAdmin:
    """For every ModelAdmin (TenantScopedAdmin includes it): a NUL anywhere in the query string,
    or an overlong value, is a 400 rather than a 500 when the rows are read (PostgreSQL's
    DataError, Python's int conversion). Every view of the rows starts from get_queryset
    (changelist, list filters, lookups such as ?name=, search, the change page, and the
    autocomplete of any form that picks this model's rows), so it is checked there. Django's
    changelist search form alone would only drop a NUL ?q= with a message; the rest would fail."""

    def get_queryset(self, request):
        refuse_nul_in_query_string(request)
        return super().get_queryset(request)
