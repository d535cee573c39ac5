"""Start-up configuration, as an operator meets it: `manage.py` in a fresh process.

A missing secret or a malformed DATABASE_URL stops `manage.py` with one line naming the variable,
never a traceback; the production settings documented for the README pass
`check --deploy --fail-level WARNING`. Each run gets a clean environment: this process's, less
every variable the settings read, plus the variables the case sets.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from .test_compose import settings_variables

REPO = Path(__file__).resolve().parents[2]

# The settings also read REPO/.env, without overriding the environment: a developer's .env would
# supply the variables that some cases leave unset. CI's fresh clone has none.
no_dotenv = pytest.mark.skipif(
    (REPO / ".env").exists(), reason="a .env at the repository root supplies unset variables"
)

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),  # 67 random characters
    "AUDIT_HMAC_KEY": secrets.token_urlsafe(32),
    "RECORDINGS_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    "ALLOWED_HOSTS": "custodia.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/custodia",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def manage(*arguments: str, unset: tuple[str, ...] = (), **variables: str):
    """Run manage.py with the production settings, less `unset`, overridden by `variables`."""
    environment = {
        name: value for name, value in os.environ.items() if name not in settings_variables()
    }
    environment |= PRODUCTION | variables | {"DJANGO_SETTINGS_MODULE": "portal.settings"}
    for name in unset:
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_naming(result: subprocess.CompletedProcess, name: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    return lines[0]


@no_dotenv
@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_HMAC_KEY", "RECORDINGS_MASTER_KEY"])
def test_check_without_a_secret_stops_with_one_line_naming_it(name):
    assert_one_line_naming(manage("check", unset=(name,)), name)


@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_HMAC_KEY", "RECORDINGS_MASTER_KEY"])
def test_check_with_an_empty_secret_stops_with_one_line_naming_it(name):
    assert_one_line_naming(manage("check", **{name: ""}), name)


@no_dotenv
def test_migrate_without_a_secret_stops_with_one_line_naming_it():
    # docker-compose.yml's migrate service runs first: its log is where an operator looks.
    assert_one_line_naming(manage("migrate", "--no-input", unset=("SECRET_KEY",)), "SECRET_KEY")


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x@y/z",
        "not-a-url",
        "postgres://custodia:s3cret-password@postgres:not-a-port/custodia",
        "postgres://custodia:s3cret-password@postgres:5432",
    ],
)
def test_check_with_a_malformed_database_url_stops_with_one_line_naming_it(url):
    line = assert_one_line_naming(manage("check", DATABASE_URL=url), "DATABASE_URL")
    assert "s3cret-password" not in line  # the error names the variable, never its password


def test_check_with_the_debug_defaults_passes_without_secrets():
    result = manage("check", DEBUG="true", SECRET_KEY="", AUDIT_HMAC_KEY="")
    assert result.returncode == 0, result.stderr


@no_dotenv
def test_a_fresh_clone_checks_its_migrations_without_any_setting():
    """`makemigrations --check` reads only models and migrations: it needs no secret (DEBUG
    unset means development settings for it alone), while `check` still needs them."""
    nothing = tuple(PRODUCTION)
    result = manage("makemigrations", "--check", "--dry-run", unset=nothing)
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout
    assert_one_line_naming(manage("check", unset=nothing), "SECRET_KEY")


@no_dotenv
def test_documented_production_settings_pass_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_a_master_key_that_is_not_32_bytes_stops_start_up_in_one_line():
    line = assert_one_line_naming(
        manage("check", RECORDINGS_MASTER_KEY="c2hvcnQ="), "RECORDINGS_MASTER_KEY"
    )
    assert "32" in line
