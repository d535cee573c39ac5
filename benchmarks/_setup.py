"""Shared set-up of the recordings benchmarks (ingestion.py, recordings_admin.py, purge.py).

Every script works in its own database, `custodia_bench_rec` on 127.0.0.1:5432 (the admin
benchmark adds `custodia_bench_rec_small` for its baseline), dropped and created at the start and
dropped at the end, and in its own RECORDINGS_ROOT, a temporary folder under /tmp removed at the
end. Both are configured in the environment before django.setup(), so nothing can reach the dev or
test databases or the dev recordings. Only one of these scripts runs at a time: each holds a
PostgreSQL advisory lock for its whole run (they share the database name, and two benchmarks on a
2-core machine would skew each other's figures anyway).
"""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
DB_NAME = "custodia_bench_rec"
SMALL_DB_NAME = "custodia_bench_rec_small"
# Django's connections: no statement of a benchmark may run longer than this.
STATEMENT_TIMEOUT = "120s"
# The SQL fills and index builds of large tables, per statement.
FILL_STATEMENT_TIMEOUT = "30min"
# pg_try_advisory_lock key held by a running recordings benchmark ("custodia rec bench").
RUN_LOCK_KEY = 7_304_001


def _measured_on() -> str:
    """Today's date (UTC): each result row says when it was measured."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d")


def measured_at_commit() -> str:
    """The commit the benchmark ran on (short hash, "+changes" when the tree differs from it), so
    that a figure in benchmarks/README.md can be traced to the code it measured."""
    import subprocess

    def git(*arguments: str) -> str:
        completed = subprocess.run(  # noqa: S603 - constant arguments
            ["git", *arguments],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip() if completed.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}+changes" if git("status", "--porcelain", "--untracked-files=no") else commit


DATE = _measured_on()
COMMIT = measured_at_commit()


def dsn(name: str) -> str:
    return f"host={HOST} port={PORT} user={USER} dbname={name}"


# --- the run: one at a time, bounded in time, cleaned up ----------------------------------------


class Run:
    """The run's guard (advisory lock), time limit and temporary folder. Use as a context
    manager around everything, so that the databases and the folder go whatever happens."""

    def __init__(self, *, time_limit_minutes: int, keep_database: bool = False):
        self.time_limit_minutes = time_limit_minutes
        self.keep_database = keep_database
        self.folder: Path | None = None
        self._guard = None

    def __enter__(self) -> Run:
        import psycopg

        self._guard = psycopg.connect(dsn("postgres"), autocommit=True)
        locked = self._guard.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY]).fetchone()
        if not locked[0]:
            self._guard.close()
            raise SystemExit("another recordings benchmark is running (advisory lock held)")

        def _abort(signum, frame):
            raise SystemExit(f"time limit of {self.time_limit_minutes} minutes reached")

        signal.signal(signal.SIGALRM, _abort)
        signal.alarm(self.time_limit_minutes * 60)
        self.folder = Path(tempfile.mkdtemp(prefix="custodia-bench-rec-", dir="/tmp"))
        return self

    def __exit__(self, *exc_info) -> None:
        signal.alarm(0)
        try:
            if not self.keep_database:
                databases_drop()
        finally:
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
            if self._guard is not None:
                self._guard.close()  # releases the advisory lock


def configure_django(recordings_root: Path, *, keep_debug: bool = False) -> None:
    """Environment first, then django.setup(): the benchmark database, a temporary
    RECORDINGS_ROOT and dummy secrets only."""
    os.environ["DATABASE_URL"] = f"postgres://{USER}@{HOST}:{PORT}/{DB_NAME}"
    os.environ["DEBUG"] = "true"
    os.environ["SECRET_KEY"] = "benchmark-only-dummy-secret-key"  # noqa: S105
    os.environ["AUDIT_HMAC_KEY"] = "benchmark-only-dummy-audit-hmac-key"
    os.environ["RECORDINGS_ROOT"] = str(recordings_root)
    # The test Client sends Host: testserver.
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    # WhiteNoise's complaint that collectstatic has not run (no static file is served here).
    warnings.filterwarnings("ignore", message="No directory at")

    import django

    django.setup()

    from django.conf import settings
    from django.db.backends.signals import connection_created

    database = settings.DATABASES["default"]
    if (database["NAME"], database["HOST"], int(database["PORT"])) != (DB_NAME, HOST, PORT):
        raise SystemExit("refusing to run: the settings do not point at the benchmark database")
    if Path(settings.RECORDINGS_ROOT) != recordings_root:
        raise SystemExit("refusing to run: RECORDINGS_ROOT is not the temporary folder")
    if not keep_debug:
        # DEBUG=true gives the development defaults (no SSL redirect, dummy secrets accepted);
        # switching it off after set-up removes Django's per-query log, which production does not
        # pay, from every timing (baselines included).
        settings.DEBUG = False

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (import every URLconf now, not in a timing)

    def _timeout(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")

    connection_created.connect(_timeout, weak=False)


# --- databases ----------------------------------------------------------------------------------

_wrappers: dict = {}


def database_use(name: str) -> None:
    """Make `name` Django's default database; each keeps its own open connection."""
    from django.db import connections
    from django.db.utils import load_backend

    assert name.startswith(DB_NAME), name
    if name not in _wrappers:
        settings_dict = dict(connections.settings["default"], NAME=name)
        backend = load_backend(settings_dict["ENGINE"])
        _wrappers[name] = backend.DatabaseWrapper(settings_dict, "default")
    connections["default"] = _wrappers[name]


