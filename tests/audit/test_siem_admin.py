"""A compliance officer sets up her tenant's SIEM forwarder in the admin: clear errors for what
cannot work, the secret never shown again, the delivery's state (lag, last error) on its page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.forwarding.delivery import audit_trail_forward
from audit.models import AuditEvent, SiemForwarder

from .collectors import collector_down

pytestmark = pytest.mark.django_db

ADD = reverse("admin:audit_siemforwarder_add")


def _form(cast, **fields) -> dict:
    data = {
        "tenant": cast.acme.pk,
        "name": "Acme SOC",
        "kind": "https",
        "host": "",
        "port": "",
        "use_tls": "on",
        "ca_certificate": "",
        "url": "https://siem.acme.example/ingest",
        "bearer_secret": "",
        "enabled": "on",
    }
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


def _errors(response) -> dict:
    return {
        name: list(errors) for name, errors in response.context["adminform"].form.errors.items()
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": "syslog", "url": ""}, "host", "A syslog collector needs its host name."),
        ({"kind": "syslog", "host": "soc.acme.example"}, "port", "needs its port"),
        ({"kind": "syslog", "host": "soc acme", "port": "6514"}, "host", "Not a host name"),
        ({"url": "http://siem.acme.example/ingest"}, "url", "must start with https://"),
        ({"url": "https://10.0.0.5/ingest"}, "url", "private, loopback or link-local"),
        ({"url": "https://localhost/ingest"}, "url", "own host"),
        ({"kind": "syslog", "host": "169.254.169.254", "port": "514"}, "host", "link-local"),
        ({"url": "https://user:pw@siem.acme.example/"}, "url", "bearer secret"),
        ({"ca_certificate": "not a certificate"}, "ca_certificate", "PEM"),
        (
            {"ca_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
            "ca_certificate",
            "Not a usable PEM certificate",
        ),
        ({"kind": "syslog", "host": "soc.acme.example", "port": "70000"}, "port", ""),
        (
            {"kind": "syslog", "host": "soc.acme.example", "port": "514", "bearer_secret": "x"},
            "bearer_secret",
            "Only an HTTPS endpoint",
        ),
    ],
)
def test_what_cannot_work_is_a_form_error_naming_the_field(cast, login, fields, field, message):
    response = login(cast.alice).post(ADD, _form(cast, **fields))
    assert response.status_code == 200
    errors = _errors(response)
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not SiemForwarder.objects.exists()


def test_officer_sets_it_up_and_the_secret_is_never_shown_again(cast, login):
    client = login(cast.alice)
    response = client.post(ADD, _form(cast, bearer_secret="soc-token-456"))
    assert response.status_code == 302, _errors(response)
    forwarder = SiemForwarder.objects.get()
    assert forwarder.tenant == cast.acme
    assert forwarder.bearer_secret_sealed and "soc-token-456" not in forwarder.bearer_secret_sealed
    created = AuditEvent.objects.get(action="siem_forwarder.created")
    assert (created.tenant_id, created.actor_id) == (cast.acme.pk, cast.alice.pk)
    assert created.extra["changed"]["url"] == "https://siem.acme.example/ingest"
    assert "soc-token-456" not in str(created.extra)
    # The forwarder starts at the end of the trail: its own creation is the first event it sends.
    assert forwarder.last_sequence == created.sequence - 1

    page = client.get(reverse("admin:audit_siemforwarder_change", args=[forwarder.pk]))
    assert page.status_code == 200
    assert b"soc-token-456" not in page.content
    assert "1 events, the oldest from" in page.content.decode()

    # Saving again without typing a secret keeps it; the change is on the trail.
    client.post(
        reverse("admin:audit_siemforwarder_change", args=[forwarder.pk]),
        _form(cast, name="Acme SOC (primary)"),
    )
    forwarder.refresh_from_db()
    assert forwarder.name == "Acme SOC (primary)" and forwarder.bearer_secret_sealed
    changed = AuditEvent.objects.get(action="siem_forwarder.changed")
    assert changed.extra["changed"] == {"name": "Acme SOC (primary)"}
    assert changed.extra["bearer_secret_changed"] is False


def test_the_page_shows_the_last_error_and_when_it_is_retried(cast, login, settings):
    settings.SIEM_ALLOW_PRIVATE_ADDRESSES = True
    client = login(cast.alice)
    with collector_down() as port:
        client.post(
            ADD, _form(cast, kind="syslog", host="127.0.0.1", port=str(port), url="", use_tls=None)
        )
        forwarder = SiemForwarder.objects.get()
        assert audit_trail_forward(forwarder_id=forwarder.pk).status == "failed"
    listing = client.get(reverse("admin:audit_siemforwarder_changelist")).content.decode()
    assert "Failing (1 in a row), retried at" in listing
    page = client.get(reverse("admin:audit_siemforwarder_change", args=[forwarder.pk]))
    assert "ConnectionRefusedError" in page.content.decode()


def test_roles_other_than_the_officer_cannot_configure_forwarding(cast, login):
    for person in (cast.bob, cast.carol, cast.dave):
        assert login(person).get(ADD).status_code == 403
        assert login(person).post(ADD, _form(cast)).status_code == 403
    assert not SiemForwarder.objects.exists()


def test_an_address_refused_reads_in_the_officer_s_language(cast, login):
    response = login(cast.alice).post(
        ADD, _form(cast, url="https://10.0.0.5/ingest"), HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert response.status_code == 200
    assert _errors(response)["url"] == [
        "Une adresse privée, de bouclage ou locale au lien ne peut pas être un collecteur."
    ]
