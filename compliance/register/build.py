"""The register of processing activities of one tenant (GDPR Art. 30(1)), generated from what
Custodia holds, never typed twice: the purposes (name, legal basis, categories of data subjects
and of data, source), the retention policy deciding each one's erasure time limit with its legal
reference (compliance/retention.py::choose_policy), the processors (recipients, transfers and
safeguards) and the security measures in force (compliance/security_measures.py).

`register_build` gathers the content in a form no language changes (codes, dates, stored texts)
and hashes it: the hash names the content, so two registers generated from the same facts carry
the same hash in every language and format. `register_rows` and `processor_rows` then word it
in one language (compliance/register/strings.py).

Which purposes: the tenant's own active ones, and the platform's it uses (has recordings,
consents or an own retention policy for). Recordings are counted by the reader that recordings
registers with `purposes_in_use_register` (compliance imports no recordings code).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from ..models import (
    Consent,
    ExpiryAction,
    LegalBasis,
    Processor,
    ProcessorStatus,
    Purpose,
    RetentionPolicy,
    Tenant,
    TransferSafeguard,
)
from ..retention import choose_policy
from ..security_measures import security_measures_in_force
from .strings import translate

UsageReader = Callable[[Tenant, list[int]], set[int]]
_usage_readers: list[UsageReader] = []


def purposes_in_use_register(reader: UsageReader) -> None:
    """For an app's AppConfig.ready: `reader(tenant, purpose_ids)` returns those of the ids the
    tenant uses (recordings: it has recordings of them)."""
    if reader not in _usage_readers:
        _usage_readers.append(reader)


def register_purposes(tenant: Tenant) -> list[Purpose]:
    """The purposes in the tenant's register: its own active ones, and every other it uses (has
    consents, its own retention policy or recordings for): the platform's, and a purpose switched
    off while what was collected for it is still kept (keeping is processing, GDPR Art. 4(2))."""
    others = list(
        Purpose.objects.filter(Q(tenant__isnull=True, active=True) | Q(tenant=tenant, active=False))
    )
    candidates = [purpose.pk for purpose in others]
    used = set(
        Consent.objects.filter(tenant=tenant, purpose_id__in=candidates).values_list(
            "purpose_id", flat=True
        )
    )
    used |= set(
        RetentionPolicy.objects.filter(tenant=tenant, purpose_id__in=candidates).values_list(
            "purpose_id", flat=True
        )
    )
    for reader in _usage_readers:
        used |= reader(tenant, [pk for pk in candidates if pk not in used])
    own = Purpose.objects.filter(tenant=tenant, active=True)
    chosen = [*own, *(purpose for purpose in others if purpose.pk in used)]
    return sorted(chosen, key=lambda purpose: (purpose.name, purpose.pk))


def _serves(processor: Processor, purpose_ids_by_processor: dict[int, set[int]], by_id) -> set:
    """The purposes a processor serves: those ticked, else those of the processor it works for,
    else every purpose (the platform)."""
    seen = set()
    current = processor
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        ticked = purpose_ids_by_processor.get(current.pk)
        if ticked:
            return ticked
        current = by_id.get(current.parent_id)
    return {"*"}


def retention_of(purpose: Purpose, policies: list[RetentionPolicy], tenant: Tenant) -> dict:
    policy = choose_policy(policies, tenant_id=tenant.pk, today=tenant.today())
    if policy is None:
        return {"months": purpose.default_retention_months, "policy": None}
    return {
        "months": policy.retention_months,
        "maximum_months": policy.maximum_months,
        "action": policy.action_at_expiry,
        "policy": policy.name,
        "scope": "tenant" if policy.tenant_id else "platform",
        "legal_reference": policy.legal_reference,
    }


def _processor_content(processor: Processor, serves: set, codes: dict[int, str]) -> dict:
    return {
        "id": processor.pk,
        "name": processor.name,
        "platform": processor.is_platform,
        "chain": [link.name for link in processor.chain()[1:]],
        "services": processor.services,
        "purposes": sorted(codes[pk] for pk in serves if pk in codes) if "*" not in serves else "*",
        "country": processor.country,
        "inside_eea": processor.inside_eea,
        "safeguard": processor.transfer_safeguard,
        "scc_signed_on": processor.scc_signed_on,
        "safeguard_reference": processor.safeguard_reference,
        "agreement_signed_on": processor.agreement_signed_on,
        "agreement_expires_on": processor.agreement_expires_on,
        "review_due_on": processor.review_due_on,
        "security_contact": processor.security_contact,
        "status": processor.status,
    }


def _chain_order(processors: Iterable[Processor]) -> list[Processor]:
    """Each processor followed by its sub-processors (depth first), the platform first. A
    sub-processor whose processor is not listed (ended while it goes on) starts a branch of its
    own: the register never drops a recipient that is still active."""
    processors = list(processors)
    listed = {processor.pk for processor in processors}
    children: dict[int | None, list[Processor]] = {}
    for processor in processors:
        parent = processor.parent_id if processor.parent_id in listed else None
        children.setdefault(parent, []).append(processor)
    ordered, stack = (
        [],
        sorted(children.get(None, []), key=lambda p: (not p.is_platform, p.name), reverse=True),
    )
    while stack:
        processor = stack.pop()
        ordered.append(processor)
        stack.extend(sorted(children.get(processor.pk, []), key=lambda p: p.name, reverse=True))
    return ordered


@dataclass(frozen=True)
class Register:
    tenant: Tenant
    generated_at: datetime
    content: dict
    digest: str
    # The measures in force, worded in each language (their codes and facts are in `content`).
    measures: tuple = ()

    @property
    def activities(self) -> list[dict]:
        return self.content["activities"]

    @property
    def processors(self) -> list[dict]:
        return self.content["processors"]


def content_digest(content: dict) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def register_build(tenant: Tenant) -> Register:
    """The tenant's register now, with the hash of its content."""
    purposes = register_purposes(tenant)
    codes = {purpose.pk: purpose.code for purpose in purposes}
    policies = list(
        RetentionPolicy.objects.filter(purpose__in=purposes, active=True).filter(
            Q(tenant=tenant) | Q(tenant__isnull=True)
        )
    )
    all_processors = list(
        Processor.objects.filter(tenant=tenant).select_related("parent").order_by("name")
    )
    by_id = {processor.pk: processor for processor in all_processors}
    current = [p for p in all_processors if p.status != ProcessorStatus.ENDED]
    ticked: dict[int, set[int]] = {}
    for processor_id, purpose_id in Processor.purposes.through.objects.filter(
        processor__tenant=tenant
    ).values_list("processor_id", "purpose_id"):
        ticked.setdefault(processor_id, set()).add(purpose_id)
    serves = {p.pk: _serves(p, ticked, by_id) for p in current}
    processors = [_processor_content(p, serves[p.pk], codes) for p in _chain_order(current)]
    activities = []
    for purpose in purposes:
        mine = [policy for policy in policies if policy.purpose_id == purpose.pk]
        recipients = [
            p for p in processors if p["purposes"] == "*" or purpose.code in p["purposes"]
        ]
        activities.append(
            {
                "purpose": purpose.code,
                "name": purpose.name,
                "description": purpose.description,
                "legal_basis": purpose.legal_basis,
                "requires_consent": purpose.requires_consent,
                "data_subjects": purpose.data_subjects,
                "data_categories": purpose.data_categories,
                "data_source": purpose.data_source,
                "retention": retention_of(purpose, mine, tenant),
                "recipients": [p["id"] for p in recipients],
                "transfers": [p["id"] for p in recipients if not p["inside_eea"]],
            }
        )
    measures = security_measures_in_force()
    content = {
        "controller": {"name": tenant.name, "country": tenant.country_code},
        "activities": activities,
        "processors": processors,
        "security_measures": [{"code": m.code, "facts": dict(m.facts)} for m in measures],
    }
    return Register(tenant, timezone.now(), content, content_digest(content), tuple(measures))


