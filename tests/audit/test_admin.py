"""Who accessed what and why: the read-only, tenant-scoped trail in the admin."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from audit.context import AuditContext
from audit.models import AuditEvent
from audit.services import event_record

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditevent/"


def _listen(tenant, user, target_id: str, workstation: str, purpose: str = "quality"):
    return event_record(
        action="recording.played",
        tenant=tenant,
        target_type="recordings.recording",
        target_id=target_id,
        target_label=f"call {target_id}",
        purpose=purpose,
        justification="Monthly quality sample",
        context=AuditContext(
            actor_id=user.pk,
            actor_username=user.username,
            workstation_id=workstation,
            client_ip="192.0.2.10",
            request_id=f"req-{target_id}-{user.username}",
        ),
    )


def test_who_listened_to_a_call_in_two_clicks(cast, login):
    _listen(cast.acme, cast.carol, "42", "WS-07")
    _listen(cast.acme, cast.bob, "43", "WS-01")
    client = login(cast.bob)
    # Click 1: the trail; the call's row links to every event about that call.
    page = client.get(CHANGELIST)
    assert b"?target=recordings.recording:42" in page.content
    # Click 2: who accessed call 42, why, from which workstation.
    page = client.get(CHANGELIST + "?target=recordings.recording:42")
    events = list(page.context["cl"].result_list)
    assert [(e.actor_username, e.purpose, e.workstation_id) for e in events] == [
        ("carol", "quality", "WS-07")
    ]
    assert b"Monthly quality sample" in page.content


def test_per_user_view_lists_what_that_person_accessed(cast, login):
    _listen(cast.acme, cast.carol, "42", "WS-07")
    _listen(cast.acme, cast.bob, "43", "WS-01")
    client = login(cast.root)
    user_page = client.get(reverse("admin:auth_user_change", args=[cast.carol.pk]))
    assert f"?actor={cast.carol.pk}".encode() in user_page.content
    page = client.get(CHANGELIST + f"?actor={cast.carol.pk}")
    assert [e.target_id for e in page.context["cl"].result_list] == ["42"]


def test_search_is_exact_on_actor_target_and_request_id(cast, login):
    _listen(cast.acme, cast.carol, "42", "WS-07")
    _listen(cast.acme, cast.bob, "420", "WS-01")
    client = login(cast.alice)
    for term, expected in [("42", {"42"}), ("bob", {"420"}), ("req-42-carol", {"42"})]:
        page = client.get(CHANGELIST, {"q": term})
        found = {e.target_id for e in page.context["cl"].result_list if e.target_id}
        assert found == expected, term


def _event_from(tenant, user, *, workstation: str, address: str, purpose: str = "quality"):
    return event_record(
        action="recording.played",
        tenant=tenant,
        target_type="recordings.recording",
        target_id=f"{user.username}-{workstation}",
        purpose=purpose,
        justification="Complaint ref. 2026-118",
        context=AuditContext(
            actor_id=user.pk,
            actor_username=user.username,
            workstation_id=workstation,
            client_ip=address,
        ),
    )


def test_a_workstation_or_an_ip_address_is_searched_exactly(cast, login):
    _event_from(cast.acme, cast.carol, workstation="WS-07", address="192.0.2.10")
    _event_from(cast.acme, cast.bob, workstation="WS-01", address="2001:db8::7")
    _event_from(cast.globex, cast.erin, workstation="WS-07", address="192.0.2.10")
    client = login(cast.alice)
    for term, expected in [
        ("WS-07", {"carol-WS-07"}),
        ("192.0.2.10", {"carol-WS-07"}),
        ("2001:DB8:0:0::7", {"bob-WS-01"}),  # written differently, the same address
        ("WS-0", set()),  # exact, never a prefix
        ("192.0.2", set()),
    ]:
        page = client.get(CHANGELIST, {"q": term})
        assert page.status_code == 200
        found = {event.target_id for event in page.context["cl"].result_list}
        assert found == expected, term


def test_the_purpose_filter_offers_the_listening_purposes(cast, login):
    _event_from(cast.acme, cast.bob, workstation="WS-01", address="192.0.2.1", purpose="complaint")
    _event_from(cast.acme, cast.carol, workstation="WS-07", address="192.0.2.2")
    client = login(cast.alice)
    page = client.get(CHANGELIST)
    (purposes,) = [
        spec
        for spec in page.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "purpose"
    ]
    offered = dict(purposes.lookup_choices)
    for need in ("quality", "training", "supervision", "complaint", "legal", "subject_access"):
        assert need in offered, need
    assert offered["complaint"] == "Complaint investigation"
    assert "telemarketing" in offered  # a deletion's event keeps the recording's purpose
    page = client.get(CHANGELIST, {"purpose": "complaint"})
    assert [event.actor_username for event in page.context["cl"].result_list] == ["bob"]


def test_trail_is_read_only_even_for_the_platform_operator(cast, login):
    recorded = _listen(cast.acme, cast.carol, "42", "WS-07")
    client = login(cast.root)
    change_url = reverse("admin:audit_auditevent_change", args=[recorded.sequence])
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    client.post(change_url, {"action": "tampered"})
    assert AuditEvent.objects.get(sequence=recorded.sequence).action == "recording.played"
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    delete_url = reverse("admin:audit_auditevent_delete", args=[recorded.sequence])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403


def test_quality_analyst_cannot_read_the_trail(cast, login):
    assert login(cast.carol).get(CHANGELIST).status_code == 403


def test_csv_export_of_a_filtered_view_is_itself_audited(cast, login):
    _listen(cast.acme, cast.carol, "42", "WS-07")
    _listen(cast.acme, cast.bob, "43", "WS-01")
    _listen(cast.globex, cast.erin, "99", "WS-G1")
    client = login(cast.dave)
    page = client.get(CHANGELIST + "?action=recording.played")
    assert b"Export these events as CSV" in page.content
    response = client.get(reverse("admin:audit_auditevent_export") + "?action=recording.played")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["target_id"] for row in rows] == ["42", "43"]  # nothing of Globex
    assert rows[0]["workstation_id"] == "WS-07"
    export = AuditEvent.objects.get(action="audit.exported")
    assert export.actor_username == "dave"
    assert export.tenant_id == cast.acme.pk
    assert export.extra == {"filters": {"action": "recording.played"}}


@pytest.mark.parametrize(
    "query",
    ["q=bob%00", "action=recording.played%00", "target=recordings.recording:42%00", "outcome=%00"],
)
def test_a_nul_character_in_the_query_string_is_a_400_not_a_500(cast, login, query):
    _listen(cast.acme, cast.carol, "42", "WS-07")
    client = login(cast.alice)
    assert client.get(f"{CHANGELIST}?{query}").status_code == 400
    assert client.get(reverse("admin:audit_auditevent_export") + f"?{query}").status_code == 400
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_supervisor_cannot_export(cast, login):
    response = login(cast.bob).get(reverse("admin:audit_auditevent_export"))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_changelist_never_counts_the_whole_table(cast, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _listen(cast.acme, cast.carol, "42", "WS-07")
    client = login(cast.alice)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(CHANGELIST + "?outcome__exact=allowed")
    assert page.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "audit_auditevent" in q["sql"]]
    assert counts, "the paginator should count (a capped number of) matching rows"
    assert all("LIMIT 10001" in sql for sql in counts), counts
    assert not any("DISTINCT" in q["sql"] for q in queries)


def test_every_audited_objects_page_links_to_its_own_events(cast, login):
    from compliance.models import Purpose

    purpose = Purpose.objects.get(code="quality")
    client = login(cast.root)
    page = client.get(reverse("admin:compliance_purpose_change", args=[purpose.pk]))
    assert f"?target=compliance.purpose:{purpose.pk}".encode() in page.content
    assert b"Who accessed this" in page.content


def test_export_cannot_be_filed_under_another_tenant(cast, login):
    client = login(cast.dave)
    export = reverse("admin:audit_auditevent_export")
    # Another client's tenant is no tenant the filter offers: the export is refused, as the
    # changelist redirects with ?e=1, and nothing is exported or filed under Globex.
    assert client.get(export + f"?tenant={cast.globex.pk}").status_code == 400
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
    b"".join(client.get(export).streaming_content)
    assert AuditEvent.objects.get(action="audit.exported").tenant_id == cast.acme.pk
