"""POST /api/v1/dnc/scrub: a file of numbers scrubbed for a campaign, the callable rows back, the
removed rows kept a while for download, one audit event; a bad file refused whole."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from compliance.dnc_models import DncScrub
from compliance.services.api_keys import api_key_create
from compliance.services.dnc_scrubs import dnc_scrubs_expire
from compliance.tasks import expire_dnc_scrubs

from ..factories import CampaignFactory, ScreeningFactory, campaign_numbers_add, dnc_opt_out_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/dnc/scrub"


@pytest.fixture(autouse=True)
def _scrub_root(settings, tmp_path):
    settings.DNC_SCRUB_ROOT = tmp_path / "scrubs"
    return settings.DNC_SCRUB_ROOT


@pytest.fixture
def acme_token(cast) -> str:
    return api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme dialer")[1]


NUMBERS = [33612000000 + n for n in range(3000)]
REMOVED = NUMBERS[::100]  # 30 numbers Bloctel says to remove


@pytest.fixture
def campaign(cast):
    campaign = CampaignFactory(tenant=cast.acme, name="Winter offers")
    campaign_numbers_add(campaign, NUMBERS, added_at=timezone.now() - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign, exported_at=timezone.now() - timedelta(days=4), removed=REMOVED
    )
    return campaign


def _post(token: str, body: bytes, campaign=None):
    url = URL if campaign is None else f"{URL}?campaign={campaign}"
    return Client().post(url, body, content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}")


def _csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(content)))


def _file(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _events(action: str):
    return list(AuditEvent.objects.filter(action=action))


def test_scrub_of_a_few_thousand_rows_returns_the_callable_ones(acme_token, campaign, cast):
    dnc_opt_out_for(tenant=cast.acme, number=f"+{NUMBERS[1]}")
    rows = [["id", "name", "phone"]]
    rows += [[str(i), f"Customer {i}", f"+{number}"] for i, number in enumerate(NUMBERS)]
    rows.append(["x", "Someone", "not a number"])
    response = _post(acme_token, _file(rows), campaign.pk)
    assert response.status_code == 200, response.content
    returned = _csv(response)
    assert returned[0] == ["id", "name", "phone"]
    callable_numbers = {row[2] for row in returned[1:]}
    assert len(callable_numbers) == 3000 - 30 - 1
    assert f"+{REMOVED[0]}" not in callable_numbers and f"+{NUMBERS[1]}" not in callable_numbers
    assert f"+{NUMBERS[2]}" in callable_numbers  # as sent, not escaped: a dialer reads it
    assert response["X-Scrub-Rows"] == "3001"
    assert response["X-Scrub-Callable"] == "2969"
    assert response["X-Scrub-Removed"] == "32"
    assert response["X-Scrub-Removed-By"] == "bloctel=30, internal=1, invalid_number=1"
    scrub = DncScrub.objects.get()
    assert response["X-Scrub-Removed-Url"] == f"/api/v1/dnc/scrubs/{scrub.pk}/removed"
    [event] = _events("dnc.scrubbed")
    assert event.tenant_id == cast.acme.pk
    assert event.extra["rows"] == 3001 and event.extra["removed_by"]["bloctel"] == 30


def test_removed_rows_are_downloaded_with_their_reasons(acme_token, campaign):
    body = _file([["number"], [f"+{REMOVED[0]}"], [f"+{NUMBERS[1]}"], ["=cmd|' /C calc'!A0"]])
    response = _post(acme_token, body, campaign.pk)
    url = response["X-Scrub-Removed-Url"]
    removed = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {acme_token}")
    assert removed.status_code == 200
    assert _csv(removed) == [
        ["number", "reasons"],
        [f"+{REMOVED[0]}", "bloctel"],
        ["'=cmd|' /C calc'!A0", "invalid_number"],
    ]
    assert len(_events("dnc.scrub_downloaded")) == 1


def test_cells_that_run_as_formulas_come_back_escaped(acme_token, campaign):
    body = _file([["name", "number"], ['=HYPERLINK("http://x")', f"+{NUMBERS[2]}"]])
    rows = _csv(_post(acme_token, body, campaign.pk))
    assert rows[1] == ['\'=HYPERLINK("http://x")', f"+{NUMBERS[2]}"]


def test_single_column_file_without_header_and_national_numbers(acme_token, campaign):
    body = f"0{str(NUMBERS[2])[2:]}\n0{str(REMOVED[1])[2:]}\n".encode()
    response = _post(acme_token, body, campaign.pk)
    assert response.status_code == 200
    assert _csv(response) == [[f"0{str(NUMBERS[2])[2:]}"]]
    assert response["X-Scrub-Removed-By"] == "bloctel=1"


def test_semicolons_and_a_utf8_byte_order_mark_are_read(acme_token, campaign):
    body = "\ufeff".encode() + _file([["Nom", "Numéro"], ["Zoé", f"+{NUMBERS[3]}"]], ";")
    response = _post(acme_token, body, campaign.pk)
    assert response.status_code == 200
    assert response["X-Scrub-Callable"] == "1"


def test_removed_rows_expire(acme_token, campaign, _scrub_root):
    response = _post(acme_token, _file([["number"], [f"+{REMOVED[0]}"]]), campaign.pk)
    scrub = DncScrub.objects.get()
    assert dnc_scrubs_expire(now=timezone.now()) == 0
    DncScrub.objects.filter(pk=scrub.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_dnc_scrubs() == {"expired": 1}
    assert list(_scrub_root.iterdir()) == []
    assert DncScrub.objects.get().file_key is None
    gone = Client().get(response["X-Scrub-Removed-Url"], HTTP_AUTHORIZATION=f"Bearer {acme_token}")
    assert gone.status_code == 410
    assert gone.json()["field"] == "scrub"


def test_files_a_killed_scrub_left_are_deleted_after_an_hour(_scrub_root):
    import os

    _scrub_root.mkdir(parents=True, exist_ok=True)
    left = _scrub_root / "0f0e.callable"
    left.write_bytes(b"sealed rows")
    assert dnc_scrubs_expire() == 0
    assert left.exists()  # a scrub may be running
    hour_ago = (timezone.now() - timedelta(hours=1, minutes=1)).timestamp()
    os.utime(left, (hour_ago, hour_ago))
    dnc_scrubs_expire()
    assert not left.exists()


def test_another_tenant_gets_404_for_the_campaign_and_the_removed_rows(acme_token, campaign, cast):
    globex_token = api_key_create(actor=cast.erin, tenant=cast.globex, name="Globex")[1]
    refused = _post(globex_token, _file([["number"], [f"+{NUMBERS[1]}"]]), campaign.pk)
    assert refused.status_code == 404 and refused.json()["field"] == "campaign"
    response = _post(acme_token, _file([["number"], [f"+{REMOVED[0]}"]]), campaign.pk)
    other = Client().get(
        response["X-Scrub-Removed-Url"], HTTP_AUTHORIZATION=f"Bearer {globex_token}"
    )
    assert other.status_code == 404
    assert other.json() == {"error": "no such scrub", "field": "scrub"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "the body is empty"),
        (b"name,city\nZoe,Paris\n", "names no number column (name, city)"),
        ("number\n+33612000001\nZo\xe9\n".encode("latin-1"), "not UTF-8 (line 3)"),
        (b"\xff\xfen\x00u\x00m\x00", "UTF-16"),
        (b"name,number\nZoe,+33612000001\nJo\n", "line 3 has 1 fields where the first line has 2"),
        (b'name,number\nZoe,+33612000001\n"Jo,+336', "cut short"),
        (b"number\n" + b"1" * 70_000 + b"\n", "line 2 is longer than 65,536 characters"),
    ],
)
def test_bad_file_is_refused_whole_and_nothing_is_kept(
    acme_token, campaign, _scrub_root, body, problem
):
    response = _post(acme_token, body, campaign.pk)
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert problem in response.json()["error"]
    assert not DncScrub.objects.exists()
    assert list(_scrub_root.iterdir()) == []
    [event] = _events("dnc.scrub_refused")
    assert event.outcome == "denied"
    assert _events("dnc.scrubbed") == []


def test_a_body_shorter_than_its_content_length_is_refused(acme_token, campaign, cast):
    from compliance.services.dnc_scrubs import ScrubRefused, dnc_scrub_run

    body = io.BytesIO(b"number\n+33612000001\n")  # the client went away after these bytes
    with pytest.raises(ScrubRefused, match="cut short"):
        dnc_scrub_run(
            actor="test",
            tenant=cast.acme,
            campaign=campaign,
            stream=body,
            api_key="test",
            declared_bytes=1_000,
        )
    assert not DncScrub.objects.exists()
    assert len(_events("dnc.scrub_refused")) == 1


def test_missing_campaign_is_refused(acme_token, campaign):
    response = _post(acme_token, b"number\n+33612000001\n")
    assert response.status_code == 400
    assert response.json()["field"] == "campaign"


def test_get_is_refused(acme_token, campaign):
    response = Client().get(
        f"{URL}?campaign={campaign.pk}", HTTP_AUTHORIZATION=f"Bearer {acme_token}"
    )
    assert response.status_code == 405


@pytest.mark.django_db(transaction=True)
def test_end_to_end_a_file_streamed_to_a_live_server_comes_back_scrubbed(cast, live_server):
    """Through a real HTTP server: the body sent in pieces with its Content-Length, the
    callable rows read back as they stream, the removed rows fetched from the URL given."""
    import http.client
    from urllib.parse import urlsplit

    campaign = CampaignFactory(tenant=cast.acme, name="Spring offers")
    numbers = [33612100000 + n for n in range(2500)]
    campaign_numbers_add(campaign, numbers, added_at=timezone.now() - timedelta(days=5))
    ScreeningFactory(
        campaign=campaign, exported_at=timezone.now() - timedelta(days=4), removed=numbers[:25]
    )
    token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme dialer")[1]
    body = _file([["phone", "note"], *([f"+{n}", "x" * 50] for n in numbers)])
    parsed = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    connection.putrequest("POST", f"{URL}?campaign={campaign.pk}")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    for start in range(0, len(body), 7_000):
        connection.send(body[start : start + 7_000])
    response = connection.getresponse()
    assert response.status == 200
    rows = list(csv.reader(io.StringIO(response.read().decode())))
    connection.close()
    assert len(rows) == 1 + 2500 - 25
    assert response.getheader("X-Scrub-Removed-By") == "bloctel=25"
    removed = Client().get(
        response.getheader("X-Scrub-Removed-Url"), HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert len(_csv(removed)) == 1 + 25


def test_a_sealed_file_altered_cut_short_or_renamed_does_not_read_back(tmp_path):
    from kit.sealed_files import RECORD_BYTES, SealBroken, SealedWriter, new_key, sealed_records

    key = new_key()
    writer = SealedWriter(tmp_path / "a", key, "a")
    writer.write(b"x" * (RECORD_BYTES * 2 + 10))
    writer.close()
    data = (tmp_path / "a").read_bytes()
    assert b"".join(sealed_records(io.BytesIO(data), key, "a")) == b"x" * (RECORD_BYTES * 2 + 10)
    altered = bytearray(data)
    altered[100] ^= 1
    cut = data[: len(data) - (len(data) - 4) // 3]  # ends inside a record
    whole_records = data[: 4 + 12 + RECORD_BYTES + 16]  # the first record only: not the last
    for stream, name in (
        (bytes(altered), "a"),
        (cut, "a"),
        (whole_records, "a"),
        (data, "b"),  # another file's name
    ):
        with pytest.raises(SealBroken):
            b"".join(sealed_records(io.BytesIO(stream), key, name))


@pytest.mark.parametrize(
    ("language", "problem"),
    [
        ("es", "la línea 2 supera los 65.536 caracteres"),
        ("fr", "la ligne 2 dépasse 65\u202f536 caractères"),
    ],
)
def test_a_refused_file_reads_in_the_caller_s_language_and_in_english_on_the_trail(
    acme_token, campaign, language, problem
):
    response = Client().post(
        f"{URL}?campaign={campaign.pk}",
        b"number\n" + b"1" * 70_000 + b"\n",
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {acme_token}",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    assert response.json() == {"error": problem, "field": "body"}
    [event] = _events("dnc.scrub_refused")
    assert event.extra["reason"] == "line 2 is longer than 65,536 characters"
