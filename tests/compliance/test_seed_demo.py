from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest
from django.utils import timezone

from audit.models import Alert, AuditEvent, Incident
from compliance.dnc_models import Campaign, Screening
from compliance.models import (
    Consent,
    Dpia,
    LegalHold,
    Membership,
    Processor,
    Risk,
    SubjectRequest,
    Tenant,
)
from compliance.risk_defaults import DEFAULT_RISKS
from recordings.models import Recording

pytestmark = pytest.mark.django_db


def _snapshot():
    users = get_user_model().objects.order_by("username")
    return (
        list(Tenant.objects.values_list("slug", "name")),
        list(users.values_list("username", "password", "is_superuser")),
        list(Membership.objects.values_list("user__username", "tenant__slug", "role")),
        AuditEvent.objects.count(),
        list(Alert.objects.values_list("pk", "status")),
        list(Incident.objects.values_list("pk", "title")),
        list(SubjectRequest.objects.values_list("pk", "kind", "status")),
        list(Recording.objects.order_by("call_id").values_list("call_id", "audio_sha256")),
        list(Processor.objects.order_by("pk").values_list("name", "parent__name", "status")),
        Risk.objects.count(),
        Dpia.objects.count(),
        list(Campaign.objects.values_list("name", "number_count")),
        list(Screening.objects.values_list("source", "status", "removed_count")),
    )


def test_seed_demo_creates_the_cast_and_a_second_run_changes_nothing(capsys):
    call_command("seed_demo")
    first = _snapshot()
    output = capsys.readouterr().out
    assert "password for all: custodia-demo" in output
    assert "Two factors are optional here" in output  # the tests run with DEBUG on
    assert {slug for slug, _ in first[0]} == {"acme", "globex"}
    assert ("alice", "acme", "compliance_officer") in first[2]
    assert ("erin", "globex", "compliance_officer") in first[2]
    assert get_user_model().objects.get(username="root").is_superuser
    recordings = Recording.objects
    assert recordings.filter(tenant__slug="acme").count() == 205
    assert Consent.objects.filter(decision="refused").exists()
    assert Consent.objects.filter(decision="withdrawn").exists()
    hold = LegalHold.objects.get(reference="RG 26/00421")
    assert recordings.on_hold().filter(customer_number=hold.customer_number).exists()
    assert recordings.filter(tenant__slug="globex").count() == 60
    assert recordings.filter(retain_until__lt=timezone.localdate()).exists()  # some expired
    assert recordings.values("purpose").distinct().count() >= 3
    alert = Alert.objects.get(tenant__slug="acme", rule="volume", status="new")
    assert alert.subject_label == "carol" and alert.event_count == 25
    trail = AuditEvent.objects.filter(sequence__in=alert.event_sequences)
    assert set(trail.values_list("actor_username", "action")) == {
        ("carol", "recording.access_granted")
    }
    incident = Incident.objects.get(tenant__slug="acme", status="open")
    assert incident.actions.exists()
    requests = {request.kind: request for request in SubjectRequest.objects.all()}
    assert set(requests) == {"access", "erasure", "objection"}
    assert requests["access"].status == "in_progress" and requests["access"].identity_verified
    assert recordings.on_hold().filter(customer_number__in=requests["erasure"].customer_numbers)
    assert requests["objection"].tenant.today() > requests["objection"].deadline  # overdue
    # A three-level chain with one transfer outside the EEA under SCCs, one agreement expired.
    backup = Processor.objects.get(tenant__slug="acme", country="US")
    assert [link.name for link in backup.chain()] == [
        "Skyvault Backup Inc.",
        "Nimbus Object Storage SAS",
        "Contact centre (Custodia)",
    ]
    assert backup.transfer_safeguard == "scc" and backup.scc_signed_on is not None
    acme = Tenant.objects.get(slug="acme")
    expired = Processor.objects.filter(tenant=acme, agreement_expires_on__lt=acme.today())
    assert list(expired.values_list("name", flat=True)) == ["Transcribo Speech Analytics GmbH"]
    assert Risk.objects.filter(tenant=acme).count() == len(DEFAULT_RISKS)
    assert Dpia.objects.filter(tenant=acme).count() == 1
    # A running campaign with French numbers and a UK one, screened by Bloctel today.
    campaign = Campaign.objects.get(tenant=acme)
    assert campaign.number_count == 9
    assert campaign.sources == ["internal", "bloctel", "tps", "ctps"]
    screening = Screening.objects.get(campaign=campaign)
    assert (screening.status, screening.exported_count, screening.removed_count) == (
        "answered",
        8,
        1,
    )
    call_command("seed_demo")
    assert _snapshot() == first
    assert "nothing changed" in capsys.readouterr().out


def test_demo_users_sign_in_see_only_their_tenant_and_hold_least_privilege(client):
    call_command("seed_demo")
    assert client.login(request=HttpRequest(), username="alice", password="custodia-demo")
    page = client.get("/admin/compliance/tenant/")
    assert [t.slug for t in page.context["cl"].result_list] == ["acme"]
    # Her index flags the expired agreement and leads to the register and the risk analysis.
    index = client.get("/admin/")
    flagged = [processor.name for processor, _ in index.context["flagged_processors"]]
    assert "Transcribo Speech Analytics GmbH" in flagged
    acme = Tenant.objects.get(slug="acme")
    register = client.get(f"/admin/compliance/processor/register/{acme.pk}/")
    assert register.status_code == 200 and b"Skyvault Backup Inc." in register.content
    analysis = client.get(f"/admin/compliance/risk/analysis/{acme.pk}/")
    assert analysis.status_code == 200 and b"Unauthorised listening" in analysis.content
    client.logout()
    assert client.login(request=HttpRequest(), username="erin", password="custodia-demo")
    page = client.get("/admin/compliance/tenant/")
    assert [t.slug for t in page.context["cl"].result_list] == ["globex"]
    users = get_user_model().objects
    carol, dave, alice = (users.get(username=name) for name in ("carol", "dave", "alice"))
    assert not carol.has_perm("audit.view_auditevent")
    assert dave.has_perm("audit.view_auditevent")
    assert not dave.has_perm("compliance.change_tenant")
    assert alice.has_perm("audit.export_auditevent")
    assert not alice.has_perm("compliance.add_tenant")
