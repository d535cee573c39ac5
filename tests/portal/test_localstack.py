"""The launcher behind `make run`, `make test` and `make manage` (devtools/localstack.py).

`make run`'s processes are stood in for by small Python programs that print what the real ones
print (a web server answering on a port; a Celery worker's sixty-line banner, its "ready." line
and its steady chatter), so that what the console shows, and in which order, is checked without
starting PostgreSQL, Celery or a browser.
"""

from __future__ import annotations

import io
import os
import socket
import sys
import threading
import time

import pytest

from devtools import localstack

WORKER = """
import time
print("\\n".join(f" -------------- banner line {n}" for n in range(60)), flush=True)
time.sleep(0.3)
print("[2026-12-07 07:36:24,741: WARNING/MainProcess] No hostname was supplied.", flush=True)
print("[2026-12-07 07:36:24,765: INFO/MainProcess] celery@vm ready.", flush=True)
for n in range(600):
    print(f"[2026-12-07 07:36:25,000: INFO/MainProcess] Task forward_audit_trail[{n}] received",
          flush=True)
    time.sleep(0.05)
"""
WEB = """
import socket, sys, time
time.sleep(0.5)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
print("Starting development server at http://127.0.0.1:" + sys.argv[1] + "/", flush=True)
time.sleep(60)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Console(io.StringIO):
    """The console, written from several threads."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)


def _serve(services, tmp_path, **options):
    console, stop = _Console(), threading.Event()
    outcome: dict = {}

    def run():
        outcome["code"] = localstack.serve(
            services,
            dict(os.environ),
            summary=lambda not_up: ["SUMMARY", f"not up: {not_up}", "ADMIN URL LAST"],
            stop=stop,
            out=console,
            logs=tmp_path,
            **options,
        )

    thread = threading.Thread(target=run)
    thread.start()
    return console, stop, thread, outcome


