"""A compliance officer sees last night's run, its counts and its certificates in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from recordings.models import DeletionCertificate, PurgeRun, Recording
from recordings.services.purge.run import purge_expired_recordings

from .helpers import ingest

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=400)


def test_officer_sees_the_run_its_counts_and_only_her_tenants_certificates(cast, login):
    ingest(cast.acme, started_at=LONG_AGO)
    ingest(cast.globex, started_at=LONG_AGO, number="+34612345678")
    ingest(cast.acme, started_at=LONG_AGO)
    client = login(cast.alice)
    preview = client.get(reverse("admin:recordings_purgerun_changelist"))
    assert b"What tonight&#x27;s run would delete" in preview.content
    assert b"Acme Insurance" in preview.content and b"Globex Telecom" not in preview.content
    run = purge_expired_recordings()
    listing = client.get(reverse("admin:recordings_purgerun_changelist"))
    assert [r.pk for r in listing.context["cl"].result_list] == [run.pk]
    page = client.get(reverse("admin:recordings_purgerun_change", args=[run.pk]))
    assert page.status_code == 200
    acme_ids = set(
        DeletionCertificate.objects.filter(tenant=cast.acme).values_list("recording_id", flat=True)
    )
    inline = page.context["inline_admin_formsets"][0].formset
    assert {form.instance.recording_id for form in inline.forms} == acme_ids
    assert run.purged == 3 and b"Finished" in page.content
    certificates = client.get(reverse("admin:recordings_deletioncertificate_changelist"))
    assert {c.recording_id for c in certificates.context["cl"].result_list} == acme_ids
    assert b"icon-yes.svg" in certificates.content  # signatures verify


def test_quality_analyst_does_not_see_purge_runs(cast, login):
    assert login(cast.carol).get(reverse("admin:recordings_purgerun_changelist")).status_code == 403


def test_a_tenants_officer_sees_her_tenants_figures_of_a_run_not_the_platforms(cast, login):
    """A run spans every tenant: its totals would tell Acme how much Globex deletes and keeps
    (issue 11, finding 7). The officer sees Acme's figures; the platform operator the totals."""
    ingest(cast.acme, started_at=LONG_AGO)
    for _ in range(4):
        ingest(cast.globex, started_at=LONG_AGO, number="+34612345678")
    run = purge_expired_recordings()
    assert (run.expired_found, run.purged) == (5, 5)
    client = login(cast.alice)
    listing = client.get(reverse("admin:recordings_purgerun_changelist")).content.decode()
    page = client.get(reverse("admin:recordings_purgerun_change", args=[run.pk]))
    for column in ("expired_found", "purged", "skipped_held", "failed", "files_removed"):
        assert f'class="field-{column}' not in listing, column
        assert f'class="form-row field-{column}' not in page.content.decode(), column
    assert '<td class="field-tenant_to_delete">1</td>' in listing
    assert '<td class="field-tenant_held_back">0</td>' in listing
    assert "Globex" not in listing and "Globex" not in page.content.decode()
    operator = login(cast.root).get(reverse("admin:recordings_purgerun_changelist"))
    assert '<td class="field-purged">5</td>' in operator.content.decode()


DRY_RUN = reverse("admin:recordings_purgerun_dry_run")


def test_an_officer_starts_a_dry_run_from_the_purge_runs_page(cast, login):
    expired = ingest(cast.acme, started_at=LONG_AGO)
    client = login(cast.alice)
    page = client.get(reverse("admin:recordings_purgerun_changelist")).content.decode()
    assert f'action="{DRY_RUN}"' in page and "Start a dry run" in page
    assert client.get(DRY_RUN).status_code == 405  # a command: POST only
    response = client.post(DRY_RUN)
    run = PurgeRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:recordings_purgerun_change", args=[run.pk])
    # Recorded as the command's dry run is: a run that deletes nothing, naming who started it.
    assert (run.status, run.triggered_by, run.purged) == ("dry_run", "alice (admin)", 0)
    assert [(row["tenant"], row["to_delete"]) for row in run.preview] == [("Acme Insurance", 1)]
    assert Recording.objects.filter(pk=expired.pk).exists()
    shown = client.get(response["Location"]).content.decode()
    assert "Preview (dry run)" in shown and "Nothing was deleted" in shown


def test_roles_that_may_not_start_a_dry_run_neither_see_nor_use_it(cast, login):
    ingest(cast.acme, started_at=LONG_AGO)
    client = login(cast.dave)  # the auditor reads runs, starts none
    page = client.get(reverse("admin:recordings_purgerun_changelist")).content.decode()
    assert "Start a dry run" not in page
    assert client.post(DRY_RUN).status_code == 403
    assert login(cast.carol).post(DRY_RUN).status_code == 403
    assert not PurgeRun.objects.exists()
    assert login(cast.root).post(DRY_RUN).status_code == 302  # the platform operator may
