"""What recordings tells compliance's documents (the register of processing, the risk analysis)
through the registries compliance offers, since compliance imports no recordings code: the
security measures recordings applies (read from the settings in force), the purposes a tenant
has recordings of, and the last purge run as a measure's live evidence. Registered by
recordings/apps.py."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from compliance.evidence import Evidence
from compliance.security_measures import SecurityMeasure
from kit.times import in_tenant_zone

from .crypto import ALGORITHM
from .models import PurgeRun, PurgeRunStatus, Recording


def recordings_security_measures() -> list[SecurityMeasure]:
    measures = []
    if settings.RECORDINGS_MASTER_KEY:
        measures.append(
            SecurityMeasure(
                "encryption_at_rest",
                {
                    "en": f"Audio encrypted at rest ({ALGORITHM}): a key per recording, wrapped "
                    "by a key per client derived from a master key kept outside the database; "
                    "destroying a recording's key makes every copy unreadable.",
                    "es": f"Audio cifrado en reposo ({ALGORITHM}): una clave por grabación, "
                    "envuelta por una clave por cliente derivada de una clave maestra guardada "
                    "fuera de la base de datos; destruir la clave de una grabación hace "
                    "ilegible toda copia.",
                    "fr": f"Audio chiffré au repos ({ALGORITHM}) : une clé par enregistrement, "
                    "enveloppée par une clé par client dérivée d'une clé maîtresse gardée hors "
                    "de la base de données ; détruire la clé d'un enregistrement rend toute "
                    "copie illisible.",
                },
                (("algorithm", ALGORITHM),),
            )
        )
    minutes = settings.LISTENING_GRANT_MINUTES
    measures.append(
        SecurityMeasure(
            "purpose_bound_listening",
            {
                "en": "Listening only for a stated purpose compatible with the recording's, "
                f"with a written justification, for {minutes} minutes at a time.",
                "es": "Escucha solo para una finalidad declarada compatible con la de la "
                f"grabación, con una justificación escrita, durante {minutes} minutos cada vez.",
                "fr": "Écoute seulement pour une finalité déclarée compatible avec celle de "
                f"l'enregistrement, avec une justification écrite, {minutes} minutes à la fois.",
            },
            (("minutes", minutes),),
        )
    )
    return measures


def purposes_with_recordings(tenant, purpose_ids: list[int]) -> set[int]:
    """Of `purpose_ids`, those the tenant has recordings of (one index probe each)."""
    return {
        purpose_id
        for purpose_id in purpose_ids
        if Recording.objects.filter(tenant=tenant, purpose_id=purpose_id).exists()
    }


def last_purge_run(tenant) -> Evidence:
    """The last purge run that finished: when, and a link to it (its page shows a tenant's
    people their own figures only)."""
    run = (
        PurgeRun.objects.filter(status=PurgeRunStatus.FINISHED, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    if run is None:
        return Evidence("No purge run has finished yet")
    return Evidence(
        f"Last purge run finished {in_tenant_zone(run.finished_at, tenant)}",
        reverse("admin:recordings_purgerun_change", args=[run.pk]),
    )
