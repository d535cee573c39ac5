from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.utils import translation

from compliance.models import Role, Tenant
from compliance.roles import sync_role_groups
from compliance.services.memberships import membership_grant

from .browser import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MISSING, STEP_TIMEOUT_MS
from .factories import TenantFactory, UserFactory
from .parallel import redis_database_of_this_worker

# Before anything sends a task: each parallel process of the suite on its own Redis database.
redis_database_of_this_worker(django_settings)

GENESIS = "0" * 64


def _uses_database(request) -> str | None:
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        return "transactional_db"
    if marker is not None:
        return "transactional_db" if marker.kwargs.get("transaction") else "db"
    if "db" in request.fixturenames:
        return "db"
    return None


@pytest.fixture(autouse=True)
def _append_only_audit_tables(request):
    """The audit tables refuse TRUNCATE, which is how Django empties the database after a
    transactional test. Around such tests only, the triggers are switched off for the flush and
    back on (with the genesis head row restored) before the next test."""
    kind = _uses_database(request)
    if kind is None:
        yield
        return
    request.getfixturevalue(kind)
    if not Group.objects.exists():
        # A transactional test's flush also emptied what data migrations create: the role
        # groups and the shipped purposes (with their categories) and retention presets.
        sync_role_groups(django_apps)
        presets = importlib.import_module("compliance.migrations.0004_retention_presets")
        presets.create_presets(django_apps, None)
        categories = importlib.import_module("compliance.migrations.0021_processor_defaults")
        categories.purpose_categories_set(django_apps, None)
        playbooks = importlib.import_module("audit.migrations.0007_incidents")
        playbooks.create_playbooks(django_apps, None)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audit_chainhead ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO audit_chainhead (id, sequence, hash, previous_hash) "
            "VALUES (1, 0, %s, %s) ON CONFLICT (id) DO NOTHING",
            [GENESIS, GENESIS],
        )
    yield
    if kind == "transactional_db":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE audit_chainhead DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")


@pytest.fixture(scope="session")
def _anchor_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("audit-anchors")


@pytest.fixture(autouse=True)
def _audit_anchors_outside_the_worktree(settings, _anchor_folder):
    """Checkpoints append their anchors to a file of the test session, not to var/."""
    settings.AUDIT_ANCHOR_PATH = _anchor_folder


@pytest.fixture(autouse=True)
def _each_test_starts_in_the_portal_s_language():
    """A request through LocaleMiddleware leaves its language active in the thread (a server
    activates the next request's anew); a test's own calls must not read in the language of the
    last test's request."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests sign in hundreds of times. Production keeps Argon2
    (tests/portal/test_settings.py checks the configured hashers)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cast:
    acme: Tenant
    globex: Tenant
    alice: object
    bob: object
    carol: object
    dave: object
    erin: object
    root: object


@pytest.fixture
def cast(db) -> Cast:
    """The same small cast everywhere (docs/architecture.md, "Conventions")."""
    acme = TenantFactory(name="Acme Insurance", slug="acme", country_code="FR")
    globex = TenantFactory(
        name="Globex Telecom", slug="globex", country_code="ES", time_zone="Europe/Madrid"
    )
    people = {}
    for username, tenant, role in [
        ("alice", acme, Role.COMPLIANCE_OFFICER),
        ("bob", acme, Role.SUPERVISOR),
        ("carol", acme, Role.QUALITY_ANALYST),
        ("dave", acme, Role.AUDITOR),
        ("erin", globex, Role.COMPLIANCE_OFFICER),
    ]:
        user = UserFactory(username=username)
        membership_grant(actor="test", user=user, tenant=tenant, role=role)
        people[username] = user
    root = UserFactory(username="root", is_superuser=True)
    return Cast(acme=acme, globex=globex, root=root, **people)


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (in a thread of this process) on the configured broker — Redis on
    this machine and CI, the filesystem transport on a laptop without it."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


@pytest.fixture(autouse=True)
def recordings_dir(settings, tmp_path_factory):
    """Each test stores audio in a folder of its own, so that tests can count files."""
    folder = tmp_path_factory.mktemp("recordings")
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            **settings.STORAGES["recordings"],
            "OPTIONS": {**settings.STORAGES["recordings"]["OPTIONS"], "location": str(folder)},
        },
    }
    return folder


# --- the browser journeys (tests/browser.py) ------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """The tests that drive Chromium run last, all of them on one browser: Playwright's sync API
    keeps an event loop running in this thread from the browser's start to the session's end,
    which Django's ORM refuses unless told (DJANGO_ALLOW_ASYNC_UNSAFE), and no other test should
    run under that. Without the chromium package they are skipped, saying so."""
    in_browser = [item for item in items if "browser" in getattr(item, "fixturenames", ())]
    if not in_browser:
        return
    if CHROMIUM is None:
        for item in in_browser:
            item.add_marker(pytest.mark.skip(reason=CHROMIUM_MISSING))
    chosen = set(map(id, in_browser))
    items[:] = [item for item in items if id(item) not in chosen] + in_browser


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the whole session (never a downloaded browser)."""
    if CHROMIUM is None:
        pytest.skip(CHROMIUM_MISSING)
    from playwright.sync_api import sync_playwright

    # From here on Playwright's loop runs in this thread; Django's ORM calls made by the tests
    # themselves (fixtures, assertions) are still synchronous and safe.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser, live_server):
    """A new browser context (a new session) on the live server, its waits bounded; it records
    every Content-Security-Policy violation (tests.browser.csp_violations reads them)."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda message: message.type == "error" and page.console_errors.append(message.text),
    )
    # The init script runs outside the page's policy.
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation', event =>"
        " window.__violations.push(event.violatedDirective + ' ' + event.blockedURI));"
    )
    yield page
    context.close()
    # The test's own queries opened ORM connections while Playwright's loop ran: closed here, or
    # pytest-django could not flush and drop the test database ("being accessed by other users").
    connections.close_all()
