"""The recording register in the admin: read-only, tenant-scoped, masked in the list, traced on
the detail page, and built for 10 million rows (capped counts, exact search, bounded filters)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.pseudonyms import customer_number_hash
from compliance.models import LegalBasis, Purpose
from kit.paginators import CappedCountPaginator
from recordings.admin import tenant_campaigns
from recordings.models import AccessGrant, Recording
from recordings.services.access import access_grant_request
from recordings.services.ingest import recording_ingest

from ..audio import tone_wav

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/recordings/recording/"


def _ingest(tenant, call_id, *, number="06 12 34 56 78", purpose="quality", campaign=""):
    return recording_ingest(
        tenant=tenant,
        api_key=None,
        audio=tone_wav(0.5),
        fields={
            "call_id": call_id,
            "direction": "outbound" if campaign else "inbound",
            "started_at": (timezone.now() - timedelta(hours=3)).isoformat(),
            "customer_number": number,
            "purpose": purpose,
            "campaign": campaign,
        },
    ).recording


def _listed(response) -> set[str]:
    assert response.status_code == 200
    return {recording.call_id for recording in response.context["cl"].result_list}


def _change_url(recording: Recording) -> str:
    return reverse("admin:recordings_recording_change", args=[recording.pk])


@pytest.fixture
def calls(cast):
    return {
        "acme": _ingest(cast.acme, "acme-1"),
        "globex": _ingest(cast.globex, "globex-1", number="612 34 56 78"),
    }


# --- the list ----------------------------------------------------------------------------------


def test_changelist_masks_customer_numbers(cast, login, calls):
    page = login(cast.alice).get(CHANGELIST)
    assert _listed(page) == {"acme-1"}
    assert "+336•••••78".encode() in page.content
    assert b"+33612345678" not in page.content


def test_changelist_hides_other_tenants_recordings(cast, login, calls):
    assert _listed(login(cast.alice).get(CHANGELIST)) == {"acme-1"}
    assert _listed(login(cast.erin).get(CHANGELIST)) == {"globex-1"}
    assert _listed(login(cast.root).get(CHANGELIST)) == {"acme-1", "globex-1"}


def test_changelist_counts_are_capped_for_huge_tables(cast, login, calls):
    changelist = login(cast.alice).get(CHANGELIST).context["cl"]
    assert isinstance(changelist.paginator, CappedCountPaginator)
    assert changelist.show_full_result_count is False
    assert changelist.model_admin.date_hierarchy is None


def test_changelist_filters_by_retention_window(cast, login):
    today = timezone.localdate()
    for call_id, days in [("past", -1), ("in-5", 5), ("in-20", 20), ("in-90", 90)]:
        recording = _ingest(cast.acme, call_id)
        Recording.objects.filter(pk=recording.pk).update(retain_until=today + timedelta(days=days))
    purged = _ingest(cast.acme, "purged")
    Recording.objects.filter(pk=purged.pk).update(retain_until=today, status="purged")
    client = login(cast.alice)
    for window, expected in [
        ("expired", {"past"}),
        ("7d", {"in-5"}),
        ("30d", {"in-5", "in-20"}),
        ("later", {"in-90"}),
    ]:
        assert _listed(client.get(CHANGELIST, {"retention_ends": window})) == expected, window


def test_retention_window_lists_soonest_end_first_whatever_column_sort_is_asked(cast, login):
    """A window is listed in the order its index gives (retain_until, then id: the purge's own
    order), also when the link carries a column sort over from the unfiltered list; its column
    headers offer no other sort."""
    today = timezone.localdate()
    for call_id, days in [("in-9", 9), ("in-2", 2), ("in-20", 20), ("in-2b", 2)]:
        recording = _ingest(cast.acme, call_id)
        Recording.objects.filter(pk=recording.pk).update(retain_until=today + timedelta(days=days))
    client = login(cast.alice)
    for query in ({"retention_ends": "30d"}, {"retention_ends": "30d", "o": "2"}):
        response = client.get(CHANGELIST, query)
        assert response.status_code == 200
        listed = [recording.call_id for recording in response.context["cl"].result_list]
        assert listed == ["in-2", "in-2b", "in-9", "in-20"], query
        assert not response.context["cl"].sortable_by
    unfiltered = client.get(CHANGELIST)
    assert [r.call_id for r in unfiltered.context["cl"].result_list][0] == "in-2b"  # newest call


def test_purpose_filter_lists_only_the_viewers_purposes_and_filters(cast, login):
    Purpose.objects.create(
        tenant=cast.globex,
        code="loyalty",
        name="Globex loyalty programme",
        legal_basis=LegalBasis.CONSENT,
        requires_consent=True,
        default_retention_months=3,
    )
    _ingest(cast.acme, "q-1", purpose="quality")
    _ingest(cast.acme, "t-1", purpose="training")
    client = login(cast.alice)
    page = client.get(CHANGELIST)
    assert b"Quality monitoring" in page.content
    assert b"Globex loyalty programme" not in page.content
    quality = Purpose.objects.get(tenant__isnull=True, code="quality")
    assert _listed(client.get(CHANGELIST, {"purpose": quality.pk})) == {"q-1"}
    assert b"Globex loyalty programme" in login(cast.erin).get(CHANGELIST).content


def test_campaign_filter_offers_only_the_viewers_campaigns(cast, login):
    _ingest(cast.acme, "w-1", campaign="Winter renewals")
    _ingest(cast.acme, "w-2", campaign="Winter renewals", number="06 12 34 56 79")
    _ingest(cast.acme, "s-1", campaign="Spring offers")
    _ingest(cast.acme, "none")
    _ingest(cast.globex, "g-1", campaign="Globex secret launch", number="612 34 56 78")
    client = login(cast.alice)
    page = client.get(CHANGELIST)
    assert b"Winter renewals" in page.content and b"Spring offers" in page.content
    assert b"Globex secret launch" not in page.content
    assert _listed(client.get(CHANGELIST, {"campaign": "Winter renewals"})) == {"w-1", "w-2"}
    assert tenant_campaigns(cast.acme.pk) == ["Spring offers", "Winter renewals"]
    assert tenant_campaigns(cast.acme.pk, limit=1) == ["Spring offers"]


def test_search_finds_a_national_format_number_or_an_exact_call_id(cast, login, calls):
    _ingest(cast.acme, "acme-2", number="+33 7 81 23 45 67")
    client = login(cast.alice)
    assert _listed(client.get(CHANGELIST, {"q": "06 12 34 56 78"})) == {"acme-1"}
    assert _listed(client.get(CHANGELIST, {"q": "+33612345678"})) == {"acme-1"}
    assert _listed(client.get(CHANGELIST, {"q": "acme-2"})) == {"acme-2"}
    assert _listed(client.get(CHANGELIST, {"q": "acme"})) == set()  # exact, no icontains
    assert _listed(client.get(CHANGELIST, {"q": "0612"})) == set()
    # Globex is Spanish: the same national digits are read as a Spanish number there.
    assert _listed(login(cast.erin).get(CHANGELIST, {"q": "612 34 56 78"})) == {"globex-1"}
    assert _listed(login(cast.erin).get(CHANGELIST, {"q": "06 12 34 56 78"})) == set()


def _searches():
    return AuditEvent.objects.filter(action="recording.searched").order_by("sequence")


def test_a_search_by_number_is_traced_with_the_number_masked_and_hashed(cast, login, calls):
    client = login(cast.alice)
    page = client.get(CHANGELIST, {"q": "06 12 34 56 78"}, headers={"X-Workstation-Id": "WS-3"})
    assert _listed(page) == {"acme-1"}
    searched = _searches().get()
    assert (searched.actor_username, searched.tenant_id, searched.workstation_id) == (
        "alice",
        cast.acme.pk,
        "WS-3",
    )
    assert (searched.target_type, searched.target_id, searched.target_label) == (
        "customer_number",
        customer_number_hash("+33612345678"),
        "+336•••••78",
    )
    assert searched.extra == {"user": "alice", "search": "customer_number"}
    # The append-only trail never holds the number itself, in any format.
    stored = AuditEvent.objects.filter(pk=searched.pk).values().get()
    for name in ("hash", "previous_hash", "target_id"):  # hex digests
        del stored[name]
    assert not any(digits in str(stored) for digits in ("12345678", "12 34 56 78"))
    # Erin's (Spanish) tenant reads the national digits as a Spanish number, on her own trail.
    login(cast.erin).get(CHANGELIST, {"q": "612 34 56 78"})
    assert _searches().last().tenant_id == cast.globex.pk
    assert _searches().last().target_id == customer_number_hash("+34612345678")


def test_a_search_across_tenants_is_on_each_tenants_trail(cast, login, calls):
    assert _listed(login(cast.root).get(CHANGELIST, {"q": "+33612345678"})) == {"acme-1"}
    searches = _searches()
    assert sorted(searches.values_list("tenant_id", flat=True)) == sorted(
        [cast.acme.pk, cast.globex.pk]
    )
    assert {(event.actor_id, event.target_id) for event in searches} == {
        (cast.root.pk, customer_number_hash("+33612345678"))
    }


def test_a_search_by_call_id_or_by_something_else_is_not_traced(cast, login, calls):
    client = login(cast.alice)
    assert _listed(client.get(CHANGELIST, {"q": "acme-1"})) == {"acme-1"}
    assert _listed(client.get(CHANGELIST, {"q": "0612"})) == set()
    assert _listed(client.get(CHANGELIST)) == {"acme-1"}
    assert not _searches().exists()


def test_a_search_by_number_for_a_legal_hold_is_traced_too(cast, login, calls):
    """The legal hold form's recording picker searches the same way: it reveals the same."""
    response = login(cast.alice).get(
        reverse("admin:autocomplete"),
        {
            "term": "06 12 34 56 78",
            "app_label": "compliance",
            "model_name": "legalhold",
            "field_name": "recordings",
        },
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["call acme-1"]
    assert _searches().get().target_id == customer_number_hash("+33612345678")


def test_tracing_a_search_costs_one_insert_and_no_count(cast, login, calls):
    client = login(cast.alice)
    client.get(CHANGELIST)  # the session and the caches are warm
    with CaptureQueriesContext(connection) as by_call_id:
        client.get(CHANGELIST, {"q": "acme-1"})
    with CaptureQueriesContext(connection) as by_number:
        client.get(CHANGELIST, {"q": "06 12 34 56 78"})

    def reads(queries) -> list[str]:
        return [query["sql"] for query in queries if "recordings_recording" in str(query["sql"])]

    # As many reads of the recordings (no count or scan of its own) ...
    assert len(reads(by_number)) == len(reads(by_call_id))
    # ... and one more statement, the event's append (in a savepoint).
    savepoints = [q for q in by_number if str(q["sql"]).startswith(("SAVEPOINT", "RELEASE"))]
    assert len(by_number) - len(by_call_id) == 1 + len(savepoints)
    assert _searches().count() == 1


def test_a_reviewer_finds_who_searched_for_a_number(cast, login, calls):
    login(cast.carol).get(CHANGELIST, {"q": "+33 6 12 34 56 78"})
    login(cast.erin).get(CHANGELIST, {"q": "612 34 56 78"})  # another tenant, another number
    # Dave, Acme's auditor, types the number as he was given it: the hash is computed for him.
    page = login(cast.dave).get("/admin/audit/auditevent/", {"q": "06.12.34.56.78"})
    assert page.status_code == 200
    found = list(page.context["cl"].result_list)
    assert [(event.action, event.actor_username) for event in found] == [
        ("recording.searched", "carol")
    ]
    assert "+336•••••78".encode() in page.content
    assert b"+33612345678" not in page.content


@pytest.mark.parametrize(
    "query",
    [
        {"q": "06 12 34 56 78\x00"},
        {"q": "acme-1\x00"},
        {"status": "active\x00"},
        {"status__exact": "\x00"},
        {"direction": "inbound\x00"},
        {"campaign": "spring\x00"},
        {"purpose": "1", "o": "1\x00"},
    ],
)
def test_a_nul_character_in_the_query_string_is_a_400(cast, login, calls, query):
    """PostgreSQL cannot hold NUL in a query: refused as bad input rather than a 500."""
    assert login(cast.alice).get(CHANGELIST, query).status_code == 400
    assert not _searches().exists()


def test_a_nul_character_in_a_recording_pickers_term_is_a_400(cast, login, calls):
    response = login(cast.alice).get(
        reverse("admin:autocomplete"),
        {
            "term": "acme-1\x00",
            "app_label": "compliance",
            "model_name": "legalhold",
            "field_name": "recordings",
        },
    )
    assert response.status_code == 400
    assert not _searches().exists()


# --- the detail page ---------------------------------------------------------------------------


def test_detail_page_shows_the_full_number_and_records_the_view(cast, login, calls):
    recording = calls["acme"]
    page = login(cast.alice).get(_change_url(recording), headers={"X-Workstation-Id": "DPO-1"})
    assert page.status_code == 200
    assert b"+33612345678" in page.content
    # Its legal basis by its label, never the code.
    assert b"Legitimate interest (Art. 6(1)(f))" in page.content
    assert b"legitimate_interest" not in page.content
    viewed = AuditEvent.objects.filter(action="recording.viewed").get()
    assert (viewed.actor_username, viewed.purpose, viewed.workstation_id, viewed.tenant_id) == (
        "alice",
        "",
        "DPO-1",
        cast.acme.pk,
    )
    assert (viewed.target_type, viewed.target_id) == ("recordings.recording", str(recording.pk))
    login(cast.alice).get(_change_url(recording))
    assert AuditEvent.objects.filter(action="recording.viewed").count() == 2


def test_detail_page_of_another_tenant_reveals_nothing_and_records_no_view(cast, login, calls):
    page = login(cast.erin).get(_change_url(calls["acme"]))
    # The admin answers a row outside the queryset like a missing one (see test_tenant_scoping).
    assert page.status_code == 302
    assert b"acme-1" not in page.content
    assert not AuditEvent.objects.filter(action="recording.viewed").exists()


def test_listen_link_only_for_those_who_may_listen(cast, login, calls):
    recording = calls["acme"]
    listen = f'href="{reverse("recordings:listen", args=[recording.pk])}"'.encode()
    assert listen in login(cast.carol).get(_change_url(recording)).content
    assert listen in login(cast.bob).get(_change_url(recording)).content
    assert listen not in login(cast.dave).get(_change_url(recording)).content
    mifid = _ingest(cast.acme, "order-1", purpose="investment_services")
    mifid_listen = f'href="{reverse("recordings:listen", args=[mifid.pk])}"'.encode()
    assert mifid_listen not in login(cast.carol).get(_change_url(mifid)).content


def test_who_accessed_this_links_reviewers_to_the_recordings_trail(cast, login, calls):
    recording = calls["acme"]
    link = f"/admin/audit/auditevent/?target=recordings.recording:{recording.pk}".encode()
    assert link in login(cast.bob).get(_change_url(recording)).content
    assert link in login(cast.dave).get(_change_url(recording)).content
    assert link not in login(cast.carol).get(_change_url(recording)).content  # no trail access


def test_detail_page_lists_current_grants(cast, login, calls):
    recording = calls["acme"]
    access_grant_request(
        user=cast.carol,
        recording=recording,
        purpose="quality",
        justification="Calibration session with the team",
    )
    expired = access_grant_request(
        user=cast.bob, recording=recording, purpose="complaint", justification="Complaint 2211"
    )
    AccessGrant.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    page = login(cast.bob).get(_change_url(recording))
    assert b"Calibration session with the team" in page.content
    assert b"Complaint 2211" not in page.content
    # Carol, who holds the grant, goes straight to the player.
    carol_page = login(cast.carol).get(_change_url(recording))
    assert reverse("recordings:player", args=[recording.pk]).encode() in carol_page.content


# --- read-only ---------------------------------------------------------------------------------


def test_nobody_adds_changes_or_deletes_recordings_through_the_admin(cast, login, calls):
    recording = calls["acme"]
    client = login(cast.root)
    assert client.get(CHANGELIST + "add/").status_code == 403
    assert client.post(_change_url(recording), {"call_id": "renamed"}).status_code == 403
    assert client.get(_change_url(recording) + "delete/").status_code == 403
    assert client.post(_change_url(recording) + "delete/", {"post": "yes"}).status_code == 403
    page = client.get(_change_url(recording))
    assert b'name="_save"' not in page.content
    assert b"deletelink" not in page.content
    changelist = client.get(CHANGELIST)
    actions = changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request)
    assert "delete_selected" not in actions
    recording.refresh_from_db()
    assert recording.call_id == "acme-1"
