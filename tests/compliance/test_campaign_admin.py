"""Campaigns in the admin (compliance/admin/campaigns.py): alice creates one, uploads its numbers,
exports Bloctel's file and imports its answer, each through its service; the list and the page
show the lists that apply, their freshness, the screenings and the share of numbers removed;
bad files are form errors; erin of Globex never sees Acme's campaigns, dave only reads them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.dnc_models import Campaign, CampaignNumber, Screening, ScreeningStatus
from compliance.services.campaigns import campaign_numbers_import
from compliance.services.screenings import screening_answer_import, screening_export

from ..factories import PurposeFactory, campaign_for, dnc_entries_add, dnc_list_for, dnc_opt_out_for

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:compliance_campaign_changelist"


def _url(name: str, campaign: Campaign) -> str:
    return reverse(f"admin:compliance_campaign_{name}", args=[campaign.pk])


def _file(content: bytes, name: str = "numbers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.fixture
def campaign(cast):
    return campaign_for(
        tenant=cast.acme,
        name="Spring renewals",
        numbers=("0612345678", "0612345679", "0612345680", "0612345681"),
    )


def test_alice_creates_a_campaign_through_the_service(cast, login):
    client = login(cast.alice)
    purpose = PurposeFactory(tenant=cast.acme, name="Telemarketing calls")
    today = timezone.localdate()
    response = client.post(
        reverse("admin:compliance_campaign_add"),
        {
            "tenant": cast.acme.pk,
            "name": "Winter offers",
            "purpose": purpose.pk,
            "legal_basis": "legitimate_interest",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=20)).isoformat(),
        },
    )
    campaign = Campaign.objects.get(name="Winter offers")
    assert response.status_code == 302 and response.url == _url("change", campaign)
    assert campaign.sources == ["internal", "bloctel"] and campaign.created_by == "alice"


def test_a_campaign_ending_before_it_starts_is_a_form_error(cast, login):
    client = login(cast.alice)
    today = timezone.localdate()
    response = client.post(
        reverse("admin:compliance_campaign_add"),
        {
            "tenant": cast.acme.pk,
            "name": "Backwards",
            "purpose": PurposeFactory(tenant=cast.acme).pk,
            "legal_basis": "legitimate_interest",
            "starts_on": today.isoformat(),
            "ends_on": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert "ends before it starts" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_list_shows_purpose_dates_numbers_lists_and_freshness(cast, login, campaign):
    response = login(cast.alice).get(reverse(CHANGELIST))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Spring renewals" in page and campaign.purpose.name in page
    assert campaign.starts_on.isoformat() in page
    assert "Bloctel (France)" in page and "Internal opt-outs" in page
    # Never screened by Bloctel: stale, and the page says which list.
    assert "Bloctel: this campaign&#x27;s file has never been screened." in page


def test_the_lists_queries_do_not_grow_with_its_campaigns(cast, login, campaign):
    """The freshness column is read for the whole page at once, not per row."""
    client = login(cast.alice)
    client.get(reverse(CHANGELIST))  # the session and caches warmed
    with CaptureQueriesContext(connection) as one:
        client.get(reverse(CHANGELIST))
    for index in range(5):
        campaign_for(tenant=cast.acme, name=f"Autumn {index}", numbers=("0612345678",))
    with CaptureQueriesContext(connection) as six:
        page = client.get(reverse(CHANGELIST)).content.decode()
    assert "Autumn 4" in page
    assert len(six.captured_queries) == len(one.captured_queries)


def test_the_list_filters_campaigns_by_freshness(cast, login, campaign):
    client = login(cast.alice)
    stale = client.get(reverse(CHANGELIST), {"freshness": "stale"}).content.decode()
    fresh = client.get(reverse(CHANGELIST), {"freshness": "fresh"}).content.decode()
    assert "Spring renewals" in stale and "Spring renewals" not in fresh


def test_alice_uploads_numbers_and_sees_what_was_added(cast, login, campaign):
    client = login(cast.alice)
    response = client.post(
        _url("numbers", campaign),
        {"file": _file(b"numero\n0612345690\n+447911123456\n"), "max_rejected": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert "2 numbers added" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.number_count == 6 and "tps" in campaign.sources


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"0612345690\nhello\n", "line 2"),
        (b"name,city\nDupont,Lyon\n", "no number column"),
        (b"0612345690\n06123", "truncated"),
        (b"", "empty"),
    ],
)
def test_a_bad_file_of_numbers_is_a_form_error_and_adds_nothing(
    cast, login, campaign, content, error
):
    response = login(cast.alice).post(
        _url("numbers", campaign), {"file": _file(content), "max_rejected": "0"}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert CampaignNumber.objects.filter(campaign=campaign).count() == 4


def test_a_latin1_file_with_a_byte_order_mark_free_header_is_read(cast, login, campaign):
    content = "Numéro;Nom\n0612345691;Hélène\n".encode("latin-1")
    login(cast.alice).post(_url("numbers", campaign), {"file": _file(content), "max_rejected": "0"})
    assert CampaignNumber.objects.filter(campaign=campaign).count() == 5


def test_alice_exports_bloctels_file_and_imports_its_answer(cast, login, campaign):
    client = login(cast.alice)
    response = client.post(_url("export", campaign), {"source": "bloctel"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="bloctel-')
    assert response.content == b"0612345678\n0612345679\n0612345680\n0612345681\n"
    screening = Screening.objects.get(campaign=campaign)
    response = client.post(
        _url("answer", campaign),
        {
            "screening": screening.pk,
            "screened_on": timezone.localdate().isoformat(),
            "file": _file(b"0612345679\n", "answer.txt"),
        },
        follow=True,
    )
    assert "1 numbers to remove" in response.content.decode()
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.ANSWERED
    page = client.get(_url("change", campaign)).content.decode()
    assert "25%" in page  # 1 of the 4 numbers submitted


def test_an_answer_with_numbers_not_submitted_or_a_future_date_is_a_form_error(
    cast, login, campaign
):
    client = login(cast.alice)
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    response = client.post(
        _url("answer", campaign),
        {
            "screening": screening.pk,
            "screened_on": timezone.localdate().isoformat(),
            "file": _file(b"0612345679\n0699999999\n", "answer.txt"),
        },
    )
    assert "lines 2" in response.content.decode()
    response = client.post(
        _url("answer", campaign),
        {
            "screening": screening.pk,
            "screened_on": (timezone.localdate() + timedelta(days=3)).isoformat(),
            "file": _file(b"0612345679\n", "answer.txt"),
        },
    )
    assert "in the future" in response.content.decode()
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.SUBMITTED


def test_the_page_shows_the_share_removed_by_each_list(cast, login, campaign):
    internal = dnc_list_for(tenant=cast.acme)
    dnc_entries_add(internal, [33612345678])
    dnc_opt_out_for(tenant=cast.acme, number="+33612345679")
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    screening_answer_import(
        actor=cast.alice,
        screening=screening,
        data=b"0612345680\n",
        screened_on=timezone.localdate(),
    )
    campaign_numbers_import(actor=cast.alice, campaign=campaign, data=b"0612345697\n")
    page = login(cast.alice).get(_url("change", campaign)).content.decode()
    assert "Numbers removed, by list" in page
    assert "40%" in page  # the internal list and the opt-outs: 2 of 5
    assert "25%" in page  # Bloctel: 1 of the 4 submitted
    # The number added after the export is not screened by Bloctel yet.
    assert "<td><strong>1</strong></td>" in page


def test_erin_screens_globexs_spanish_numbers_with_lista_robinson(cast, login):
    campaign = campaign_for(tenant=cast.globex, name="Ofertas", numbers=("612345678", "712345678"))
    client = login(cast.erin)
    page = client.get(_url("export", campaign)).content.decode()
    assert '<option value="robinson">Lista Robinson (Spain)</option>' in page
    assert '<option value="bloctel">' not in page
    response = client.post(_url("export", campaign), {"source": "robinson"})
    assert response.content == b"612345678\n712345678\n"
    response = client.post(_url("export", campaign), {"source": "bloctel"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_dave_reads_campaigns_but_may_not_upload_or_export(cast, login, campaign):
    client = login(cast.dave)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    page = client.get(_url("change", campaign)).content.decode()
    assert "Spring renewals" in page and _url("numbers", campaign) not in page
    for name in ("numbers", "export", "answer"):
        assert client.get(_url(name, campaign)).status_code == 403
    assert client.post(_url("export", campaign), {"source": "bloctel"}).status_code == 403
    assert not Screening.objects.exists()


def test_bob_and_carol_see_no_campaigns(cast, login, campaign):
    for person in (cast.bob, cast.carol):
        assert login(person).get(reverse(CHANGELIST)).status_code == 403


def test_erin_of_globex_never_reaches_acmes_campaign(cast, login, campaign):
    client = login(cast.erin)
    assert "Spring renewals" not in client.get(reverse(CHANGELIST)).content.decode()
    for name in ("numbers", "export", "answer"):
        assert client.get(_url(name, campaign)).status_code == 404
    response = client.post(_url("export", campaign), {"source": "bloctel"})
    assert response.status_code == 404
    assert not Screening.objects.exists()


def test_a_submitted_file_is_downloaded_again_the_same_and_on_the_trail(cast, login, campaign):
    exported = screening_export(actor=cast.alice, campaign=campaign, source="bloctel")
    # Numbers added since are not in the file the service screened.
    campaign_numbers_import(actor=cast.alice, campaign=campaign, data=b"0612345699\n")
    client = login(cast.alice)
    url = f"{_url('submitted_file', campaign)}?screening={exported.screening.pk}"
    assert url.replace("&", "&amp;") in client.get(_url("change", campaign)).content.decode()
    response = client.get(url)
    assert response.status_code == 200 and response.content == exported.content
    event = AuditEvent.objects.get(action="screening.file_downloaded")
    assert event.target_id == str(exported.screening.pk) and event.actor_username == "alice"
    assert client.get(_url("submitted_file", campaign)).status_code == 404
    assert login(cast.dave).get(url).status_code == 403
    assert login(cast.erin).get(url).status_code == 404
