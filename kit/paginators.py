"""Paginators for admin lists of tables that grow without bound."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator

CAPPED_COUNT = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most CAPPED_COUNT + 1 rows, so that a page of a huge table costs a small,
    bounded query; past the cap the admin shows "10000+"-like totals and the last pages are
    reached by narrowing the filters."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: CAPPED_COUNT + 1].count()
