"""Custodia settings: one module, every value read from the environment with django-environ.

Every variable is listed in `.env.example` and the README with its default. With nothing set the
portal runs in development mode against the embedded PostgreSQL server under `var/pg` (started by
`make run`) and Celery's filesystem broker under `var/broker`; production sets `DEBUG=false` and
then must provide every secret, or start-up stops with one line naming the missing variable.
"""

from __future__ import annotations

import base64
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Directory of the embedded PostgreSQL server that `make run` starts when DATABASE_URL is unset.
EMBEDDED_PGDATA = Path(env.str("EMBEDDED_PGDATA", default=str(VAR_DIR / "pg")))
EMBEDDED_DATABASE_URL = f"postgres://postgres@{quote(str(EMBEDDED_PGDATA), safe='')}/custodia"


def _required_in_production(name: str, development_default: str) -> str:
    """A secret: required when DEBUG is off, a loud development default otherwise."""
    value = env.str(name, default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} is required when DEBUG is off (see .env.example)")
    return development_default


SECRET_KEY = _required_in_production(
    "SECRET_KEY", "INSECURE-development-only-secret-key-do-not-use-in-production"
)
# Key of the HMAC that keys the audit chain's hashes, signs its checkpoints and deletion
# certificates, and keys the call-id and searched-number hashes. It is never stored in the
# database: someone who can write there cannot recompute the chain.
AUDIT_HMAC_KEY = _required_in_production("AUDIT_HMAC_KEY", "INSECURE-development-audit-hmac-key")
# Keys AUDIT_HMAC_KEY replaced (`rotate_audit_key`): kept for verification and look-ups as long as
# anything they hashed or signed is kept, which for the append-only trail means for good.
AUDIT_HMAC_PREVIOUS_KEYS = env.list("AUDIT_HMAC_PREVIOUS_KEYS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # django.contrib.admin, with the portal's index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "signin.apps.LockoutConfig",  # django-axes
    "django_otp",
    "signin.apps.AuthenticatorsConfig",  # django-otp's TOTP devices
    "signin.apps.RecoveryCodesConfig",  # django-otp's static (recovery) codes
    "audit",
    "compliance",
    "recordings",
    "signin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of every answer: the person's choice (the language cookie set by the switcher
    # in the header), else the browser's Accept-Language, else LANGUAGE_CODE. The API's error
    # messages follow it too; a client that sends no Accept-Language reads English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditContextMiddleware",
    # Times on every page in the viewer's tenant's zone.
    "compliance.middleware.TenantTimeZoneMiddleware",
    # Idle sessions end before anything else looks at the user; the expiry is on the trail.
    "signin.middleware.IdleSessionMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # After the password, every page but the second-factor ones waits for the second factor.
    "signin.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"


def _database_config() -> dict:
    url = env.str("DATABASE_URL", default="")
    if not url and not DEBUG:
        raise ImproperlyConfigured("DATABASE_URL is required when DEBUG is off (see .env.example)")
    url = url or EMBEDDED_DATABASE_URL
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown scheme is reported below, in one line
            config = environ.Env.db_url_config(url)
    except Exception as error:  # django-environ raises several types for a malformed URL
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {error}") from error
    # A Unix-socket directory arrives percent-encoded in the host part.
    config["HOST"] = unquote(str(config.get("HOST", "")))
    if config.get("ENGINE") != "django.db.backends.postgresql" or not config.get("NAME"):
        raise ImproperlyConfigured(
            "DATABASE_URL must be a PostgreSQL URL such as postgres://user:password@host:5432/custodia"
        )
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    # The few statements every API call runs (kit.sql.prepared_cursor) are parsed and planned
    # once per connection instead of on every call. Everything else keeps Django's client-side
    # binding, which never prepares. Turn it off behind a pooler in transaction mode that cannot
    # keep prepared statements: PgBouncer before 1.22 (psycopg sends DEALLOCATE ALL after a
    # rollback, which PgBouncer handles from 1.22), or without max_prepared_statements.
    prepared = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
    config.setdefault("OPTIONS", {})["prepare_threshold"] = 0 if prepared else None
    return config


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out account before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages the portal is translated into (their names translated; the switcher shows each
# in its own language too); their catalogues are in locale/, compiled and committed (README,
# "Languages").
LANGUAGES = [
    ("en", gettext_lazy("English")),
    ("es", gettext_lazy("Spanish")),
    ("fr", gettext_lazy("French")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice is kept a year in this browser's language cookie, and on the account of a
# person signed in (signin.LanguagePreference: the mail sent to them, and the cookie set again
# when they sign in elsewhere). No script reads it.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True
# Dates and times in one format, the zone named (portal/formats/, kit/times.py); each signed-in
# person reads them in their tenant's zone (compliance.middleware.TenantTimeZoneMiddleware).
FORMAT_MODULE_PATH = ["portal.formats"]

# Recordings are private: never under MEDIA_URL, only streamed through purpose-bound views. The
# "recordings" storage may be swapped for S3-compatible storage (django-storages) in STORAGES.
RECORDINGS_ROOT = Path(env.str("RECORDINGS_ROOT", default=str(VAR_DIR / "recordings")))
# Master key (32 bytes, base64) from which each tenant's key-wrapping key is derived. Previous
# master keys stay listed until `rotate_master_key` has rewrapped every data key.
RECORDINGS_MASTER_KEY = _required_in_production(
    "RECORDINGS_MASTER_KEY",
    # base64 of "INSECURE-development-master-key!" (32 bytes)
    "SU5TRUNVUkUtZGV2ZWxvcG1lbnQtbWFzdGVyLWtleSE=",
)
RECORDINGS_PREVIOUS_MASTER_KEYS = env.list("RECORDINGS_PREVIOUS_MASTER_KEYS", default=[])
for _name, _values in (
    ("RECORDINGS_MASTER_KEY", [RECORDINGS_MASTER_KEY]),
    ("RECORDINGS_PREVIOUS_MASTER_KEYS", RECORDINGS_PREVIOUS_MASTER_KEYS),
):
    for _value in _values:
        try:
            _length = len(base64.b64decode(_value, validate=True))
        except ValueError:
            _length = -1
        if _length != 32:
            raise ImproperlyConfigured(f"{_name} must be 32 random bytes in base64")
RECORDINGS_MAX_UPLOAD_BYTES = env.int("RECORDINGS_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# An upload larger than this is spooled to a temporary file as it arrives (Django's default,
# stated because ingestion relies on it): the service then reads it in pieces, never whole.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# API limits (compliance/api_limits.py), shared by every web process through PostgreSQL.
# Calls per minute per API key: a recorder pushing 100 recordings/s at its peak makes 6,000, plus
# its consent and do-not-call calls; 0 turns the limit off.
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=20_000)
# Uploads in flight per API key at once (1 to 63), each holding a web worker while its body
# arrives: the next is answered 429 at once. 100 uploads/s of ~50 ms each keep ~5 in flight.
API_UPLOADS_IN_FLIGHT_PER_KEY = env.int("API_UPLOADS_IN_FLIGHT_PER_KEY", default=16)
# Failed authentications per key prefix and client address in one window before that prefix is
# answered 429 from that address, without any key check, until the window ends. The window's
# first failure is on the audit trail at once, its count when it has closed.
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=20)
API_AUTH_FAILURE_WINDOW_SECONDS = env.int("API_AUTH_FAILURE_WINDOW_SECONDS", default=300)
for _name, _value, _low, _high in (
    ("API_RATE_LIMIT_PER_MINUTE", API_RATE_LIMIT_PER_MINUTE, 0, 10**9),
    ("API_UPLOADS_IN_FLIGHT_PER_KEY", API_UPLOADS_IN_FLIGHT_PER_KEY, 1, 63),
    ("API_AUTH_FAILURE_LIMIT", API_AUTH_FAILURE_LIMIT, 1, 10**9),
    ("API_AUTH_FAILURE_WINDOW_SECONDS", API_AUTH_FAILURE_WINDOW_SECONDS, 1, 86_400),
):
    if not _low <= _value <= _high:
        raise ImproperlyConfigured(f"{_name} must be between {_low} and {_high}")

# The contact centre running Custodia, as every tenant's first processor in its register of
# processing (GDPR Art. 28, 30): the name and country its row starts with (a compliance officer
# completes the agreement's dates and the security contact in the admin).
PLATFORM_OPERATOR_NAME = env.str("PLATFORM_OPERATOR_NAME", default="Contact centre (Custodia)")
PLATFORM_OPERATOR_COUNTRY = env.str("PLATFORM_OPERATOR_COUNTRY", default="FR")
if len(PLATFORM_OPERATOR_COUNTRY) != 2 or not PLATFORM_OPERATOR_COUNTRY.isupper():
    raise ImproperlyConfigured("PLATFORM_OPERATOR_COUNTRY must be an ISO 3166-1 code such as FR")

# How long a stated purpose grants access to one recording.
LISTENING_GRANT_MINUTES = env.int("LISTENING_GRANT_MINUTES", default=15)
# How many days a data subject's export (access, portability) may be downloaded once built; the
# nightly job then deletes it (recordings/subject_requests/export.py).
SUBJECT_EXPORT_DAYS = env.int("SUBJECT_EXPORT_DAYS", default=7)
if not 1 <= SUBJECT_EXPORT_DAYS <= 90:
    raise ImproperlyConfigured("SUBJECT_EXPORT_DAYS must be between 1 and 90")

# Do-not-call lists uploaded in the admin wait here for the worker that imports them, then are
# removed (compliance/services/dnc_lists.py): private, and shared by the web and worker processes.
DNC_UPLOAD_ROOT = Path(env.str("DNC_UPLOAD_ROOT", default=str(VAR_DIR / "dnc-uploads")))
# The largest list file the admin accepts (a UK TPS file of 20 million numbers is about 280 MB).
DNC_UPLOAD_MAX_BYTES = env.int("DNC_UPLOAD_MAX_BYTES", default=2 * 1024**3)
# A scrub's removed rows (POST /api/v1/dnc/scrub) wait here, encrypted, for their download, then
# are deleted when DNC_SCRUB_KEEP_HOURS have passed (compliance/services/dnc_scrubs.py).
DNC_SCRUB_ROOT = Path(env.str("DNC_SCRUB_ROOT", default=str(VAR_DIR / "dnc-scrubs")))
DNC_SCRUB_KEEP_HOURS = env.int("DNC_SCRUB_KEEP_HOURS", default=24)
if not 1 <= DNC_SCRUB_KEEP_HOURS <= 24 * 7:
    raise ImproperlyConfigured("DNC_SCRUB_KEEP_HOURS must be between 1 and 168")

STATIC_URL = "static/"
# The site's own static files (the dashboard's and the lists' stylesheets), besides each app's.
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "recordings": {
        # FileSystemStorage that fsyncs each file (and its folder) before the row commits.
        "BACKEND": "recordings.storage.DurableFileSystemStorage",
        # No base_url: the files have no public URL; file and folder modes keep them private.
        "OPTIONS": {
            "location": str(RECORDINGS_ROOT),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG


# Security: production values whenever DEBUG is off (`manage.py check --deploy` is clean).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = False
# Preloading binds the parent domain and every subdomain into browsers for months: a decision for
# the owner of that domain, not the portal's, so the header leaves it out and its check is silenced.
SILENCED_SYSTEM_CHECKS = [
    "security.W021",
    # django-axes warns when a lockout tier is not by address alone; our first tier is by
    # account (AXES_LOCKOUT_PARAMETERS below), which counts every failure for an account whatever
    # the address or user agent, so rotating them does not get around it.
    "axes.W006",
]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Health checks from the load balancer and docker-compose arrive over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]

# Sign-in defences.
# A session unused this long ends (signin.middleware.IdleSessionMiddleware), whatever is left of
# SESSION_COOKIE_AGE, which bounds a session that is kept busy.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
# Lockout (django-axes), in two tiers (signin.lockout): after AXES_FAILURE_LIMIT failed passwords
# for an account within the cool-off, the account is refused for AXES_COOLOFF_MINUTES, from any
# address, as PCI DSS 8.3.4 asks ("lock out the user ID"); after SIGNIN_ADDRESS_FAILURE_LIMIT
# failures from one address, whatever the names tried (password spraying), that address is. The
# address's limit is higher because agents of a contact centre share one address behind NAT:
# locking it at an account's limit would lock out a whole floor. A platform operator unlocks
# either in the admin (Sign-in lockouts > Access attempts). AXES_LOCKOUT_PARAMETERS names the
# account tier: `username,ip_address` locks an account from one address only.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
SIGNIN_ADDRESS_FAILURE_LIMIT = env.int("SIGNIN_ADDRESS_FAILURE_LIMIT", default=30)
if SIGNIN_ADDRESS_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    raise ImproperlyConfigured(
        "SIGNIN_ADDRESS_FAILURE_LIMIT must be at least AXES_FAILURE_LIMIT: an address is shared"
    )
_account_tier = env.list("AXES_LOCKOUT_PARAMETERS", default=["username"])
if not _account_tier or set(_account_tier) - {"username", "ip_address", "user_agent"}:
    raise ImproperlyConfigured(
        "AXES_LOCKOUT_PARAMETERS must be username, ip_address or user_agent, comma-separated"
    )
# Either entry locks (django-axes); the first is the account tier, the second the address tier.
AXES_LOCKOUT_PARAMETERS = [_account_tier, "ip_address"]
AXES_HANDLER = "signin.lockout.TieredLockoutHandler"
# Failed sign-ins on the trail: an account's first in a window is an event, the rest of the
# window one count (signin.failures), so that a stream of tries cannot fill the append-only trail.
SIGNIN_FAILURE_WINDOW_SECONDS = env.int("SIGNIN_FAILURE_WINDOW_SECONDS", default=300)
if not 1 <= SIGNIN_FAILURE_WINDOW_SECONDS <= 86_400:
    raise ImproperlyConfigured("SIGNIN_FAILURE_WINDOW_SECONDS must be between 1 and 86400")
# A successful sign-in forgets the failures before it.
AXES_RESET_ON_SUCCESS = True
# The same client address as the audit trail, behind the same trusted proxies.
AXES_CLIENT_IP_CALLABLE = "audit.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "signin.views.locked_out"
# Sign-ins and failures are on the audit trail already; axes keeps only the counters it needs.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# Two factors (django-otp): a password, then a code from an authenticator app (TOTP) or one of ten
# single-use recovery codes. Required of every staff member when OTP_REQUIRED is on (the default
# whenever DEBUG is off); with it off, only those who enrolled are asked, so that `make run`'s
# demo logins work with a password alone.
OTP_REQUIRED = env.bool("OTP_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Custodia")
# No one, platform operators included, reads a person's TOTP secret back from the admin.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Content-Security-Policy (django-csp): the admin's and the player's own scripts, styles, images
# and audio, nothing inline, nothing from elsewhere, and no framing (clickjacking).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        # The player's <audio> streams from our own URL; blob: for a player that buffers itself.
        "media-src": [SELF, "blob:"],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
    }
}

# Audit request context: how many reverse proxies sit in front of the portal (each appends one
# address to X-Forwarded-For), and which header carries the contact centre's workstation id.
AUDIT_TRUSTED_PROXY_COUNT = env.int("AUDIT_TRUSTED_PROXY_COUNT", default=0)
AUDIT_WORKSTATION_HEADER = env.str("AUDIT_WORKSTATION_HEADER", default="X-Workstation-Id")
# Append-only file (or directory, holding audit-anchors.jsonl) where each audit checkpoint's
# sequence and head hash are written, outside the database; ship it off the machine (WORM storage,
# the log collector) so that a database administrator cannot rewrite it.
AUDIT_ANCHOR_PATH = Path(env.str("AUDIT_ANCHOR_PATH", default=str(VAR_DIR / "audit-anchors.jsonl")))

# E-mail (alerts of high severity, incident deadlines: audit/notifications.py), as a URL read by
# django-environ: smtp://user:password@host:25, smtp+tls://…:587 (STARTTLS), smtp+ssl://…:465, or
# consolemail:// (printed, the development default). Mail is sent by the Celery worker.
_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="custodia@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where the portal is reached, for the links in those e-mails.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# Celery: JSON only, late acknowledgement with idempotent tasks, Redis visibility timeout above
# the longest task so that a task still running is never delivered twice.
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default="filesystem://" if DEBUG else "redis://127.0.0.1:6379/0"
)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Above the longest time limit of any task (the chain and integrity checks allow 6 hours).
LONGEST_TASK_SECONDS = max(CELERY_TASK_TIME_LIMIT, 6 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": LONGEST_TASK_SECONDS + 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker" / "out"),
        "data_folder_out": str(VAR_DIR / "broker" / "out"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    default=CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith("redis")
    else f"file://{VAR_DIR / 'celery-results'}",
)
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
# The counters of do-not-call checks, turned into audit events every minute
# (compliance/dnc_check_counts.py): the broker's Redis unless another is named.
DNC_CHECK_COUNTS_URL = env.str(
    "DNC_CHECK_COUNTS_URL",
    default=CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith("redis")
    else "redis://127.0.0.1:6379/0",
)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# When the nightly purge runs, HH:MM in TIME_ZONE.
PURGE_AT = env.str("PURGE_AT", default="02:30")
try:
    _purge_hour, _purge_minute = (int(part) for part in PURGE_AT.split(":"))
except ValueError as _error:
    raise ImproperlyConfigured("PURGE_AT must be HH:MM, e.g. 02:30") from _error

# How often the alert rules read the events appended since their last run (seconds): an alert
# is raised within two runs of its last event.
ALERT_RULES_EVERY_SECONDS = env.int("ALERT_RULES_EVERY_SECONDS", default=60)
if ALERT_RULES_EVERY_SECONDS < 1:
    raise ImproperlyConfigured("ALERT_RULES_EVERY_SECONDS must be at least 1")

# The trail forwarded to each tenant's SOC (audit/forwarding/): how often the beat looks for new
# events, how long one connection may take, and whether a collector may be on a private network
# (refused by default: a tenant must not make the portal reach the platform's own network).
SIEM_FORWARD_EVERY_SECONDS = env.int("SIEM_FORWARD_EVERY_SECONDS", default=10)
if SIEM_FORWARD_EVERY_SECONDS < 1:
    raise ImproperlyConfigured("SIEM_FORWARD_EVERY_SECONDS must be at least 1")
SIEM_FORWARD_TIMEOUT_SECONDS = env.int("SIEM_FORWARD_TIMEOUT_SECONDS", default=10)
SIEM_ALLOW_PRIVATE_ADDRESSES = env.bool("SIEM_ALLOW_PRIVATE_ADDRESSES", default=False)

CELERY_BEAT_SCHEDULE = {
    # Every few seconds: each tenant's new audit events go to its SOC's collector; a run not
    # started within the period is dropped (the next one continues from the same cursor).
    "forward-audit-trail": {
        "task": "audit.tasks.forward_audit_trail",
        "schedule": SIEM_FORWARD_EVERY_SECONDS,
        "options": {"expires": SIEM_FORWARD_EVERY_SECONDS},
    },
    # Every minute: the alert rules over what the trail received since their last run.
    "evaluate-alert-rules": {
        "task": "audit.tasks.evaluate_alert_rules",
        "schedule": ALERT_RULES_EVERY_SECONDS,
    },
    # Nightly, when no one listens: delete what has expired, with a certificate for each.
    "purge-expired-recordings": {
        "task": "recordings.tasks.purge_expired_recordings",
        "schedule": crontab(hour=_purge_hour, minute=_purge_minute),
    },
    # Nightly, after the day's calls: re-hash what was appended since the last checkpoint.
    "verify-audit-chain": {
        "task": "audit.tasks.verify_audit_chain",
        "schedule": crontab(hour=3, minute=30),
    },
    # Every 5 minutes: the counts of closed windows of failed API authentications go on the
    # trail (those no later failure has written yet), and the rate limit's past minutes go.
    "count-api-auth-failures": {
        "task": "compliance.tasks.count_api_auth_failures",
        "schedule": 300,
    },
    # Every minute: the do-not-call checks counted in Redis go on the trail, one event per
    # tenant, campaign and API key (a check is never one event of its own).
    "record-dnc-checks": {
        "task": "compliance.tasks.record_dnc_checks",
        "schedule": 60,
    },
    # Hourly: a do-not-call scrub's removed rows past DNC_SCRUB_KEEP_HOURS are deleted.
    "expire-dnc-scrubs": {
        "task": "compliance.tasks.expire_dnc_scrubs",
        "schedule": 3600,
    },
    # Weekly, Saturday early morning (no purge conflict, before Sunday's integrity check): re-hash
    # the whole trail, so that a change to an event older than the last checkpoint is found.
    "verify-audit-chain-full": {
        "task": "audit.tasks.verify_audit_chain",
        "schedule": crontab(hour=5, minute=0, day_of_week="sat"),
        "kwargs": {"full": True},
    },
    # Every 5 minutes: the counts of closed windows of failed sign-ins go on the trail.
    "count-sign-in-failures": {
        "task": "signin.tasks.count_sign_in_failures",
        "schedule": 300,
    },
    # Every 15 minutes: the compliance officers of an incident whose 72-hour deadline (GDPR
    # Art. 33(1)) is less than 24 hours away are reminded, once per incident.
    "remind-incident-deadlines": {
        "task": "audit.tasks.remind_incident_deadlines",
        "schedule": 900,
    },
    # Nightly, before the purge: data-subject exports past their download period are deleted
    # (file removed, key destroyed), and builds a killed worker left behind are cleaned up.
    "expire-subject-exports": {
        "task": "recordings.tasks.expire_subject_exports",
        "schedule": crontab(hour=1, minute=45),
    },
    # Daily, at the start of the working day: each tenant's compliance officers are mailed the
    # processors whose agreement expired, is missing, or is due for review within 30 days.
    "remind-processor-agreements": {
        "task": "compliance.tasks.remind_processor_agreements",
        "schedule": crontab(hour=7, minute=45),
    },
    # Daily, before office hours: the handlers of data-subject requests due within 7 days or
    # overdue are e-mailed (GDPR Art. 12(3): one month, extendable only within it); once a day each.
    "check-request-deadlines": {
        "task": "compliance.tasks.check_request_deadlines",
        "schedule": crontab(hour=7, minute=0),
    },
    # Weekly, Sunday night: every stored recording still decrypts to the audio ingested.
    "verify-recording-integrity": {
        "task": "recordings.tasks.verify_integrity",
        "schedule": crontab(hour=4, minute=15, day_of_week="sun"),
    },
}

# History is for reading: reverting a policy through django-simple-history would bypass the
# service that audits the change and recomputes retention.
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # An expected refusal (403, 400) is one line, without the traceback Django attaches to it.
    "filters": {"refusals_on_one_line": {"()": "portal.logging.RefusalsOnOneLine"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["refusals_on_one_line"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every sign-in at INFO; the audit trail has them. Its warnings (a new
    # failure, a lockout) stay.
    "loggers": {"axes": {"level": "WARNING"}},
}
