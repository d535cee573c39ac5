"""Data-subject requests in the state the fulfilling steps need, through the real services."""

from __future__ import annotations

from compliance.models import SubjectRequest
from compliance.services.subject_requests import (
    subject_request_receive,
    subject_request_verify_identity,
)

NUMBER = "+33612345678"


def received(cast, kind: str, *, numbers=(NUMBER,), tenant=None, **fields) -> SubjectRequest:
    tenant = tenant or cast.acme
    return subject_request_receive(
        actor=cast.erin if tenant == cast.globex else cast.alice,
        tenant=tenant,
        kind=kind,
        customer_numbers=list(numbers),
        channel="email",
        **fields,
    )


def verified(cast, kind: str, **fields) -> SubjectRequest:
    """Received and the requester's identity verified (the request is then in progress)."""
    request = received(cast, kind, **fields)
    actor = cast.erin if request.tenant_id == cast.globex.pk else cast.alice
    return subject_request_verify_identity(actor=actor, request=request, method="call_back")
