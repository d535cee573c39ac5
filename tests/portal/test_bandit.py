"""`make test` runs bandit over the application (devtools.localstack) and fails on a finding."""

from __future__ import annotations

import os
from pathlib import Path

from devtools import localstack


def test_application_has_no_unjustified_bandit_finding(capsys):
    assert localstack.run_bandit(dict(os.environ)) == 0, capsys.readouterr()


def test_bandit_finding_fails_with_a_clear_line(tmp_path, capsys):
    risky = tmp_path / "risky.py"
    risky.write_text("import subprocess\n\nsubprocess.call(input(), shell=True)\n")

    code = localstack.run_bandit(dict(os.environ), paths=(str(risky),))

    output = capsys.readouterr()
    assert code != 0
    assert "risky.py:3: B602 [HIGH]" in output.out
    assert "bandit found a security issue of medium severity or above" in output.out


def test_justified_finding_passes(tmp_path):
    justified = tmp_path / "justified.py"
    justified.write_text(
        "import subprocess\n\nsubprocess.call('ls', shell=True)  # nosec B602 # a fixed command\n"
    )

    assert localstack.run_bandit(dict(os.environ), paths=(str(justified),)) == 0


def test_bandit_scans_every_app_of_the_project():
    """A new app is scanned without anyone remembering to add it."""
    from django.apps import apps

    folders = [Path(config.path).resolve() for config in apps.get_app_configs()]
    ours = {
        folder.relative_to(localstack.BASE_DIR).parts[0]
        for folder in folders
        if folder.is_relative_to(localstack.BASE_DIR) and ".venv" not in folder.parts
    }
    assert "signin" in ours
    assert ours | {"portal"} <= set(localstack.BANDIT_PATHS)
    assert not {path for path in localstack.BANDIT_PATHS if path.startswith(("tests", ".venv"))}
