"""Whether a person may act on one tenant's alerts and incidents.

The rule (the role held *in that tenant* must carry the permission) is compliance's, which owns
the roles (`compliance/roles.py::tenant_permits`); audit imports no domain app, so compliance
registers its rule here when it starts (`compliance/apps.py`), as recordings registers its keyed
records (audit.keys). Until a rule is registered only platform operators may act.
"""

from __future__ import annotations

from collections.abc import Callable

_rule: list[Callable[[object, int | None, str], bool]] = []


def tenant_rule_register(rule: Callable[[object, int | None, str], bool]) -> None:
    """Called once by compliance's app config with `tenant_permits(user, tenant_id, perm)`."""
    _rule[:] = [rule]


def tenant_permits(user, tenant_id: int | None, permission: str) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    if _rule:
        return _rule[0](user, tenant_id, permission)
    return bool(user.is_superuser)