def database_recreate(name: str = DB_NAME) -> None:
    """Drop (if it exists), create and migrate a benchmark database, and make it the default."""
    import psycopg
    from django.core.management import call_command
    from psycopg import sql

    assert name.startswith(DB_NAME), name
    wrapper = _wrappers.pop(name, None)
    if wrapper is not None:
        wrapper.close()
    started = time.perf_counter()
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        identifier = sql.Identifier(name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    database_use(name)
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  (database {name} created and migrated in {time.perf_counter() - started:.1f} s)")


def databases_drop() -> None:
    import psycopg
    from psycopg import sql

    for wrapper in _wrappers.values():
        wrapper.close()
    _wrappers.clear()
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: S110 (Django may not be set up yet)
        pass
    for attempt in range(5):  # the server may be out of connection slots for a moment
        try:
            with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
                for name in (DB_NAME, SMALL_DB_NAME):
                    admin.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
            return
        except psycopg.OperationalError:
            if attempt == 4:
                raise
            time.sleep(3)


_SCHEMA_SQL = """
SELECT 'index', indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename = %(table)s
   AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %(table)s::regclass)
UNION ALL
SELECT 'constraint:' || contype::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = %(table)s::regclass
 ORDER BY 1, 2
"""


class SecondaryIndexesDropped:
    """Bulk loading: drop a table's secondary indexes and its foreign keys (the primary key and
    unique constraints stay), then recreate them from their exact definitions on exit, checked
    identical afterwards. With `rebuild_only`, only the secondary indexes so named are rebuilt
    (foreign keys always are): for a figure that reads a table through those alone, on a disk
    too small for the others."""

    def __init__(self, database: str, table: str, rebuild_only: set[str] | None = None):
        self.database, self.table = database, table
        self.rebuild_only = rebuild_only
        self.schema: list = []
        self.rebuild_seconds = 0.0

    def __enter__(self) -> SecondaryIndexesDropped:
        import psycopg
        from psycopg import sql

        with psycopg.connect(dsn(self.database), autocommit=True) as conn:
            self.schema = conn.execute(_SCHEMA_SQL, {"table": self.table}).fetchall()
            for kind, name, _definition in self.schema:
                if kind == "index":
                    conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                elif kind == "constraint:f":
                    conn.execute(
                        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                            sql.Identifier(self.table), sql.Identifier(name)
                        )
                    )
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        import psycopg
        from psycopg import sql

        started = time.perf_counter()
        with psycopg.connect(dsn(self.database), autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute("SET max_parallel_maintenance_workers = 2")
            for kind, name, definition in self.schema:
                if kind == "index" and (self.rebuild_only is None or name in self.rebuild_only):
                    conn.execute(definition)
            for kind, name, definition in self.schema:
                if kind == "constraint:f":
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                            sql.Identifier(self.table), sql.Identifier(name), sql.SQL(definition)
                        )
                    )
            after = conn.execute(_SCHEMA_SQL, {"table": self.table}).fetchall()
        self.rebuild_seconds = time.perf_counter() - started
        if exc_type is None:
            expected = [
                row
                for row in self.schema
                if row[0] != "index" or self.rebuild_only is None or row[1] in self.rebuild_only
            ]
            assert after == expected, "the indexes were not restored identically"


