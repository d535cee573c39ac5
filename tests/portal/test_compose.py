"""The deployment users run: docker-compose.yml, the Dockerfile and .env.example, read as files.

No Docker engine is needed: the compose file is parsed with PyYAML (which resolves its anchors and
`<<` merges as Compose does) and checked for what a deployment relies on. The variables that the
settings read are taken from portal/settings.py's source, so that .env.example cannot drift from it.
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]

# env.str("NAME", ...), env.bool("NAME", ...), env("NAME"), _required_in_production("NAME", ...)
SETTINGS_VARIABLE = re.compile(
    r"\b(?:env(?:\.[a-z_]+)?|_required_in_production)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)
# environment.get("NAME", ...) and environment.setdefault("NAME", ...) in localstack.py
LOCALSTACK_VARIABLE = re.compile(
    r"\benvironment\.(?:get|setdefault)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)
# ${NAME}, ${NAME:-default}, ${NAME:?message} in docker-compose.yml
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")
# NAME=value, active or commented out to show its default
ENV_EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")

RECORDINGS_MOUNT_SERVICES = ("web", "worker")
APPLICATION_SERVICES = ("migrate", "web", "worker", "beat")


def settings_variables() -> set[str]:
    """Every environment variable that portal/settings.py reads."""
    return set(SETTINGS_VARIABLE.findall((REPO / "portal" / "settings.py").read_text()))


def localstack_variables() -> set[str]:
    return set(LOCALSTACK_VARIABLE.findall((REPO / "devtools" / "localstack.py").read_text()))


@cache
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def service(name: str) -> dict:
    return compose()["services"][name]


def command(name: str) -> list[str]:
    value = service(name).get("command") or []
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def environment(name: str) -> dict[str, str]:
    value = service(name).get("environment") or {}
    if isinstance(value, list):
        value = dict(item.split("=", 1) for item in value)
    return {key: str(item) for key, item in value.items()}


def named_mounts(name: str) -> dict[str, str]:
    """Container path -> named volume, for the service's mounts of top-level named volumes."""
    declared = compose().get("volumes") or {}
    mounts = {}
    for volume in service(name).get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume.get("target", "")
        if source in declared:
            mounts[target] = source
    return mounts


def env_example() -> dict[str, tuple[str, str]]:
    """Each variable of .env.example -> (its value, the comment line just above it)."""
    lines = (REPO / ".env.example").read_text().splitlines()
    variables = {}
    for number, line in enumerate(lines):
        match = ENV_EXAMPLE_LINE.match(line)
        if match:
            comment = lines[number - 1] if number else ""
            variables[match.group(1)] = (match.group(2), comment)
    return variables


def celery_app(arguments: list[str]) -> str | None:
    for index, argument in enumerate(arguments):
        if argument in ("-A", "--app") and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--app="):
            return argument.removeprefix("--app=")
    return None


def test_compose_defines_the_database_broker_portal_worker_and_beat():
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(compose()["services"])


def test_web_serves_portal_wsgi_with_gunicorn_on_port_8000():
    arguments = command("web")
    assert arguments[0] == "gunicorn"
    assert "portal.wsgi" in arguments or "portal.wsgi:application" in arguments
    assert "0.0.0.0:8000" in arguments


def test_worker_runs_a_celery_worker_of_the_portal_app():
    arguments = command("worker")
    assert arguments[0] == "celery"
    assert celery_app(arguments) == "portal"
    assert "worker" in arguments


def test_beat_runs_celery_beat_of_the_portal_app():
    arguments = command("beat")
    assert arguments[0] == "celery"
    assert celery_app(arguments) == "portal"
    assert "beat" in arguments
    assert "worker" not in arguments  # a worker with an embedded beat (-B) would multiply it


