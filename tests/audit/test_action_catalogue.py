"""Every action the code records is in the catalogue the admin filters by."""

import re
from pathlib import Path

from audit.actions import ACTION_CHOICES

REPO = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r'"([a-z_]+\.[a-z_]+)"')
# `action="x.y"`, `action="x.y" if ... else "x.z"` and `action=("x.y" if ... else "x.z")`.
ACTION_ARGUMENT = re.compile(
    r"action=\(?(\"[a-z_]+\.[a-z_]+\"(?: if .+? else \"[a-z_]+\.[a-z_]+\")?)"
)


def test_every_recorded_action_is_in_the_catalogue():
    catalogue = {code for code, _ in ACTION_CHOICES}
    recorded = set()
    for app in ("audit", "compliance", "recordings", "portal", "signin"):
        for path in (REPO / app).rglob("*.py"):
            for argument in ACTION_ARGUMENT.findall(path.read_text()):
                recorded.update(LITERAL.findall(argument))
    assert len(recorded) > 20
    assert recorded <= catalogue, sorted(recorded - catalogue)