def chunks_fill(
    database: str,
    sql: str,
    parameters: dict,
    total: int,
    connections: int,
    *,
    chunk: int = 500_000,
    report_every: int = 1_000_000,
    before_chunk=None,
) -> float:
    """INSERT ... SELECT over generate_series: `sql` fills rows %(low)s to %(high)s; run in
    chunks of `chunk` rows spread over a few connections (commit not waited for), progress
    printed every `report_every` rows. `before_chunk()`, if given, runs before each chunk and may
    raise to stop the fill (a disk running out). Returns the seconds taken."""
    import queue
    import threading

    import psycopg

    started = time.perf_counter()
    work: queue.Queue = queue.Queue()
    for low in range(1, total + 1, chunk):
        work.put((low, min(total, low + chunk - 1)))
    errors: list[BaseException] = []
    done = [0]
    lock = threading.Lock()

    def worker() -> None:
        try:
            with psycopg.connect(dsn(database), autocommit=True) as conn:
                conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
                conn.execute("SET synchronous_commit = off")
                while not errors:
                    try:
                        low, high = work.get_nowait()
                    except queue.Empty:
                        return
                    if before_chunk is not None:
                        before_chunk()
                    conn.execute(sql, {**parameters, "low": low, "high": high})
                    with lock:
                        done[0] += high - low + 1
                        if total >= report_every and done[0] % report_every < chunk:
                            print(
                                f"    {done[0]:>12,} rows in {time.perf_counter() - started:.0f} s",
                                flush=True,
                            )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(max(1, connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def checkpoint(database: str) -> None:
    """Write out the set-up's dirty pages now, so that the next timed phase does not pay for a
    checkpoint triggered by the fill (every timed phase, baselines included, starts after one)."""
    import psycopg

    with psycopg.connect(dsn(database), autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
        conn.execute("CHECKPOINT")


def vacuum_analyze(database: str, *tables: str) -> float:
    import psycopg
    from psycopg import sql

    started = time.perf_counter()
    with psycopg.connect(dsn(database), autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{FILL_STATEMENT_TIMEOUT}'")
        for table in tables:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    return time.perf_counter() - started


# --- people -------------------------------------------------------------------------------------


def users_create(tenant) -> tuple:
    """A platform operator (superuser) and a compliance officer of `tenant` (a Membership)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from compliance.models import Role
    from compliance.services.memberships import membership_grant

    user_model = get_user_model()
    unusable = make_password(None)  # nobody signs in with a password; force_login only
    superuser = user_model.objects.create(
        username="bench-root", is_staff=True, is_superuser=True, password=unusable
    )
    officer = user_model.objects.create(username="bench-officer", is_staff=True, password=unusable)
    membership_grant(actor="benchmark", user=officer, tenant=tenant, role=Role.COMPLIANCE_OFFICER)
    officer = user_model.objects.get(pk=officer.pk)
    assert officer.has_perm("recordings.view_recording") and not officer.is_superuser
    return superuser, officer


# --- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    baseline: str
    ratio: str
    passed: bool | None  # None: informative, no target
    load: str = ""  # 1-minute load average when the figure was taken


@dataclass
class Report:
    title: str
    machine: dict
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def add(self, row: Row) -> None:
        row.load = row.load or load_average()
        self.rows.append(row)
        verdict = {True: "PASS", False: "FAIL", None: "info"}[row.passed]
        print(
            f"  -> {row.figure}: {row.measured} (baseline {row.baseline}, ratio {row.ratio}; "
            f"target {row.target}) {verdict} [load {row.load}]",
            flush=True,
        )

    def markdown(self) -> str:
        lines = [
            "| Figure | Target | Measured | Baseline | Ratio | Result | Date | Commit | Machine |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        cores = f"{self.machine.get('cpus')} cores"
        for row in self.rows:
            verdict = {True: "pass", False: "**FAIL**", None: "info"}[row.passed]
            lines.append(
                f"| {row.figure} | {row.target} | {row.measured} | {row.baseline} | "
                f"{row.ratio} | {verdict} | {DATE} | {COMMIT} | {cores} (load {row.load}) |"
            )
        return "\n".join(lines)

    def finish(self) -> int:
        print(f"\n{self.title}, {DATE} at {COMMIT}, {self.machine.get('cpus')} cores:\n")
        print(self.markdown())
        failed = [row.figure for row in self.rows if row.passed is False]
        print(f"\n{len(failed)} target(s) missed." if failed else "\nEvery target met.")
        return 0


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: of 30 samples, p95 is the second largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def machine_info() -> dict:
    import django
    import psycopg

    with psycopg.connect(dsn("postgres")) as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
        settings = dict(
            admin.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'synchronous_commit', 'fsync', 'jit')"
            ).fetchall()
        )
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory = f"{int(meminfo.read_text().split()[1]) / 1024 / 1024:.0f} GB"
    return {
        "cpus": os.cpu_count(),
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "postgresql": server,
        "postgresql_settings": settings,
        "load_at_start": load_average(),
    }


# --- where the time goes ------------------------------------------------------------------------

_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?([a-z_]+)"?', re.IGNORECASE)


class Sections:
    """Times every SQL statement by kind (verb and table), every commit of an atomic block, and
    chosen functions."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @staticmethod
    def sql_kind(sql: str) -> str:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        if verb == "WITH" and "audit_chainhead" in sql:
            return "SQL event_record (UPDATE audit_chainhead + INSERT audit_auditevent)"
        match = _TABLE.search(sql)
        return f"SQL {verb} {match.group(1) if match else ''}".strip()

    def wrapper(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = self.sql_kind(sql)
            self.seconds[kind] += time.perf_counter() - started
            self.calls[kind] += 1

    def timed(self, label: str, function):
        def wrapped(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        return wrapped


def sections_run(label: str, function, targets: list) -> tuple[object, float, list[str]]:
    """Call `function` with every SQL statement timed by kind, every commit of an atomic block
    timed, and each (object, attribute, label) of `targets` replaced by a timed wrapper for the
    call; print the sections, slowest first. Returns (result, seconds, printed lines)."""
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    sections = Sections()
    originals = []
    for owner, name, section in [
        *targets,
        (BaseDatabaseWrapper, "commit", "COMMIT (of atomic blocks)"),
    ]:
        original = getattr(owner, name)
        originals.append((owner, name, original))
        setattr(owner, name, sections.timed(section, original))
    try:
        with connection.execute_wrapper(sections.wrapper):
            started = time.perf_counter()
            result = function()
            total = time.perf_counter() - started
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    print(f"\n  where the time goes: {label} took {total * 1e3:,.1f} ms with timing on", flush=True)
    lines = []
    for kind, seconds in sorted(sections.seconds.items(), key=lambda item: -item[1]):
        calls = sections.calls[kind]
        lines.append(
            f"    {kind:<66} {calls:>7,} calls {seconds * 1e3:10.1f} ms "
            f"{100 * seconds / total:5.1f} %  {1e3 * seconds / max(calls, 1):7.3f} ms each"
        )
        print(lines[-1], flush=True)
    print(
        "    (a statement in autocommit includes its commit; a timed function includes the SQL "
        "it runs; the rest is Python)",
        flush=True,
    )
    return result, total, lines