# --- worded in one language -----------------------------------------------------------------


ACTIVITY_COLUMNS = (
    "Purpose",
    "Description",
    "Legal basis",
    "Categories of data subjects",
    "Categories of personal data",
    "Source of the data",
    "Erasure time limit",
    "Legal reference",
    "Recipients (processors)",
    "Transfers outside the EEA and safeguards",
    "Security measures",
)
PROCESSOR_COLUMNS = (
    "Name",
    "Role",
    "Services provided",
    "Purposes served",
    "Country",
    "Inside the EEA",
    "Transfer safeguard",
    "Agreement signed on",
    "Agreement expires on",
    "Review due on",
    "Security contact",
    "Status",
)


def _label(choices, value, language: str) -> str:
    return translate(language, str(dict(choices.choices).get(value, value)))


def retention_text(retention: dict, language: str) -> str:
    if retention["policy"] is None:
        return translate(language, "the purpose's default period (no retention policy)") + (
            f" ({retention['months']})"
        )
    action = "anonymised" if retention["action"] == ExpiryAction.ANONYMISE else "deleted"
    text = translate(
        language,
        "%(months)d months, then %(action)s",
        months=retention["months"],
        action=translate(language, action),
    )
    maximum = retention.get("maximum_months")
    if maximum and maximum > retention["months"]:
        text += "; " + translate(language, "up to %(months)d months on request", months=maximum)
    return text


