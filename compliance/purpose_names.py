"""Purposes by name where a row keeps only the purpose's code (the audit trail, deletion
certificates, the purge's preview): people read "Quality monitoring", not `quality`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, OuterRef, Q, Subquery

from .models import Purpose, shown_name


class PurposeNames:
    """The names of the purposes of `pairs` ((tenant id or None, code) each), read in one query:
    for a tenant, its own purpose of that code before the platform's (as a code is resolved at
    ingest, PurposeQuerySet.by_code), inactive ones included (a deleted recording's purpose may
    have been retired since). A code no purpose has any more is shown as it is."""

    def __init__(self, pairs: Iterable[tuple[int | None, str]]):
        pairs = [(tenant_id, code) for tenant_id, code in pairs if code]
        self._names: dict[tuple[int | None, str], str] = {}
        if not pairs:
            return
        tenant_ids = {tenant_id for tenant_id, _ in pairs if tenant_id is not None}
        rows = (
            Purpose.objects.filter(code__in={code for _, code in pairs})
            .filter(Q(tenant__isnull=True) | Q(tenant__in=tenant_ids))
            .values_list("tenant_id", "code", "name")
        )
        self._names = {(tenant_id, code): name for tenant_id, code, name in rows}

    def __call__(self, tenant_id: int | None, code: str) -> str:
        if not code:
            return "—"
        name = self._names.get((tenant_id, code)) or self._names.get((None, code))
        return shown_name(name) if name else code


def purpose_name_by_code(*, code: str = "purpose_code", tenant: str = "tenant") -> Subquery:
    """For `.annotate()` over rows that keep a purpose's `code` and a `tenant`: the purpose's
    name, as PurposeNames finds it, within the rows' own query (one statement for a list, not
    one per row). None for a code no purpose has any more."""
    return Subquery(
        Purpose.objects.filter(code=OuterRef(code))
        .filter(Q(tenant__isnull=True) | Q(tenant=OuterRef(tenant)))
        .order_by(F("tenant").asc(nulls_last=True))
        .values("name")[:1]
    )
