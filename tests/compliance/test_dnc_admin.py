"""The do-not-call lists in the admin (compliance/admin/dnc.py): a compliance officer uploads her
tenant's internal list and a real worker imports it; the list page shows each version's age,
numbers, status, freshness and progress; tenants read the platform's lists and their own, never
another tenant's."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.dnc_models import DncEntry, DncList, DncListStatus
from compliance.services.dnc_lists import dnc_list_import_upload, entries_table
from kit.times import in_tenant_zone

from ..factories import dnc_list_for

ADD = "admin:compliance_dnclist_add"
CHANGELIST = "admin:compliance_dnclist_changelist"


@pytest.fixture(autouse=True)
def uploads(settings, tmp_path):
    settings.DNC_UPLOAD_ROOT = tmp_path / "dnc-uploads"
    return settings.DNC_UPLOAD_ROOT


def _form(tenant, content: bytes, *, source: str = "internal", **fields) -> dict:
    return {
        "source": source,
        "tenant": tenant.pk if tenant is not None else "",
        "version": "2026-12",
        "delivered_on": timezone.localdate().isoformat(),
        "rejected_allowed": "0",
        "file": SimpleUploadedFile("opt-outs.csv", content, content_type="text/csv"),
        **fields,
    }


def _page(dnc_list: DncList) -> str:
    return reverse("admin:compliance_dnclist_change", args=[dnc_list.pk])


def _wait_for_the_worker(dnc_list: DncList) -> DncList:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dnc_list.refresh_from_db()
        if dnc_list.status != DncListStatus.BUILDING:
            return dnc_list
        time.sleep(0.1)
    raise AssertionError("the worker did not import the list within a minute")


# --- uploaded, imported by a real worker ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_officer_uploads_her_tenants_list_and_a_worker_imports_it(cast, celery_worker, uploads):
    client = Client()
    client.force_login(cast.alice)
    content = b"\xef\xbb\xbfnumber;name\n06 12 34 56 78;Ann\n+33612345679;Bob\n\n0033612345680;Cy\n"
    response = client.post(reverse(ADD), _form(cast.acme, content))
    dnc_list = DncList.objects.get()
    assert response.status_code == 302 and response["Location"] == _page(dnc_list)
    assert dnc_list.imported_by == cast.alice and dnc_list.file_name == "opt-outs.csv"

    dnc_list = _wait_for_the_worker(dnc_list)
    assert dnc_list.status == DncListStatus.IN_FORCE, dnc_list.failure
    assert dnc_list.entry_count == 3
    assert DncEntry.objects.filter(list_id=dnc_list.pk, number=33612345680).exists()
    assert not any(uploads.iterdir())  # the stored upload is removed once imported
    page = client.get(_page(dnc_list)).content.decode()
    assert "In force" in page and "never goes stale" in page
    assert 'http-equiv="refresh"' not in page  # nothing left to follow
    imported = AuditEvent.objects.get(action="dnc_list.imported")
    assert imported.actor_username == "task:compliance.tasks.import_dnc_list"
    assert AuditEvent.objects.get(action="dnc_list.uploaded").actor_username == "alice"


@pytest.mark.django_db(transaction=True)
def test_a_refused_upload_fails_with_its_lines_and_leaves_the_list_in_force(
    cast, celery_worker, uploads
):
    client = Client()
    client.force_login(cast.alice)
    client.post(reverse(ADD), _form(cast.acme, b"0612345678\n0612345679\n"))
    first = _wait_for_the_worker(DncList.objects.get())
    client.post(reverse(ADD), _form(cast.acme, b"0612345678\nsee attached\n+44 7400 000001\n"))
    failed = _wait_for_the_worker(DncList.objects.exclude(pk=first.pk).get())
    assert failed.status == DncListStatus.FAILED
    assert failed.failure.startswith("1 rejected lines, 0 allowed")
    page = client.get(_page(failed)).content.decode()
    assert "line 2: letters where a number should be" in page
    assert "letters where a number should be" in page and "<td>2</td>" in page
    assert DncList.objects.in_force().get(tenant=cast.acme) == first
    assert not any(uploads.iterdir())


@pytest.mark.django_db(transaction=True)
def test_the_task_leaves_a_version_no_longer_building_alone_and_removes_its_file(cast, uploads):
    done = dnc_list_for(tenant=cast.acme)
    uploads.mkdir()
    stored = uploads / f"{done.pk}.upload"
    stored.write_bytes(b"0612345678\n")
    assert dnc_list_import_upload(dnc_list_id=done.pk, upload_name=stored.name) == done
    assert not stored.exists()
    with pytest.raises(ValueError, match="not an uploaded do-not-call list"):
        dnc_list_import_upload(dnc_list_id=done.pk, upload_name="../../etc/passwd")


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_uploader_lost_her_role_fails_on_the_trail(cast, uploads):
    client = Client()
    client.force_login(cast.alice)
    client.post(reverse(ADD), _form(cast.acme, b"0612345678\n"))  # no worker: it waits
    waiting = DncList.objects.get()
    cast.alice.memberships.all().delete()
    assert dnc_list_import_upload(dnc_list_id=waiting.pk, upload_name=f"{waiting.pk}.upload")
    waiting.refresh_from_db()
    assert waiting.status == DncListStatus.FAILED and "may not import" in waiting.failure
    failed = AuditEvent.objects.get(action="dnc_list.import_failed")
    assert failed.target_id == str(waiting.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [entries_table(waiting.pk)])
        assert cursor.fetchone()[0] is None
    assert not any(uploads.iterdir())


# --- the pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_each_versions_age_numbers_status_and_freshness(cast, login):
    now = timezone.now()
    tps = dnc_list_for(tenant=None, source="tps", delivered_at=now - timedelta(days=40))
    ctps = dnc_list_for(tenant=None, source="ctps", delivered_at=now - timedelta(days=3))
    internal = dnc_list_for(tenant=cast.acme, entry_count=12345)
    page = login(cast.root).get(reverse(CHANGELIST)).content.decode()
    stale = in_tenant_zone(tps.delivered_at + timedelta(days=28), None)
    fresh = in_tenant_zone(ctps.delivered_at + timedelta(days=28), None)
    assert f"stale since {stale}" in page and "40 days" in page
    assert f"fresh until {fresh}" in page and "3 days" in page
    assert "never goes stale" in page and "12345" in page
    assert internal.version in page


@pytest.mark.django_db
def test_the_list_opens_with_each_list_the_tenant_screens_against_and_its_freshness(cast, login):
    now = timezone.now()
    dnc_list_for(
        tenant=None, source="tps", version="tps-old", delivered_at=now - timedelta(days=40)
    )
    dnc_list_for(tenant=cast.acme, version="acme-2026-12", delivered_at=now - timedelta(days=2))
    page = login(cast.alice).get(reverse(CHANGELIST)).content.decode()
    assert "The lists Acme Insurance screens against" in page
    assert "version acme-2026-12" in page and "2 days" in page
    # The TPS applies to every tenant once in force: stale after 28 days, and since when.
    assert "TPS: the version in force, tps-old, (" in page and "stale since" in page
    assert "Globex" not in page


@pytest.mark.django_db
def test_a_version_being_imported_shows_its_progress_and_refreshes_itself(cast, login):
    building = dnc_list_for(
        tenant=cast.acme,
        status=DncListStatus.BUILDING,
        file_size=1000,
        bytes_read=420,
        lines_read=35,
        entry_count=35,
    )
    client = login(cast.alice)
    page = client.get(_page(building)).content.decode()
    assert '<progress max="100" value="42">' in page
    assert 'http-equiv="refresh" content="5"' in page
    assert "The version in force answers every check until this one is whole." in page
    assert "42%" in client.get(reverse(CHANGELIST)).content.decode()


@pytest.mark.django_db
def test_tenants_read_the_platforms_lists_and_their_own_never_anothers(cast, login):
    tps = dnc_list_for(tenant=None, source="tps")
    acme = dnc_list_for(tenant=cast.acme, version="acme-list")
    globex = dnc_list_for(tenant=cast.globex, version="globex-list")
    for person, own, foreign in [(cast.alice, acme, globex), (cast.erin, globex, acme)]:
        client = Client()
        client.force_login(person)
        listed = set(client.get(reverse(CHANGELIST)).context["cl"].result_list)
        assert listed == {tps, own}
        assert client.get(_page(tps)).status_code == 200  # read only
        assert client.post(_page(tps), {"version": "x"}).status_code == 403
        assert client.get(_page(foreign)).status_code == 302  # "does not exist"
    dave = Client()
    dave.force_login(cast.dave)  # the auditor reads them
    assert dave.get(reverse(CHANGELIST)).status_code == 200
    assert dave.get(reverse(ADD)).status_code == 403
    bob = Client()
    bob.force_login(cast.bob)
    assert bob.get(reverse(CHANGELIST)).status_code == 403


@pytest.mark.django_db
def test_an_officer_uploads_only_her_tenants_internal_list(cast, login, uploads):
    client = login(cast.alice)
    form = client.get(reverse(ADD)).context["adminform"].form
    assert [value for value, _ in form.fields["source"].choices if value] == ["internal"]
    as_tps = client.post(reverse(ADD), _form(None, b"07400000001\n", source="tps"))
    assert "source" in as_tps.context["adminform"].form.errors
    for_globex = client.post(reverse(ADD), _form(cast.globex, b"612345678\n"))
    assert "tenant" in for_globex.context["adminform"].form.errors
    assert not DncList.objects.exists() and not uploads.exists()


@pytest.mark.django_db
def test_a_platform_operator_uploads_a_national_list_for_every_tenant(
    cast, login, uploads, django_capture_on_commit_callbacks
):
    client = login(cast.root)
    form = client.get(reverse(ADD)).context["adminform"].form
    assert {value for value, _ in form.fields["source"].choices if value} == {
        "tps",
        "ctps",
        "internal",
    }
    with_tenant = client.post(reverse(ADD), _form(cast.acme, b"07400000001\n", source="tps"))
    assert "platform list" in str(with_tenant.context["adminform"].form.errors)
    with django_capture_on_commit_callbacks() as sent:
        response = client.post(reverse(ADD), _form(None, b"07400000001\n", source="tps"))
    dnc_list = DncList.objects.get()
    assert response.status_code == 302 and dnc_list.tenant is None
    assert len(sent) == 1  # the worker's task, once committed
    assert (uploads / f"{dnc_list.pk}.upload").read_bytes() == b"07400000001\n"


@pytest.mark.django_db
def test_an_upload_is_refused_while_another_version_of_the_list_waits(cast, login, uploads):
    queued = dnc_list_for(tenant=cast.acme, status=DncListStatus.BUILDING, version="queued")
    dnc_list_for(tenant=cast.globex, status=DncListStatus.BUILDING, version="killed")
    uploads.mkdir()
    (uploads / f"{queued.pk}.upload").write_bytes(b"0612345678\n")  # its worker has not run
    client = login(cast.erin)  # Globex's version was left by a dead import: no file waits
    response = client.post(reverse(ADD), _form(cast.globex, b"612345678\n"))
    assert response.status_code == 302 and DncList.objects.filter(tenant=cast.globex).count() == 2
    client = login(cast.alice)
    response = client.post(reverse(ADD), _form(cast.acme, b"0612345678\n"))
    assert "waiting to be imported" in str(response.context["adminform"].form.errors)
    assert DncList.objects.filter(tenant=cast.acme).count() == 1
