"""Live evidence of a risk's measure: what Custodia shows now about the retention policies, the
legal holds, the last verification of the audit chain or the last purge run, read when the risk
analysis is displayed, with a link to the page that shows it.

Compliance reads its own rows and the trail's checkpoints; the purge runs are recordings', which
registers its reader from its AppConfig.ready with `evidence_register` (compliance imports no
recordings code)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from audit.models import Checkpoint, CheckpointKind
from kit.times import in_tenant_zone

from .models import LegalHold, RetentionPolicy, Tenant
from .risk_models import EvidenceLink


@dataclass(frozen=True)
class Evidence:
    text: str
    url: str = ""


Reader = Callable[[Tenant], Evidence]
_readers: dict[str, Reader] = {}


def evidence_register(kind: str, reader: Reader) -> None:
    """For an app's AppConfig.ready: `reader(tenant)` says what Custodia shows of `kind` now."""
    _readers[kind] = reader


def _retention_policies(tenant: Tenant) -> Evidence:
    policies = RetentionPolicy.objects.filter(active=True, tenant=tenant)
    own = policies.count()
    shipped = RetentionPolicy.objects.filter(active=True, tenant__isnull=True).count()
    return Evidence(
        _("%(own)d policies of the tenant and %(shipped)d platform presets in force")
        % {"own": own, "shipped": shipped},
        reverse("admin:compliance_retentionpolicy_changelist"),
    )


def _legal_holds(tenant: Tenant) -> Evidence:
    count = LegalHold.objects.filter(tenant=tenant).active().count()
    return Evidence(
        _("%(count)d legal hold(s) in force") % {"count": count},
        reverse("admin:compliance_legalhold_changelist"),
    )


def _chain_verification(tenant: Tenant) -> Evidence:
    checkpoint = Checkpoint.objects.filter(kind=CheckpointKind.VERIFIED).order_by("-number").first()
    if checkpoint is None:
        return Evidence(_("The audit chain has not been verified yet"))
    return Evidence(
        _("Audit chain verified up to event #%(sequence)d on %(when)s")
        % {"sequence": checkpoint.sequence, "when": in_tenant_zone(checkpoint.created_at, tenant)},
        reverse("admin:audit_auditevent_changelist"),
    )


_readers.update(
    {
        EvidenceLink.RETENTION_POLICY: _retention_policies,
        EvidenceLink.LEGAL_HOLDS: _legal_holds,
        EvidenceLink.CHAIN_VERIFICATION: _chain_verification,
    }
)


def evidence_for(kind: str, tenant: Tenant) -> Evidence | None:
    """What Custodia shows now of `kind` for `tenant`; None for no link (or an app not
    installed)."""
    reader = _readers.get(kind)
    return reader(tenant) if reader else None
