"""The technical and organisational security measures the platform applies (GDPR Art. 30(1)(g),
32), as the register of processing activities states them: read from the settings in force when
the register is generated, so that it never claims a measure that is switched off.

Compliance states the measures it can see (the trail, the roles, the sign-in defences, HTTPS);
an app above it registers its own with `security_measures_register` from its AppConfig.ready
(recordings: encryption at rest, purpose-bound listening), as recordings registers its keyed
records with audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

LANGUAGES = ("en", "es", "fr")


@dataclass(frozen=True)
class SecurityMeasure:
    """One measure in force: `code` identifies it (the register's hash covers it and its
    `facts`), `texts` says it in each of LANGUAGES."""

    code: str
    texts: dict[str, str]
    facts: tuple[tuple[str, object], ...] = ()

    def text(self, language: str) -> str:
        return self.texts.get(language) or self.texts["en"]


Provider = Callable[[], list[SecurityMeasure]]
_providers: list[Provider] = []


def security_measures_register(provider: Provider) -> None:
    """For an app's AppConfig.ready: `provider()` returns its measures in force, reading its
    settings each time it is called."""
    if provider not in _providers:
        _providers.append(provider)


def _middleware(path: str) -> bool:
    return path in settings.MIDDLEWARE


def _own_measures() -> list[SecurityMeasure]:
    measures = []
    if settings.AUDIT_HMAC_KEY:
        measures.append(
            SecurityMeasure(
                "access_log",
                {
                    "en": "Access log: every listening, download, export and change is an event "
                    "of an append-only audit trail, chained with HMAC-SHA-256 under a key kept "
                    "outside the database and verified every night.",
                    "es": "Registro de accesos: cada escucha, descarga, exportación y cambio es "
                    "un evento de una pista de auditoría de solo adición, encadenado con "
                    "HMAC-SHA-256 con una clave guardada fuera de la base de datos y verificado "
                    "cada noche.",
                    "fr": "Journal des accès : chaque écoute, téléchargement, export et "
                    "modification est un événement d'une piste d'audit en ajout seul, chaînée "
                    "par HMAC-SHA-256 sous une clé gardée hors de la base de données et vérifiée "
                    "chaque nuit.",
                },
                (("algorithm", "HMAC-SHA-256"),),
            )
        )
    measures.append(
        SecurityMeasure(
            "role_based_access",
            {
                "en": "Role-based access: each person holds a role per client (compliance "
                "officer, supervisor, quality analyst, auditor) granting the least privilege, "
                "and sees only that client's data.",
                "es": "Acceso basado en roles: cada persona tiene un rol por cliente (responsable "
                "de cumplimiento, supervisor, analista de calidad, auditor) con el mínimo "
                "privilegio, y solo ve los datos de ese cliente.",
                "fr": "Accès par rôles : chaque personne a un rôle par client (responsable de la "
                "conformité, superviseur, analyste qualité, auditeur) au moindre privilège, et "
                "ne voit que les données de ce client.",
            },
        )
    )
    if (
        settings.OTP_REQUIRED
        and "django_otp" in settings.INSTALLED_APPS
        and _middleware("signin.middleware.SecondFactorMiddleware")
    ):
        measures.append(
            SecurityMeasure(
                "two_factor",
                {
                    "en": "Two-factor sign-in: a password and a code from an authenticator app "
                    "(TOTP) or a single-use recovery code, required of every member of staff.",
                    "es": "Inicio de sesión con doble factor: una contraseña y un código de una "
                    "aplicación de autenticación (TOTP) o un código de recuperación de un solo "
                    "uso, exigido a todo el personal.",
                    "fr": "Connexion à deux facteurs : un mot de passe et un code d'une "
                    "application d'authentification (TOTP) ou un code de secours à usage "
                    "unique, exigée de tout le personnel.",
                },
            )
        )
    if getattr(settings, "AXES_ENABLED", True) and _middleware("axes.middleware.AxesMiddleware"):
        limit = settings.AXES_FAILURE_LIMIT
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        measures.append(
            SecurityMeasure(
                "lockout",
                {
                    "en": f"Accounts locked for {minutes} minutes after {limit} failed "
                    "passwords; addresses trying many accounts locked too.",
                    "es": f"Cuentas bloqueadas durante {minutes} minutos tras {limit} "
                    "contraseñas erróneas; también las direcciones que prueban muchas cuentas.",
                    "fr": f"Comptes verrouillés {minutes} minutes après {limit} mots de passe "
                    "erronés ; les adresses qui essaient de nombreux comptes aussi.",
                },
                (("failures", limit), ("minutes", minutes)),
            )
        )
    idle = settings.SESSION_IDLE_MINUTES
    if idle > 0 and _middleware("signin.middleware.IdleSessionMiddleware"):
        measures.append(
            SecurityMeasure(
                "session_timeout",
                {
                    "en": f"Sessions end after {idle} minutes without activity.",
                    "es": f"Las sesiones terminan tras {idle} minutos sin actividad.",
                    "fr": f"Les sessions prennent fin après {idle} minutes d'inactivité.",
                },
                (("minutes", idle),),
            )
        )
    if settings.SECURE_SSL_REDIRECT and settings.SESSION_COOKIE_SECURE:
        measures.append(
            SecurityMeasure(
                "https",
                {
                    "en": "Connections over HTTPS only, with secure cookies.",
                    "es": "Conexiones solo por HTTPS, con cookies seguras.",
                    "fr": "Connexions en HTTPS uniquement, avec des cookies sécurisés.",
                },
            )
        )
    return measures


def security_measures_in_force() -> list[SecurityMeasure]:
    """The measures in force now, compliance's and those the apps above it registered, in a
    stable order (by code)."""
    measures = _own_measures()
    for provider in _providers:
        measures.extend(provider())
    return sorted(measures, key=lambda measure: measure.code)
