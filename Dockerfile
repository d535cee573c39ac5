# The Custodia portal image: the web process (gunicorn), the Celery worker and beat all run it.
#   docker build -t custodia .
# docker-compose.yml builds it and runs `manage.py migrate` before the processes start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles \
    RECORDINGS_ROOT=/var/lib/custodia/recordings

WORKDIR /app

# Every pinned dependency ships a manylinux wheel for CPython 3.11: no compiler in the image.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The code, app by app, rather than `COPY . .`: a developer's .env (secrets), var/ (the embedded
# database, local recordings) and .venv must never end up in an image. A new Django app must be
# added here; tests/portal/test_compose.py fails until it is.
COPY manage.py ./
COPY portal ./portal
COPY kit ./kit
COPY audit ./audit
COPY compliance ./compliance
COPY recordings ./recordings
COPY signin ./signin
# The Spanish and French catalogues, compiled (.mo) and committed: no gettext in the image.
COPY locale ./locale

# The static files are collected once, at build time, with the production storage (hashed,
# compressed names for WhiteNoise). Settings refuse to load without their secrets when DEBUG is
# off, so the build passes placeholders that exist only for this command: nothing connects to the
# database or the broker, and none of these values is kept in the image.
RUN DEBUG=false \
    SECRET_KEY=build-only-placeholder-never-used-at-run-time \
    AUDIT_HMAC_KEY=build-only-placeholder-never-used-at-run-time \
    RECORDINGS_MASTER_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=postgres://build@localhost:5432/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --no-input

# An unprivileged user owns only what the processes write: the recordings, the uploaded
# do-not-call lists and the scrubs' removed rows (volumes in docker-compose, which take these directories' owner on first
# use) and var/ (Celery beat's schedule file). The code and the static files stay read-only to it.
RUN groupadd --system --gid 10001 custodia \
    && useradd --system --uid 10001 --gid custodia --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin custodia \
    && mkdir -p /app/var "$RECORDINGS_ROOT" /var/lib/custodia/dnc-uploads \
        /var/lib/custodia/dnc-scrubs \
    && chown custodia:custodia /app/var "$RECORDINGS_ROOT" /var/lib/custodia/dnc-uploads \
        /var/lib/custodia/dnc-scrubs \
    && chmod 0750 "$RECORDINGS_ROOT" \
    && chmod 0700 /var/lib/custodia/dnc-uploads /var/lib/custodia/dnc-scrubs
USER custodia:custodia

EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