def test_beat_never_runs_more_than_one_replica():
    beat = service("beat")
    assert (beat.get("deploy") or {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


@pytest.mark.parametrize(
    ("name", "probe"),
    [("postgres", "pg_isready"), ("redis", "redis-cli"), ("web", "/api/v1/health")],
)
def test_service_has_a_healthcheck(name, probe):
    healthcheck = service(name).get("healthcheck") or {}
    assert not healthcheck.get("disable")
    test = healthcheck.get("test")
    assert test, f"{name} has no healthcheck"
    assert probe in (test if isinstance(test, str) else " ".join(map(str, test)))


def test_web_healthcheck_needs_no_curl():
    # python:3.11-slim has no curl or wget: the probe is Python's urllib.
    test = " ".join(map(str, service("web")["healthcheck"]["test"]))
    assert "urllib" in test
    assert "curl" not in test
    assert "wget" not in test


def test_migrations_run_once_before_the_portal_and_celery_start():
    migrate = service("migrate")
    assert command("migrate")[:3] == ["python", "manage.py", "migrate"]
    assert "--no-input" in command("migrate")
    assert str(migrate.get("restart", "no")) == "no"
    for name in ("web", "worker", "beat"):
        condition = service(name)["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


@pytest.mark.parametrize("name", ["migrate", "web", "worker"])
def test_service_waits_for_a_healthy_database(name):
    assert service(name)["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_service_waits_for_a_healthy_broker(name):
    assert service(name)["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APPLICATION_SERVICES)
def test_application_service_reads_env_file_and_reaches_the_compose_services(name):
    env_file = service(name).get("env_file")
    assert env_file == ".env" or ".env" in (env_file or [])
    assert service(name).get("build") == "."
    variables = environment(name)
    assert re.fullmatch(r"postgres(ql)?://[^@]+@postgres:5432/\w+", variables["DATABASE_URL"])
    assert re.fullmatch(r"redis://redis:6379/\d+", variables["CELERY_BROKER_URL"])


def test_database_lives_in_a_named_volume():
    assert "/var/lib/postgresql/data" in named_mounts("postgres")


def test_recordings_live_in_one_named_volume_mounted_at_recordings_root_on_web_and_worker():
    volumes = set()
    for name in RECORDINGS_MOUNT_SERVICES:
        recordings_root = environment(name)["RECORDINGS_ROOT"]
        mounts = named_mounts(name)
        assert recordings_root in mounts, f"{name} does not mount a volume at {recordings_root}"
        volumes.add(mounts[recordings_root])
    assert len(volumes) == 1, f"web and worker mount different recordings volumes: {volumes}"
    assert volumes.isdisjoint(named_mounts("postgres").values())


def test_settings_reads_the_variables_this_module_looks_for():
    # Guards the regular expression: a pattern that matched nothing would pass every check below.
    assert {"DEBUG", "SECRET_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL", "ALLOWED_HOSTS"} <= (
        settings_variables()
    )
    assert {"PORTAL_HOST", "PORTAL_PORT"} <= localstack_variables()


def test_every_variable_settings_reads_is_in_env_example():
    missing = sorted(settings_variables() - set(env_example()))
    assert not missing, f"read by portal/settings.py but not in .env.example: {missing}"


def test_every_variable_make_run_reads_is_in_env_example():
    missing = sorted(localstack_variables() - set(env_example()))
    assert not missing, f"read by devtools/localstack.py but not in .env.example: {missing}"


def test_env_example_lists_no_variable_that_nothing_reads():
    compose_variables = set(COMPOSE_VARIABLE.findall((REPO / "docker-compose.yml").read_text()))
    known = settings_variables() | localstack_variables() | compose_variables
    unknown = sorted(set(env_example()) - known)
    assert not unknown, f"in .env.example but read by nothing: {unknown}"


def test_every_variable_in_env_example_has_a_comment_with_its_default():
    for name, (_, comment) in env_example().items():
        assert comment.startswith("# "), f"{name} has no comment line above it"
        assert not ENV_EXAMPLE_LINE.match(comment), f"{name} shares the comment of another"
        assert "default" in comment, f"the comment of {name} does not give its default"


@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_HMAC_KEY", "POSTGRES_PASSWORD"])
def test_env_example_leaves_secrets_as_placeholders(name):
    value, _ = env_example()[name]
    assert value.startswith("change-me")


def test_env_example_is_a_production_configuration():
    values = {name: value for name, (value, _) in env_example().items()}
    assert values["DEBUG"] == "false"
    assert values["ALLOWED_HOSTS"]


def test_dockerfile_copies_every_local_app():
    # The Dockerfile copies the code app by app (never .env or var/): a new app must be added.
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY\s+(\S+)\s", dockerfile, flags=re.MULTILINE))
    local_apps = {app for app in settings.INSTALLED_APPS if (REPO / app).is_dir()}
    # locale: the compiled catalogues, without which the portal speaks English only.
    missing = sorted(({"manage.py", "portal", "kit", "locale"} | local_apps) - copied)
    assert not missing, f"not copied into the image: {missing}"
    assert not copied & {".", "./"}, "COPY . would put .env and var/ into the image"


def test_dockerfile_runs_gunicorn_as_an_unprivileged_user():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, flags=re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "collectstatic" in dockerfile
    assert re.search(r'^CMD \["gunicorn", "portal\.wsgi"', dockerfile, flags=re.MULTILINE)