def _safeguard_text(processor: dict, language: str) -> str:
    text = _label(TransferSafeguard, processor["safeguard"], language)
    if processor["safeguard"] == TransferSafeguard.SCC and processor["scc_signed_on"]:
        text += ", " + translate(
            language, "signed on %(date)s", date=processor["scc_signed_on"].isoformat()
        )
    if processor["safeguard_reference"]:
        text += f" ({processor['safeguard_reference']})"
    return text


def role_text(processor: dict, language: str) -> str:
    if not processor["chain"]:
        return translate(language, "Processor")
    return translate(language, "Sub-processor of %(chain)s", chain=" ← ".join(processor["chain"]))


def register_rows(register: Register, language: str) -> list[list[str]]:
    """One row per purpose, in ACTIVITY_COLUMNS' order, worded in `language`."""
    by_id = {p["id"]: p for p in register.processors}
    measures = " ".join(m.text(language) for m in register.measures)
    rows = []
    for activity in register.activities:
        retention = activity["retention"]
        transfers = [
            translate(
                language,
                "%(name)s (%(country)s): %(safeguard)s",
                name=by_id[pk]["name"],
                country=by_id[pk]["country"],
                safeguard=_safeguard_text(by_id[pk], language),
            )
            for pk in activity["transfers"]
        ]
        rows.append(
            [
                translate(language, activity["name"]),
                translate(language, activity["description"]),
                _label(LegalBasis, activity["legal_basis"], language),
                translate(language, activity["data_subjects"]),
                translate(language, activity["data_categories"]),
                translate(language, activity["data_source"]),
                retention_text(retention, language),
                translate(language, retention.get("legal_reference") or ""),
                "; ".join(
                    f"{by_id[pk]['name']} ({role_text(by_id[pk], language)})"
                    for pk in activity["recipients"]
                ),
                "; ".join(transfers) or translate(language, "None"),
                measures,
            ]
        )
    return rows


def processor_rows(register: Register, language: str) -> list[list[str]]:
    """One row per processor (the chain in order), in PROCESSOR_COLUMNS' order."""
    names = {activity["purpose"]: activity["name"] for activity in register.activities}
    rows = []
    for processor in register.processors:
        if processor["purposes"] == "*":
            served = translate(language, "Every purpose")
        else:
            served = "; ".join(translate(language, names[code]) for code in processor["purposes"])
        rows.append(
            [
                processor["name"],
                role_text(processor, language),
                processor["services"],
                served,
                processor["country"],
                translate(language, "Yes" if processor["inside_eea"] else "No"),
                _safeguard_text(processor, language) if processor["safeguard"] else "",
                processor["agreement_signed_on"] or "",
                processor["agreement_expires_on"] or "",
                processor["review_due_on"] or "",
                processor["security_contact"],
                _label(ProcessorStatus, processor["status"], language),
            ]
        )
    return rows


def headings(columns: Iterable[str], language: str) -> list[str]:
    return [translate(language, column) for column in columns]
