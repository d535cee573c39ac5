"""The apps depend on each other one way (docs/architecture.md, direction of dependencies).

Every Python file of the project's packages (migrations aside: they name other apps' models by
design) is parsed with `ast`, and every import in it, at module level or inside a function, every
`apps.get_model("app", ...)` and every Celery task sent by name is checked against the direction.
A reach against it fails the test naming file:line, unless it is one of the deliberate seams
listed below with the reason it stays.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# What each package may reach besides itself. The site (portal) sits on top and may import
# every app; no package may import the site or the development tooling.
MAY_REACH: dict[str, frozenset[str]] = {
    "kit": frozenset(),
    "audit": frozenset({"kit"}),
    "compliance": frozenset({"audit", "kit"}),
    "recordings": frozenset({"compliance", "audit", "kit"}),
    # Sign-in defences record on the trail and use the admin's base class (compliance.tenancy).
    "signin": frozenset({"compliance", "audit", "kit"}),
    "portal": frozenset({"recordings", "compliance", "audit", "signin", "kit"}),
    "devtools": frozenset(),
}

# Deliberate seams: (file, package reached) -> why it stays. Each is described in
# docs/architecture.md ("Deliberate seams"); a new entry needs a reason there too.
SEAMS: dict[tuple[str, str], str] = {
    # The trail's admin pages are scoped by tenant and searched by phone number, rules that
    # compliance owns (TenantScopedAdmin, Tenant, numbers_by_tenant): only the admin module,
    # never the trail's services or models, reaches compliance.
    ("audit/admin.py", "compliance"): "the trail's admin is tenant-scoped",
    # The alert rules' settings: a tenant's own and the platform's, scoped like every admin.
    ("audit/alerts/admin.py", "compliance"): "the alert settings' admin is tenant-scoped",
    # The same for the admin of alerts, incidents and playbooks (TenantScopedAdmin and its list
    # filter); the services and models it calls (audit/incidents.py) import no app.
    ("audit/admin_incidents.py", "compliance"): "alerts' and incidents' admin is tenant-scoped",
    # The SIEM forwarders are a tenant's settings, configured by its compliance officers: their
    # admin is tenant-scoped like the trail's (TenantScopedAdmin, TenantListFilter).
    ("audit/admin_siem.py", "compliance"): "the SIEM forwarders' admin is tenant-scoped",
    # A legal hold or a withdrawn consent acts on recordings, which sit above compliance: the
    # "holds now" count and the withdrawal's new last day read Recording by name
    # (apps.get_model), and a policy change sends the recompute task by name, so that compliance
    # never imports recordings' code. One seam, in the three service modules that act so.
    ("compliance/services/legal_holds.py", "recordings"): "holds act on recordings",
    ("compliance/services/consents.py", "recordings"): "withdrawals act on recordings",
    ("compliance/services/policies.py", "recordings"): "policies act on recordings",
}


def _package_files() -> list[Path]:
    files = []
    for package in MAY_REACH:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" not in path.relative_to(REPO).parts:
                files.append(path)
    return files


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _reaches(path: Path) -> list[tuple[int, str, str]]:
    """(line, top-level package reached, what) for every import, get_model and send_task."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name.split(".")[0], f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target.split(".")[0], f"from {target} import ..."))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            arguments = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
            if node.func.attr == "get_model" and arguments and isinstance(arguments[0], str):
                label = arguments[0].split(".")[0]
                found.append((node.lineno, label, f"apps.get_model({arguments[0]!r}, ...)"))
            elif node.func.attr in {"send_task", "signature"} and arguments:
                name = str(arguments[0])
                found.append((node.lineno, name.split(".")[0], f"task sent by name {name!r}"))
    return found


def _violations() -> list[str]:
    local = set(MAY_REACH)
    wrong = []
    for path in _package_files():
        relative = path.relative_to(REPO).as_posix()
        own = relative.split("/")[0]
        for line, package, what in _reaches(path):
            if package not in local or package == own or package in MAY_REACH[own]:
                continue
            if (relative, package) in SEAMS:
                continue
            wrong.append(f"{relative}:{line}: {own} must not reach {package} ({what})")
    return wrong


def test_no_package_imports_against_the_direction():
    wrong = _violations()
    assert not wrong, "imports against docs/architecture.md's direction:\n" + "\n".join(wrong)


def test_every_deliberate_seam_is_still_used():
    """A seam that nothing uses any more is removed from the list, so that it cannot hide a
    new reach later."""
    used = set()
    for path in _package_files():
        relative = path.relative_to(REPO).as_posix()
        for _, package, _ in _reaches(path):
            used.add((relative, package))
    assert set(SEAMS) <= used, f"seams no longer used: {sorted(set(SEAMS) - used)}"


def test_the_scan_sees_function_level_imports_and_names(tmp_path, monkeypatch):
    """The checker itself: an import inside a function, a relative import, a model read by
    name and a task sent by name are all seen."""
    package = tmp_path / "audit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sample.py").write_text(
        "from . import models\n"
        "def f():\n"
        "    from recordings.models import Recording\n"
        "    apps.get_model('compliance', 'Tenant')\n"
        "    app.send_task('recordings.tasks.x')\n"
    )
    monkeypatch.setattr(__name__ + ".REPO", tmp_path)
    reached = {(line, package) for line, package, _ in _reaches(package / "sample.py")}
    assert reached == {(1, "audit"), (3, "recordings"), (4, "compliance"), (5, "recordings")}
