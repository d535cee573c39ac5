"""Processors and sub-processors (GDPR Art. 28): the platform first in every tenant's chain,
transfers outside the EEA only under a safeguard, bad input refused naming the field, the
agreements that need attention flagged on the index and mailed every day."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import Processor
from compliance.processor_models import ProcessorFlag
from compliance.services.processors import (
    platform_processor_ensure,
    processor_check,
    processors_flagged,
)
from compliance.tasks import remind_processor_agreements
from kit.refusals import Refused

from ..factories import TenantFactory, processor_for

pytestmark = pytest.mark.django_db

ADD = "/admin/compliance/processor/add/"


def form(tenant, **overrides) -> dict:
    """The add form as a browser sends it: a storage provider in France, signed last year."""
    today = tenant.today()
    data = {
        "tenant": tenant.pk,
        "name": "Cloud storage",
        "parent": platform_processor_ensure(tenant).pk,
        "services": "Object storage of the encrypted audio",
        "country": "FR",
        "transfer_safeguard": "",
        "scc_signed_on": "",
        "safeguard_reference": "",
        "agreement_signed_on": (today - timedelta(days=300)).isoformat(),
        "agreement_expires_on": (today + timedelta(days=700)).isoformat(),
        "review_due_on": (today + timedelta(days=200)).isoformat(),
        "security_contact": "soc@storage.example",
        "status": "active",
    }
    data.update(overrides)
    return data


def test_every_tenant_has_the_platform_as_its_first_processor(cast):
    platform = Processor.objects.get(tenant=cast.acme, is_platform=True)
    assert platform.parent is None and platform.country == "FR"
    assert platform.role_label() == "Processor"
    new = TenantFactory(name="Initech", slug="initech")
    assert Processor.objects.filter(tenant=new, is_platform=True).count() == 1
    created = AuditEvent.objects.filter(action="processor.created", tenant=new)
    assert created.count() == 1


def test_a_three_level_chain_is_shown_as_such(cast):
    storage = processor_for(tenant=cast.acme, name="Cloud storage")
    backup = processor_for(
        tenant=cast.acme,
        name="Backup",
        parent=storage,
        country="US",
        transfer_safeguard="scc",
        scc_signed_on=date(2025, 3, 1),
    )
    assert [link.name for link in backup.chain()] == [
        "Backup",
        "Cloud storage",
        "Contact centre (Custodia)",
    ]
    assert backup.role_label() == "Sub-processor of Cloud storage ← Contact centre (Custodia)"
    assert not backup.inside_eea


def test_a_transfer_outside_the_eea_without_a_safeguard_is_refused(cast, login):
    client = login(cast.alice)
    response = client.post(ADD, form(cast.acme, name="Offshore backup", country="US"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "outside the EEA" in errors["transfer_safeguard"][0]
    assert not Processor.objects.filter(name="Offshore backup").exists()
    # Standard contractual clauses need their date; with it the transfer is accepted.
    response = client.post(
        ADD, form(cast.acme, name="Offshore backup", country="US", transfer_safeguard="scc")
    )
    assert "scc_signed_on" in response.context["adminform"].form.errors
    response = client.post(
        ADD,
        form(
            cast.acme,
            name="Offshore backup",
            country="US",
            transfer_safeguard="scc",
            scc_signed_on="2025-03-01",
        ),
    )
    assert response.status_code == 302
    backup = Processor.objects.get(name="Offshore backup")
    assert backup.transfer_safeguard == "scc" and backup.tenant == cast.acme
    event = AuditEvent.objects.get(action="processor.created", target_id=str(backup.pk))
    assert event.actor_username == "alice"
    assert event.extra["new"]["transfer_safeguard"] == "scc"


def test_the_service_refuses_the_same_transfer_whoever_calls_it(cast):
    offshore = Processor(
        tenant=cast.acme,
        name="Offshore",
        parent=platform_processor_ensure(cast.acme),
        country="IN",
    )
    with pytest.raises(Refused) as refused:
        processor_check(processor=offshore)
    assert refused.value.field == "transfer_safeguard"
    offshore.country = "XX"
    with pytest.raises(Refused) as refused:
        processor_check(processor=offshore)
    assert refused.value.field == "country"
    offshore.country, offshore.transfer_safeguard = "NO", "adequacy"  # Norway is in the EEA
    with pytest.raises(Refused) as refused:
        processor_check(processor=offshore)
    assert refused.value.field == "transfer_safeguard"


def test_a_parent_of_another_tenant_is_a_form_error(cast, login):
    # The platform operator sees both tenants' processors in the parent's list.
    client = login(cast.root)
    globex_storage = processor_for(tenant=cast.globex, name="Globex storage")
    response = client.post(ADD, form(cast.acme, name="Mixed chain", parent=globex_storage.pk))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["parent"] == [
        "This processor belongs to another tenant: a chain stays within one controller."
    ]
    assert not Processor.objects.filter(name="Mixed chain").exists()
    # Alice is not even offered Globex's processors.
    response = login(cast.alice).post(ADD, form(cast.acme, parent=globex_storage.pk))
    assert "parent" in response.context["adminform"].form.errors


def test_a_cycle_in_the_chain_is_a_form_error(cast, login):
    storage = processor_for(tenant=cast.acme, name="Cloud storage")
    backup = processor_for(tenant=cast.acme, name="Backup", parent=storage)
    change = reverse("admin:compliance_processor_change", args=[storage.pk])
    data = form(cast.acme, name="Cloud storage", parent=backup.pk)
    del data["tenant"]  # read-only once created
    response = login(cast.alice).post(change, data)
    assert response.status_code == 200
    assert "cycle" in response.context["adminform"].form.errors["parent"][0]
    storage.refresh_from_db()
    assert storage.parent == platform_processor_ensure(cast.acme)
    # Its own parent too.
    response = login(cast.alice).post(change, {**data, "parent": storage.pk})
    assert "cycle" in response.context["adminform"].form.errors["parent"][0]


def test_an_agreement_that_expires_before_it_is_signed_is_a_form_error(cast, login):
    data = form(cast.acme, agreement_signed_on="2026-03-01", agreement_expires_on="2026-02-28")
    response = login(cast.alice).post(ADD, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["agreement_expires_on"] == [
        "The agreement cannot expire (2026-02-28) before it is signed (2026-03-01)."
    ]
    assert not Processor.objects.filter(name="Cloud storage").exists()


def test_purposes_of_another_tenant_are_not_offered(cast, login):
    from ..factories import PurposeFactory

    theirs = PurposeFactory(tenant=cast.globex, code="globex-only", name="Globex only")
    response = login(cast.alice).post(ADD, {**form(cast.acme), "purposes": [theirs.pk]})
    assert "purposes" in response.context["adminform"].form.errors


def test_auditors_and_supervisors_read_processors_but_change_nothing(cast, login):
    storage = processor_for(tenant=cast.acme, name="Cloud storage")
    for user in (cast.dave, cast.bob):
        client = login(user)
        assert client.get("/admin/compliance/processor/").status_code == 200
        assert client.post(ADD, form(cast.acme, name="Sneaky")).status_code == 403
        change = reverse("admin:compliance_processor_change", args=[storage.pk])
        assert client.post(change, form(cast.acme, name="Renamed")).status_code == 403
    assert login(cast.carol).get("/admin/compliance/processor/").status_code == 403
    assert not Processor.objects.filter(name__in=["Sneaky", "Renamed"]).exists()


# --- the flags, at month ends -----------------------------------------------------------------


def flags_on(today: date, **dates) -> list[str]:
    processor = Processor(
        name="p",
        country="FR",
        agreement_signed_on=date(2025, 1, 1),
        **dates,
    )
    return processor.flags(today)


@pytest.mark.parametrize(
    ("today", "review_due_on", "flags"),
    [
        # 31 January to 2 March is 30 days in a common year: flagged; 3 March is not yet.
        (date(2026, 1, 31), date(2026, 3, 2), [ProcessorFlag.REVIEW_DUE]),
        (date(2026, 1, 31), date(2026, 3, 3), []),
        # A leap year: 31 January to 1 March is 30 days.
        (date(2028, 1, 31), date(2028, 3, 1), [ProcessorFlag.REVIEW_DUE]),
        (date(2028, 1, 31), date(2028, 3, 2), []),
        # 30 April to 30 May; 31 May is 31 days away.
        (date(2026, 4, 30), date(2026, 5, 30), [ProcessorFlag.REVIEW_DUE]),
        (date(2026, 4, 30), date(2026, 5, 31), []),
        # Across the year's end.
        (date(2026, 12, 31), date(2027, 1, 30), [ProcessorFlag.REVIEW_DUE]),
        (date(2026, 12, 31), date(2027, 1, 31), []),
        # Due today is still due, not overdue; yesterday is overdue.
        (date(2026, 2, 28), date(2026, 2, 28), [ProcessorFlag.REVIEW_DUE]),
        (date(2026, 3, 1), date(2026, 2, 28), [ProcessorFlag.REVIEW_OVERDUE]),
    ],
)
def test_a_review_due_within_30_days_is_flagged_at_month_ends(today, review_due_on, flags):
    assert flags_on(today, review_due_on=review_due_on) == flags


def test_an_agreement_expires_the_day_after_its_last_day():
    assert flags_on(date(2026, 2, 28), agreement_expires_on=date(2026, 2, 28)) == []
    assert flags_on(date(2026, 3, 1), agreement_expires_on=date(2026, 2, 28)) == [
        ProcessorFlag.EXPIRED
    ]
    assert flags_on(date(2028, 3, 1), agreement_expires_on=date(2028, 2, 29)) == [
        ProcessorFlag.EXPIRED
    ]


def test_flags_follow_the_tenants_own_date(cast):
    expired = processor_for(
        tenant=cast.acme,
        name="Expired storage",
        agreement_signed_on=date(2024, 1, 1),
        agreement_expires_on=date(2025, 12, 31),
    )
    ended = processor_for(
        tenant=cast.acme,
        name="Former storage",
        agreement_signed_on=date(2024, 1, 1),
        agreement_expires_on=date(2025, 12, 31),
        status="ended",
    )
    flagged = dict(processors_flagged(Processor.objects.filter(tenant=cast.acme)))
    assert flagged[expired] == [ProcessorFlag.EXPIRED]
    assert ended not in flagged  # an ended processor needs nothing
    # The platform's row, created without an agreement, asks for one.
    assert flagged[platform_processor_ensure(cast.acme)] == [ProcessorFlag.NO_AGREEMENT]


def test_the_index_flags_an_expired_agreement_to_compliance_officers_only(cast, login):
    processor_for(
        tenant=cast.acme,
        name="Expired storage",
        agreement_signed_on=date(2024, 1, 1),
        agreement_expires_on=date(2025, 12, 31),
    )
    processor_for(
        tenant=cast.globex,
        name="Globex expired",
        agreement_signed_on=date(2024, 1, 1),
        agreement_expires_on=date(2025, 12, 31),
    )
    page = login(cast.alice).get("/admin/")
    shown = {processor.name: flags for processor, flags in page.context["flagged_processors"]}
    assert shown["Expired storage"] == "Agreement expired"
    assert "Globex expired" not in shown
    assert b"Expired storage" in page.content
    register = reverse("admin:compliance_processor_register", args=[cast.acme.pk])
    assert register.encode() in page.content  # one click to the register
    page = login(cast.dave).get("/admin/")
    assert "flagged_processors" not in page.context
    assert register.encode() in page.content  # the auditor reads it too
    assert "document_tenants" not in login(cast.carol).get("/admin/").context


def test_the_daily_task_mails_each_tenants_officers_their_agreements_to_review(cast):
    processor_for(
        tenant=cast.acme,
        name="Expired storage",
        agreement_signed_on=date(2024, 1, 1),
        agreement_expires_on=date(2025, 12, 31),
    )
    summary = remind_processor_agreements()
    # Both tenants' platform rows have no agreement yet: each tenant's officer is mailed.
    assert summary == {"tenants_mailed": 2, "failed": []}
    by_recipient = {message.to[0]: message for message in mail.outbox}
    acme = by_recipient["alice@example.com"]
    assert "Expired storage" in acme.body and "Agreement expired" in acme.body
    assert "Globex" not in acme.body
    assert "Expired storage" not in by_recipient["erin@example.com"].body
    event = AuditEvent.objects.get(action="processor.agreements_reminded", tenant=cast.acme)
    assert event.extra["recipients"] == ["alice"]


def test_the_trail_says_the_security_contact_changed_without_copying_it(cast, login):
    """The security contact is a person (a name, a phone number, an e-mail address): the
    append-only trail, which an erasure cannot reach, records that it was given or changed,
    never what it says."""
    client = login(cast.alice)
    contact = "Jean Dupont, +33 6 12 34 56 78, jean.dupont@storage.example"
    response = client.post(ADD, form(cast.acme, security_contact=contact))
    assert response.status_code == 302
    storage = Processor.objects.get(name="Cloud storage")
    assert storage.security_contact == contact  # the register still names who to call
    change = reverse("admin:compliance_processor_change", args=[storage.pk])
    successor = "Marie Curie, 06 98 76 54 32, 12 rue de la Paix, Paris"
    response = client.post(change, form(cast.acme, security_contact=successor))
    assert response.status_code == 302
    events = AuditEvent.objects.filter(target_id=str(storage.pk), action__startswith="processor.")
    created, changed = (
        events.get(action="processor.created"),
        events.get(action="processor.changed"),
    )
    for event in (created, changed):
        text = json.dumps(event.extra, ensure_ascii=False)
        for personal in ("Dupont", "12 34 56 78", "jean.dupont", "Curie", "98 76 54 32", "Paix"):
            assert personal not in text, (event.action, personal)
    assert created.extra["new"]["security_contact"] is True
    assert changed.extra["changed"] == ["security_contact"]
    # The other fields keep their old and new values.
    assert changed.extra["old"]["country"] == changed.extra["new"]["country"] == "FR"
