"""Configuring a forwarder: saved, audited (where the tenant's trail goes is itself on the trail;
the bearer secret never is)."""

from __future__ import annotations

from django.db import transaction

from ..context import names_its_actor
from ..models import ChainHead, SiemForwarder
from ..services import event_record
from .secrets import secret_seal

# The fields whose change is named on the trail (their values, but never the secret's).
AUDITED_FIELDS = ("name", "kind", "host", "port", "use_tls", "url", "enabled")


@names_its_actor
@transaction.atomic
def siem_forwarder_save(
    *,
    actor,
    forwarder: SiemForwarder,
    changed: list[str],
    bearer_secret: str | None = None,
) -> SiemForwarder:
    """Create or change a forwarder. `bearer_secret`: a new secret, "" to remove it, None to keep
    it. A new forwarder starts at the end of the trail: it forwards what is written from now on
    (beginning with its own creation event); the tenant's earlier trail is the CSV export's."""
    created = forwarder.pk is None
    if bearer_secret is not None:
        forwarder.bearer_secret_sealed = secret_seal(bearer_secret)
    if created:
        head = ChainHead.objects.values_list("sequence", flat=True).first()
        forwarder.last_sequence = head or 0
    forwarder.full_clean()
    forwarder.save()
    names = [name for name in changed if name in AUDITED_FIELDS]
    event_record(
        action="siem_forwarder.created" if created else "siem_forwarder.changed",
        tenant=forwarder.tenant_id,
        target=forwarder,
        extra={
            "changed": {name: getattr(forwarder, name) for name in names},
            "ca_certificate_changed": "ca_certificate" in changed,
            "bearer_secret_changed": bearer_secret is not None,
        },
    )
    return forwarder
