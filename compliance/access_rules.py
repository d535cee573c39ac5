"""Why someone may listen to a recording: the one place that decides listening purposes.

Listening to a call recording is a processing of the caller's (and the agent's) personal data. It
must serve a stated need (CNIL: record who accessed what, when, *for what purpose*), and that need
must be compatible with the purpose the recording was made for (GDPR Art. 5(1)(b), purpose
limitation; Art. 6(4), compatibility of further processing). Two questions decide it:

1. Which needs may this person state, given their role in the recording's tenant?
2. Which needs are compatible with the recording's purpose?

The answer is the intersection. Everything about listening (the purpose form, the grant service,
the admin's "Listen" link) asks this module; nothing else hard-codes a purpose.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Role
from .roles import tenant_permits, tenant_role


class AccessNeed(models.TextChoices):
    """The need a person states before hearing a recording (stored on the grant and the trail)."""

    QUALITY = "quality", _("Quality review")
    TRAINING = "training", _("Agent training")
    SUPERVISION = "supervision", _("Performance supervision")
    COMPLAINT = "complaint", _("Complaint investigation")
    LEGAL = "legal", _("Legal or regulatory request")
    SUBJECT_ACCESS = "subject_access", _("Data-subject access request (GDPR Art. 15)")


# Needs that every recording is compatible with, whatever it was made for:
# - a complaint about the call itself is handled with the call's own record (and the defence of
#   legal claims is a ground the GDPR itself preserves, Art. 17(3)(e));
# - a court, the regulator or the police may require the recording (Art. 6(1)(c), legal
#   obligation; MiFID II Art. 16(7) recordings exist for exactly this);
# - the caller's right of access covers the recording of their own call (Art. 15(1) and (3)).
ALWAYS_COMPATIBLE: frozenset[AccessNeed] = frozenset(
    {AccessNeed.COMPLAINT, AccessNeed.LEGAL, AccessNeed.SUBJECT_ACCESS}
)

# What each role may state. Least privilege, following the roles of docs/architecture.md.
ROLE_NEEDS: dict[str, frozenset[AccessNeed]] = {
    # Quality analysts and trainers: quality or training only (CNIL lists training and the
    # evaluation / improvement of service quality as the purposes of workplace call recording).
    Role.QUALITY_ANALYST: frozenset({AccessNeed.QUALITY, AccessNeed.TRAINING}),
    # Supervisors also assess their agents and handle the complaints that reach them.
    Role.SUPERVISOR: frozenset(
        {
            AccessNeed.QUALITY,
            AccessNeed.TRAINING,
            AccessNeed.SUPERVISION,
            AccessNeed.COMPLAINT,
        }
    ),
    # The compliance officer (often the DPO's delegate) answers complaints, the authorities and
    # data subjects; they do not review agents' work, which is not their purpose.
    Role.COMPLIANCE_OFFICER: frozenset(
        {AccessNeed.COMPLAINT, AccessNeed.LEGAL, AccessNeed.SUBJECT_ACCESS}
    ),
    # Auditors review the trail and reports; they never listen (docs/architecture.md, "Roles").
    Role.AUDITOR: frozenset(),
}

# Platform operators (superusers) run the platform; they listen only when the law or a data
# subject requires it, or to investigate a complaint escalated to the platform.
OPERATOR_NEEDS: frozenset[AccessNeed] = ALWAYS_COMPATIBLE

# Needs compatible with each *shipped* purpose (platform purposes, migration 0004), beyond
# ALWAYS_COMPATIBLE.
PURPOSE_NEEDS: dict[str, frozenset[AccessNeed]] = {
    # CNIL workplace guidance groups training and quality evaluation: a call recorded for one may
    # be heard for the other; the agents were informed of both.
    "training": frozenset({AccessNeed.TRAINING, AccessNeed.QUALITY}),
    "quality": frozenset({AccessNeed.QUALITY, AccessNeed.TRAINING}),
    # Recorded to assess agents' performance, which is also quality and training material.
    "supervision": frozenset({AccessNeed.SUPERVISION, AccessNeed.QUALITY, AccessNeed.TRAINING}),
    # Consent-based: the caller agreed to a recording for the commercial call; checking that the
    # call followed the script is within what was announced, reusing it for training or to assess
    # the agent is not (consent covers the purposes stated to the caller, Art. 6(1)(a), 7).
    "telemarketing": frozenset({AccessNeed.QUALITY}),
    # Analysis material exists to evaluate calls and agents.
    "call_analysis": frozenset({AccessNeed.QUALITY, AccessNeed.TRAINING, AccessNeed.SUPERVISION}),
    # Kept under a legal obligation as proof (Code des assurances R.112-7; MiFID II Art. 16(7)):
    # a further use for quality, training or supervision is not compatible with that basis
    # (Art. 6(4)); only complaints, the authorities and the data subject may hear them.
    "insurance_telesales": frozenset(),
    "investment_services": frozenset(),
}


def may_listen(*, user, recording) -> bool:
    return tenant_permits(user, recording.tenant_id, "recordings.listen_recording")


def may_download(*, user, recording) -> bool:
    return may_listen(user=user, recording=recording) and tenant_permits(
        user, recording.tenant_id, "recordings.download_recording"
    )


def needs_of_role(role: Role | None) -> frozenset[AccessNeed]:
    return ROLE_NEEDS.get(role, frozenset()) if role else frozenset()


def needs_compatible_with(purpose) -> frozenset[AccessNeed]:
    """A tenant's own purpose may reuse a shipped code with another meaning (another legal basis,
    another audience): only the always-compatible needs apply to it and to unknown codes."""
    if purpose.tenant_id is None:
        return ALWAYS_COMPATIBLE | PURPOSE_NEEDS.get(purpose.code, frozenset())
    return ALWAYS_COMPATIBLE


def allowed_access_purposes(*, user, recording) -> list[AccessNeed]:
    """The needs this user may state to hear this recording, in the order of AccessNeed.

    Permissions (listen_recording) are checked separately, by `may_listen`.
    """
    stated = needs_of_role(tenant_role(user=user, tenant_id=recording.tenant_id))
    if user.is_superuser:
        stated = stated | OPERATOR_NEEDS
    compatible = needs_compatible_with(recording.purpose)
    return [need for need in AccessNeed if need in stated and need in compatible]


def purpose_fits_need(purpose_code: str, platform: bool, need: str) -> bool:
    """Whether a stated need fits a recording's purpose, from what an audit event keeps of it
    (its code, and whether it is a platform purpose): the alert rule's question
    (audit/alerts/rules.py::PurposeMisuseRule)."""
    purpose = SimpleNamespace(code=purpose_code, tenant_id=None if platform else 0)
    return need in needs_compatible_with(purpose)
