"""The shipped risk analysis of a contact centre's call recording: the risks a tenant adopts
(`compliance/services/risks.py::risk_defaults_adopt`) and then adapts to its own processing.

Likelihood and severity are on the CNIL PIA scale (1 negligible to 4 maximum), before and after
the measures; the measures say what Custodia and the contact centre do, and where Custodia holds
the evidence (`EvidenceLink`, read live on the analysis' page).
"""

from __future__ import annotations

from dataclasses import dataclass

from .risk_models import EvidenceLink, MeasureStatus


@dataclass(frozen=True)
class DefaultMeasure:
    action: str
    done_by: str
    status: str = MeasureStatus.IN_PLACE
    evidence: str = ""
    evidence_link: str = EvidenceLink.NONE


@dataclass(frozen=True)
class DefaultRisk:
    code: str
    threat: str
    description: str
    likelihood: int
    severity: int
    residual_likelihood: int
    residual_severity: int
    owner: str
    measures: tuple[DefaultMeasure, ...]


DPO = "Data protection officer"
SECURITY = "IT security manager"
PLATFORM = "Contact centre (platform operator)"

DEFAULT_RISKS: tuple[DefaultRisk, ...] = (
    DefaultRisk(
        "unauthorised_listening",
        "Unauthorised listening to recordings",
        "A member of staff listens to calls without a need (curiosity, a dispute with a caller), "
        "learning about callers' health, finances or family.",
        3,
        3,
        1,
        3,
        DPO,
        (
            DefaultMeasure(
                "Listening only for a stated purpose compatible with the recording's, with a "
                "written justification, for a limited time",
                PLATFORM,
                evidence="Listening grants on the audit trail",
            ),
            DefaultMeasure(
                "Role-based access: quality analysts and supervisors listen, nobody else",
                PLATFORM,
            ),
            DefaultMeasure(
                "Alerts on unusual volumes of plays and on purposes that do not fit, triaged by "
                "the compliance officer",
                DPO,
                status=MeasureStatus.VERIFIED,
                evidence_link=EvidenceLink.CHAIN_VERIFICATION,
            ),
        ),
    ),
    DefaultRisk(
        "audio_exfiltration",
        "Exfiltration of audio",
        "Recordings copied out of the platform: downloaded in bulk, or the storage or a backup "
        "stolen.",
        2,
        4,
        1,
        3,
        SECURITY,
        (
            DefaultMeasure(
                "Audio encrypted at rest (AES-256-GCM), one key per recording wrapped by a "
                "per-tenant key; a stolen disk or backup is unreadable",
                PLATFORM,
            ),
            DefaultMeasure(
                "Every download on the audit trail; an alert on download spikes",
                PLATFORM,
            ),
        ),
    ),
    DefaultRisk(
        "kept_too_long",
        "Recordings kept beyond their time",
        "Calls kept longer than the purpose allows (CNIL: six months for quality and training), "
        "exposing callers for no reason.",
        2,
        3,
        1,
        2,
        DPO,
        (
            DefaultMeasure(
                "A retention policy per purpose, with its legal reference",
                DPO,
                evidence_link=EvidenceLink.RETENTION_POLICY,
            ),
            DefaultMeasure(
                "Nightly purge of expired recordings, each deletion certified",
                PLATFORM,
                status=MeasureStatus.VERIFIED,
                evidence_link=EvidenceLink.PURGE_RUN,
            ),
        ),
    ),
    DefaultRisk(
        "processor_breach",
        "A processor's breach",
        "A processor or sub-processor (storage, backup) suffers a breach affecting the "
        "recordings, and the controller learns of it late.",
        2,
        4,
        2,
        3,
        DPO,
        (
            DefaultMeasure(
                "A data processing agreement with every processor (Art. 28(3)), reviewed before "
                "it expires; sub-processors authorised in writing",
                DPO,
                evidence="The processors' register",
            ),
            DefaultMeasure(
                "Breach notification by the processor without undue delay, to a named security "
                "contact",
                DPO,
                status=MeasureStatus.PLANNED,
            ),
        ),
    ),
    DefaultRisk(
        "transfer_outside_eea",
        "Transfer outside the EEA without protection",
        "A sub-processor (a backup, a support team) reaches the recordings from a country "
        "without an adequate level of protection.",
        2,
        3,
        1,
        3,
        DPO,
        (
            DefaultMeasure(
                "No transfer without a safeguard: adequacy decision, standard contractual "
                "clauses or binding corporate rules, recorded in the register",
                DPO,
            ),
            DefaultMeasure(
                "Transfer impact assessment of each transfer under standard contractual clauses",
                DPO,
                status=MeasureStatus.PLANNED,
            ),
        ),
    ),
    DefaultRisk(
        "trail_tampering",
        "Tampering with the access log",
        "Someone with database access erases or changes the trace of their listening.",
        1,
        4,
        1,
        2,
        SECURITY,
        (
            DefaultMeasure(
                "Append-only, keyed hash chain of the audit trail, verified nightly and weekly "
                "in full, with checkpoints anchored outside the database",
                PLATFORM,
                status=MeasureStatus.VERIFIED,
                evidence_link=EvidenceLink.CHAIN_VERIFICATION,
            ),
        ),
    ),
    DefaultRisk(
        "account_takeover",
        "Account takeover",
        "A password stolen or guessed, or a laptop lost with a session open, gives a stranger "
        "the recordings.",
        3,
        3,
        1,
        3,
        SECURITY,
        (
            DefaultMeasure("Two-factor sign-in for every member of staff", PLATFORM),
            DefaultMeasure(
                "Accounts locked after repeated failed passwords; idle sessions ended",
                PLATFORM,
            ),
        ),
    ),
    DefaultRisk(
        "held_recording_deleted",
        "Recordings needed as evidence deleted",
        "A recording under litigation or a regulator's inquiry is purged or erased, losing "
        "evidence the controller must keep (Art. 17(3)(e)).",
        1,
        3,
        1,
        1,
        DPO,
        (
            DefaultMeasure(
                "Legal holds win over the purge and erasure requests",
                PLATFORM,
                evidence_link=EvidenceLink.LEGAL_HOLDS,
            ),
        ),
    ),
    DefaultRisk(
        "callers_not_informed",
        "Callers not informed, or recorded without consent",
        "A caller is recorded without being told, or for telemarketing without consent.",
        2,
        3,
        1,
        2,
        DPO,
        (
            DefaultMeasure(
                "Information message before every recorded call (IVR or agent script)",
                "Contact centre's operations manager",
            ),
            DefaultMeasure(
                "Purposes resting on consent refuse a recording without the caller's consent "
                "in force",
                PLATFORM,
            ),
        ),
    ),
    DefaultRisk(
        "cross_tenant_access",
        "One client's recordings seen by another's staff",
        "The contact centre serves several clients: a member of one client's staff reaches "
        "another client's recordings.",
        1,
        4,
        1,
        2,
        SECURITY,
        (
            DefaultMeasure(
                "Every page, export and API call scoped to the person's own clients; attempts "
                "on another's records refused and alerted",
                PLATFORM,
                status=MeasureStatus.VERIFIED,
            ),
        ),
    ),
)
