"""A compliance officer receives, verifies, extends and answers a data-subject request in the
admin, with its deadline and what Custodia holds about the subject in sight."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from compliance.models import RequestStatus, SubjectRequest
from kit import limits

from ..factories import consent_for, subject_request_for
from .helpers import ingest

CHANGELIST = reverse("admin:compliance_subjectrequest_changelist")


def step(name, request):
    return reverse(f"admin:compliance_subjectrequest_{name}", args=[request.pk])


def test_officer_receives_a_request_through_the_form(cast, login):
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_subjectrequest_add"),
        {
            "tenant": cast.acme.pk,
            "kind": "access",
            "numbers": "06 12 34 56 78\n+33 1 23 45 67 89",
            "channel": "post",
            "received_at_0": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "received_at_1": "09:30:00",
            "language": "fr",
            "requester_name": "Jeanne Martin",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    request = SubjectRequest.objects.get()
    assert request.customer_numbers == ["+33612345678", "+33123456789"]
    assert request.handled_by == cast.alice
    assert request.language == "fr"


def test_the_form_refuses_a_bad_number_naming_it_and_writes_nothing(cast, login):
    client = login(cast.alice)
    response = client.post(
        reverse("admin:compliance_subjectrequest_add"),
        {
            "tenant": cast.acme.pk,
            "kind": "erasure",
            "numbers": "call me maybe",
            "channel": "email",
            "received_at_0": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "received_at_1": "09:30:00",
            "language": "en",
        },
    )
    assert response.status_code == 200
    # The refusal names the number the officer typed, above the form.
    [error] = response.context["adminform"].form.non_field_errors()
    assert "'call me maybe'" in error and "phone number" in error
    assert not SubjectRequest.objects.exists()


def test_the_list_sorts_by_deadline_and_shows_overdue_in_red(cast, login):
    recent = subject_request_for(tenant=cast.acme)
    late = subject_request_for(tenant=cast.acme, kind="erasure")
    SubjectRequest.objects.filter(pk=late.pk).update(
        received_at=timezone.now() - timedelta(days=45),
        due_on=cast.acme.today() - timedelta(days=14),
    )
    page = login(cast.alice).get(CHANGELIST).content.decode()
    assert page.index(f"#{late.pk}") < page.index(f"#{recent.pk}")
    assert "overdue by 14 day(s)" in page
    assert '<span class="request-overdue">overdue by 14 day(s)</span>' in page
    assert "style=" not in page.split('id="result_list"')[1].split("</table>")[0]
    assert "+33612345678" not in page  # masked in the list


def test_the_page_shows_what_is_held_about_the_subject_and_is_traced(cast, login):
    ingest(cast.acme, call_id="c-1")
    ingest(cast.acme, call_id="c-2")
    consent_for(tenant=cast.acme)
    request = subject_request_for(tenant=cast.acme)
    client = login(cast.alice)
    page = client.get(reverse("admin:compliance_subjectrequest_change", args=[request.pk]))
    text = page.content.decode()
    assert "+33612345678" in text
    assert "<th>Recordings (still held)</th><td>2</td>" in text
    assert "<th>Consent decisions</th><td>1</td>" in text
    viewed = AuditEvent.objects.filter(
        action="subject_request.viewed", target_id=str(request.pk), actor=cast.alice
    )
    assert viewed.count() == 1


def test_nothing_found_is_said_so(cast, login):
    request = subject_request_for(tenant=cast.acme, number="+33611111111")
    page = login(cast.alice).get(
        reverse("admin:compliance_subjectrequest_change", args=[request.pk])
    )
    assert "Nothing found for this subject" in page.content.decode()


def test_verify_extend_and_answer_through_the_steps(cast, login):
    request = subject_request_for(tenant=cast.acme)
    client = login(cast.alice)
    assert client.post(step("take", request), {"confirm": "yes"}).status_code == 302
    assert client.post(step("verifying", request), {"confirm": "yes"}).status_code == 302
    response = client.post(step("verify", request), {"method": "", "note": ""})
    assert response.status_code == 200  # the method is required
    response = client.post(step("verify", request), {"method": "call_back", "note": "ok"})
    assert response.status_code == 302
    response = client.post(
        step("extend", request),
        {"months": "1", "reason": "Many recorders", "told_on": cast.acme.today().isoformat()},
    )
    assert response.status_code == 302
    # A partial answer without its reason is a form error, and changes nothing.
    response = client.post(step("close", request), {"status": "partial", "outcome": "Some"})
    assert response.status_code == 200
    assert "needs its reason" in response.content.decode()
    response = client.post(
        step("close", request),
        {"status": "partial", "outcome": "Copy sent", "refusal_reason": "Held for a claim"},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.PARTIAL
    assert request.extended_months == 1
    assert request.handled_by == cast.alice


def test_roles_without_the_permission_cannot_handle(cast, login):
    request = subject_request_for(tenant=cast.acme)
    for user in (cast.bob, cast.dave):
        client = login(user)
        assert client.get(CHANGELIST).status_code == 403
        # Not theirs to see: the same answer as an unknown request.
        answer = client.post(step("close", request), {"status": "refused", "refusal_reason": "x"})
        assert answer.status_code == 404
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED


def test_the_admin_index_lists_open_requests_nearest_deadline_first(cast, login):
    later = subject_request_for(tenant=cast.acme)
    sooner = subject_request_for(tenant=cast.acme, kind="erasure")
    SubjectRequest.objects.filter(pk=sooner.pk).update(due_on=cast.acme.today())
    subject_request_for(tenant=cast.globex, number="+34612345678")
    index = login(cast.alice).get(reverse("admin:index"))
    assert [request for request, _ in index.context["open_requests"]] == [sooner, later]
    assert "due today" in index.content.decode()
    # Roles that do not handle requests do not get the list.
    assert login(cast.carol).get(reverse("admin:index")).context.get("open_requests") is None


def test_a_second_extension_keeps_the_reasons_within_their_ceiling(cast, login):
    """Each extension's reason is added to the request's: together they stay within
    kit/limits.py's SUBJECT_REQUEST_TEXT, the second refused naming the reason otherwise, with
    nothing changed."""
    request = subject_request_for(tenant=cast.acme)
    client = login(cast.alice)
    told = cast.acme.today().isoformat()
    first = "Recordings on three recorders. " * 100  # 3,100 characters
    response = client.post(
        step("extend", request), {"months": "1", "reason": first, "told_on": told}
    )
    assert response.status_code == 302
    events = AuditEvent.objects.filter(action="subject_request.extended").count()
    response = client.post(
        step("extend", request), {"months": "1", "reason": "x" * 2000, "told_on": told}
    )
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    request.refresh_from_db()
    assert request.extended_months == 1
    assert len(request.extension_reason) <= limits.SUBJECT_REQUEST_TEXT
    assert AuditEvent.objects.filter(action="subject_request.extended").count() == events


def test_an_extended_request_is_listed_by_its_extended_deadline(cast, login):
    """Extended by two months, a request whose first month ends in three days is due in about
    two months: the list and the index put the one due in ten days before it."""
    extended = subject_request_for(tenant=cast.acme, kind="erasure")
    SubjectRequest.objects.filter(pk=extended.pk).update(
        due_on=cast.acme.today() + timedelta(days=3), extended_months=2
    )
    sooner = subject_request_for(tenant=cast.acme)
    SubjectRequest.objects.filter(pk=sooner.pk).update(
        due_on=cast.acme.today() + timedelta(days=10)
    )
    client = login(cast.alice)
    index = client.get(reverse("admin:index"))
    assert [request for request, _ in index.context["open_requests"]] == [sooner, extended]
    page = client.get(CHANGELIST).content.decode()
    assert page.index(f"#{sooner.pk}") < page.index(f"#{extended.pk}")
    reverse_order = client.get(CHANGELIST, {"o": "-4"}).content.decode()  # the "due" column
    assert reverse_order.index(f"#{extended.pk}") < reverse_order.index(f"#{sooner.pk}")
