"""Is every stored recording still the audio that was ingested? Re-hash and compare."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from audit.alerts.rules import IntegrityRule
from audit.models import Outcome
from audit.services import event_record

from .. import crypto
from ..models import Recording
from ..storage import plain_audio_chunks


@dataclass
class IntegrityReport:
    checked: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.failures


def _problem(recording: Recording) -> str | None:
    digest = hashlib.sha256()
    try:
        # Piece by piece: a 50 MB recording is never whole in the worker's memory.
        for piece in plain_audio_chunks(recording):
            digest.update(piece)
    except FileNotFoundError:
        return "the audio file is missing"
    except crypto.DecryptionFailed as error:
        return str(error)
    if digest.hexdigest() != recording.audio_sha256:
        return "the audio no longer matches its SHA-256"
    return None


def recordings_verify_integrity(*, tenant_id: int | None = None) -> IntegrityReport:
    """Decrypt and re-hash every active recording; each mismatch is an audit event
    (`recording.integrity_failed`), and the run leaves a summary event."""
    report = IntegrityReport()
    recordings = Recording.objects.active().order_by("pk")
    if tenant_id is not None:
        recordings = recordings.filter(tenant_id=tenant_id)
    for recording in recordings.iterator(chunk_size=500):
        report.checked += 1
        problem = _problem(recording)
        if problem is None:
            continue
        report.failures.append({"recording": recording.pk, "problem": problem})
        recorded = event_record(
            action="recording.integrity_failed",
            tenant=recording.tenant_id,
            target=recording,
            outcome=Outcome.DENIED,
            extra={"problem": problem, "expected_sha256": recording.audio_sha256},
        )
        IntegrityRule.raise_now(
            tenant_id=recording.tenant_id,
            summary=f"Recording {recording} failed its integrity check: {problem}",
            event_sequence=recorded.sequence,
        )
    event_record(
        action="recording.integrity_checked",
        tenant=tenant_id,
        target_type="recordings.recording",
        extra={"checked": report.checked, "failures": len(report.failures)},
    )
    return report