def _wait_for(console, text: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while text not in console.getvalue():
        assert time.monotonic() < deadline, console.getvalue()[-2000:]
        time.sleep(0.1)


def test_run_prints_the_logins_last_once_everything_is_up(tmp_path):
    port = _free_port()
    services = [
        localstack.Service("web", [sys.executable, "-c", WEB, str(port)], port=port),
        localstack.Service(
            "worker",
            [sys.executable, "-c", WORKER],
            ready_line=" ready.",
            chatter=localstack.CELERY_CHATTER,
        ),
    ]
    console, stop, thread, outcome = _serve(services, tmp_path)
    _wait_for(console, "ADMIN URL LAST")
    time.sleep(1.5)  # the worker goes on chattering: a line every 50 ms
    stop.set()
    thread.join(30)
    lines = console.getvalue().splitlines()
    # The summary, after every banner and start-up line, and still the console's last lines.
    assert lines[-3:] == ["SUMMARY", "not up: []", "ADMIN URL LAST"], lines[-10:]
    assert "banner line 59" in console.getvalue()
    assert any("No hostname was supplied" in line for line in lines)  # warnings are shown
    assert not any("Task forward_audit_trail" in line for line in lines)
    assert outcome["code"] == 0
    # Nothing is lost: each process's whole output is in its log.
    worker_log = (tmp_path / "worker.log").read_text()
    assert "celery@vm ready." in worker_log and "Task forward_audit_trail[10]" in worker_log
    assert "Starting development server" in (tmp_path / "web.log").read_text()


def test_a_process_still_starting_is_named_and_the_logins_printed_all_the_same(tmp_path):
    services = [localstack.Service("beat", [sys.executable, "-c", "import time; time.sleep(60)"])]
    services[0] = localstack.Service(services[0].name, services[0].command, ready_line="Starting")
    console, stop, thread, _ = _serve(services, tmp_path, ready_seconds=1)
    _wait_for(console, "ADMIN URL LAST")
    stop.set()
    thread.join(30)
    assert "not up: ['beat']" in console.getvalue()


def test_a_process_that_dies_stops_the_others_and_fails(tmp_path):
    services = [
        localstack.Service("web", [sys.executable, "-c", "import time; time.sleep(60)"], port=1),
        localstack.Service("worker", [sys.executable, "-c", "raise SystemExit(3)"], ready_line="x"),
    ]
    console, _stop, thread, outcome = _serve(services, tmp_path)
    thread.join(30)
    assert outcome["code"] == 1
    assert "SUMMARY" not in console.getvalue()


# --- make test: the machine's servers, else what needs none -------------------------------------


def test_a_machine_server_that_fails_to_start_is_not_the_end(monkeypatch, capsys):
    monkeypatch.delenv("CUSTODIA_IGNORE_LOCAL_SERVERS", raising=False)
    started = localstack.start_machine_service(
        "PostgreSQL", _free_port(), "exit 1", "sh", seconds=0.5
    )
    assert started is False
    assert "did not start" in capsys.readouterr().out


def test_make_test_falls_back_to_the_embedded_postgresql_when_the_machines_fails(monkeypatch):
    """The machine has PostgreSQL's start command, but the server does not come up."""
    monkeypatch.delenv("CUSTODIA_IGNORE_LOCAL_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(localstack, "POSTGRES_PORT", _free_port())
    monkeypatch.setattr(localstack, "POSTGRES_BINARY", "sh")
    monkeypatch.setattr(localstack, "POSTGRES_START", "exit 1")
    monkeypatch.setattr(localstack, "SERVICE_START_SECONDS", 0.5)
    embedded = []

    def start_embedded(pgdata, database):
        embedded.append((pgdata.name, database))
        return None, "postgres://postgres@embedded/custodia"

    monkeypatch.setattr(localstack, "start_embedded_postgres", start_embedded)
    environment, _server = localstack.test_environment()
    assert embedded == [("pg-test", "custodia")]
    assert environment["DATABASE_URL"] == "postgres://postgres@embedded/custodia"


def test_a_machine_server_that_refuses_the_connection_is_not_the_end(capsys):
    assert (
        localstack.create_database_if_missing(f"host=127.0.0.1 port={_free_port()}", "x") is False
    )
    assert "cannot be used" in capsys.readouterr().out


# --- make manage: a management command against the development setup -----------------------------


def test_make_manage_runs_a_command_without_production_secrets(monkeypatch, capfd):
    """`manage.py` alone stops on "SECRET_KEY is required" unless DEBUG=true is known."""
    for name in ("DEBUG", "SECRET_KEY", "AUDIT_HMAC_KEY", "RECORDINGS_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert localstack.run_management_command(["check"]) == 0
    assert "System check identified no issues" in capfd.readouterr().out


# --- make test: the suite in two processes --------------------------------------------------------


def test_make_test_runs_the_suite_in_two_processes_when_the_broker_is_redis(monkeypatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    redis = "redis://127.0.0.1:6379/15"
    assert localstack.pytest_arguments(["-x"], redis) == ["-n", "2", "-x"]
    # The filesystem transport has one folder for every process, and a Redis URL that the
    # processes cannot each move to a database of their own is shared: one process then.
    assert localstack.pytest_arguments(["-x"], "filesystem://") == ["-x"]
    assert localstack.pytest_arguments(["-x"], "redis+socket:///run/redis.sock") == ["-x"]
    # A number of processes chosen by the caller is theirs; a debugger or uncaptured output
    # needs one.
    for chosen in (
        ["-n", "0"],
        ["-n0"],
        ["-nauto"],
        ["--numprocesses", "auto"],
        ["--numprocesses=4"],
        ["-p", "no:xdist"],
        ["-pno:xdist"],
        ["-x", "--pdb"],
        ["--trace"],
        ["-s"],
        ["--capture=no"],
    ):
        assert localstack.pytest_arguments(chosen, redis) == chosen
    # An argument that merely starts with n is not a choice.
    assert localstack.pytest_arguments(["-k", "not slow"], redis)[:2] == ["-n", "2"]
    # Nor are the ones given in PYTEST_ADDOPTS overruled.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:xdist")
    assert localstack.pytest_arguments(["-x"], redis) == ["-x"]


def test_each_process_of_the_suite_has_a_redis_database_of_its_own():
    from tests.parallel import SharedRedis, redis_url_for_worker

    url = "redis://127.0.0.1:6379/15"
    assert redis_url_for_worker(url, 0) == url
    assert redis_url_for_worker(url, 1) == "redis://127.0.0.1:6379/14"
    assert (
        redis_url_for_worker("rediss://:secret@cache:6380/3", 2) == "rediss://:secret@cache:6380/1"
    )
    # Never database 0 (a development portal's counters), never wrapped onto another's.
    for shared, number in (
        ("redis://127.0.0.1:6379/15", 15),
        ("redis://127.0.0.1:6379", 1),
        ("redis+socket:///run/redis.sock", 1),
        ("filesystem://", 1),
    ):
        with pytest.raises(SharedRedis):
            redis_url_for_worker(shared, number)


def test_the_celery_app_and_the_commands_use_this_process_s_redis_database():
    """In a parallel run, the Celery app (broker and results) and the commands the tests start
    follow the settings tests/parallel.py moved; in one process, the configured ones."""
    from django.conf import settings

    from portal.celery import app

    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.backend.url == settings.CELERY_RESULT_BACKEND
    if "CELERY_BROKER_URL" in os.environ:
        assert os.environ["CELERY_BROKER_URL"] == settings.CELERY_BROKER_URL
