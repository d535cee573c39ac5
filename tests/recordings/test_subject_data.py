"""Finding a data subject's data: one selector, the tenant's only, by number or reference."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from audit.services import event_record
from compliance.services.legal_holds import legal_hold_place
from compliance.services.subject_requests import subject_request_receive
from recordings.demo_audio import tone_wav
from recordings.services.ingest import recording_ingest
from recordings.services.purge.erasure import recording_erase
from recordings.subject_requests.finder import subject_data_find

from ..factories import consent_for


def ingest(tenant, call_id, number="+33612345678", reference=""):
    fields = {
        "call_id": call_id,
        "direction": "inbound",
        "started_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "customer_number": number,
        "subject_reference": reference,
        "purpose": "quality",
    }
    return recording_ingest(
        tenant=tenant, api_key=None, audio=tone_wav(0.2), fields=fields
    ).recording


def test_finds_the_subjects_recordings_consents_holds_and_accesses_in_the_tenant_only(cast):
    mine = ingest(cast.acme, "c-1")
    by_reference = ingest(cast.acme, "c-2", number="+33612000001", reference="CUST-9")
    erased = ingest(cast.acme, "c-3")
    recording_erase(actor=None, recording=erased)
    ingest(cast.acme, "c-4", number="+33699999999")  # someone else
    ingest(cast.globex, "c-5")  # the same number at another tenant
    consent_for(tenant=cast.acme)
    consent_for(tenant=cast.acme, number="+33699999999")
    hold = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 7", reason="Claim", recordings=[mine]
    )
    event_record(action="recording.played", tenant=cast.acme, target=mine, purpose="quality")

    request = subject_request_receive(
        actor=cast.alice,
        tenant=cast.acme,
        kind="access",
        customer_numbers=["06 12 34 56 78"],
        subject_reference="CUST-9",
        channel="email",
    )
    found = subject_data_find(request)
    # An erased recording keeps no number: nothing of it is the subject's any more.
    assert set(found.recording_ids) == {mine.pk, by_reference.pk}
    assert list(found.holds) == [hold]
    counts = found.counts()
    assert counts["recordings"] == 2 and counts["active_recordings"] == 2
    assert counts["consents"] == 1
    assert counts["holds"] == 1 and counts["active_holds"] == 1
    actions = list(found.access_events.values_list("action", flat=True))
    assert actions.count("recording.played") == 1
    assert all(
        event.target_id in {str(mine.pk), str(by_reference.pk)} for event in found.access_events
    )


def test_nothing_found_is_an_answer(cast):
    request = subject_request_receive(
        actor=cast.alice,
        tenant=cast.acme,
        kind="access",
        customer_numbers=["+33611111111"],
        channel="post",
    )
    assert subject_data_find(request).counts() == {
        "recordings": 0,
        "active_recordings": 0,
        "consents": 0,
        "holds": 0,
        "active_holds": 0,
        "access_events": 0,
    }


def test_a_hold_naming_several_of_the_subjects_recordings_and_their_number_counts_once(cast):
    first, second = ingest(cast.acme, "c-1"), ingest(cast.acme, "c-2")
    other = ingest(cast.acme, "c-3", number="+33699999999")
    both = legal_hold_place(
        actor=cast.alice,
        tenant=cast.acme,
        reference="Case 8",
        reason="Claim",
        recordings=[first, second, other],
        customer_number="+33612345678",
    )
    legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="Case 9", reason="Claim", recordings=[other]
    )
    request = subject_request_receive(
        actor=cast.alice,
        tenant=cast.acme,
        kind="access",
        customer_numbers=["06 12 34 56 78"],
        channel="email",
    )
    found = subject_data_find(request)
    assert list(found.holds) == [both]
    assert found.counts()["holds"] == 1
