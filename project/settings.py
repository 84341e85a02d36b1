"""Settings for the whole project, read from the environment.

Every value comes from os.environ so the same code runs on Heroku, in CI and on a
laptop; see the README's table of environment variables.
https://docs.djangoproject.com/en/5.2/topics/settings/
"""

from __future__ import annotations

import os
import tempfile
from email.utils import formataddr, getaddresses
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from queues.config import rq_queues


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# For the apps' own settings, whose defaults are in each app's conf.py: None when the variable
# is unset or empty, which the app's conf reads as "use the default".
def env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def env_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


def env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    return value.strip().lower() in {"1", "true", "yes", "on"} if value else None


def env_ints(name: str) -> tuple[int, ...] | None:
    value = os.environ.get(name)
    return tuple(int(item) for item in value.split(",")) if value else None


def admins_from_env(name: str) -> list[str]:
    """`Name <a@example.com>, b@example.com` as ADMINS' addresses, each with its display name."""
    value = os.environ.get(name, "")
    pairs = [(display, address) for display, address in getaddresses([value]) if address]
    if value.strip() and (not pairs or any("@" not in address for _, address in pairs)):
        raise ImproperlyConfigured(f"{name} must be email addresses, comma-separated, e.g. 'Ops <ops@example.com>'.")
    return [formataddr(pair) for pair in pairs]


BASE_DIR = Path(__file__).resolve().parent.parent


def load_env_file(path: Path) -> None:
    """Use a checkout's `.env` (KEY=value lines) for variables the environment does not set."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip().startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())


# `python3 dev.py run` writes DJANGO_DEBUG=1 here, so commands typed in another terminal
# (`python manage.py rqworker high default`) run like the dev site; `heroku local` reads
# the same file. It is git-ignored, so it never reaches Heroku.
# https://devcenter.heroku.com/articles/heroku-local#set-up-your-local-environment-variables
load_env_file(Path(os.environ.get("DJANGO_ENV_FILE", BASE_DIR / ".env")))

# Off unless asked for, so a forgotten variable never exposes tracebacks in production.
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env_bool("DJANGO_DEBUG", False)

# A real secret is mandatory outside debug; failing here names the variable instead of
# letting sessions and signed links run on a guessable key.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value "
            "(heroku config:set DJANGO_SECRET_KEY=...), or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - only ever used with DEBUG on  # nosec B105

# Heroku's router only delivers requests for the app's own *.herokuapp.com name, so that
# suffix is safe by default; add custom domains here.
# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ".herokuapp.com,localhost,127.0.0.1,[::1]")

# Needed only for origins other than the site's own host (e.g. a custom domain behind a CDN).
# https://docs.djangoproject.com/en/5.2/ref/settings/#csrf-trusted-origins
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Before django_rq so that their rqworker, rqworker-pool and rqscheduler, which use the
    # project's serializer and run the schedule, win over django-rq's own.
    "workers",
    "scheduling",
    "queues",
    "work",
    "emails",
    "accounts",
    "files",
    "web",
    # The demo: `python3 dev.py remove-demo` deletes it and every line marked as its own.  # demo
    "media_tasks",  # demo
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Lets runserver serve static files the way production does.
    # https://whitenoise.readthedocs.io/en/stable/django.html#using-whitenoise-in-development
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
]
# Apps installed only while the tests run (the core's test-only durable-work model): the test
# run and every worker and web process it starts set TEST_APPS, so one settings file
# serves them all and a deploy never installs them.
# https://pytest-django.readthedocs.io/en/latest/configuring_django.html
INSTALLED_APPS += env_list("TEST_APPS", "")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves hashed, compressed static files from the web dyno with far-future cache headers.
    # https://whitenoise.readthedocs.io/en/stable/django.html
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, whose check parses the body: refuses a body larger than the view takes.
    "web.request_limits.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # django-rq lets any staff member into its dashboard; requeue and empty are for superusers.
    "workers.middleware.RQDashboardSuperuserOnly",
    # A NUL byte in any admin change list's filter is a 400, not PostgreSQL's 500.
    "web.middleware.RefuseNulInAdminFilters",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"

# A SQLite file when DATABASE_URL is unset; on Heroku, Postgres with persistent
# connections that are health-checked before reuse, over TLS. Heroku CI sets CI beside DYNO,
# and its in-dyno Postgres has no TLS.
# https://github.com/jazzband/dj-database-url#usage
# https://devcenter.heroku.com/articles/heroku-ci-in-dyno-databases
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=600,
        conn_health_checks=True,
        ssl_require=env_bool("DATABASE_SSL_REQUIRE", "DYNO" in os.environ and "CI" not in os.environ),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several local workers write at once: take the write lock when a transaction starts
    # (instead of failing with "database is locked" when it upgrades) and let readers run
    # beside a writer.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#database-is-locked-errors
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests run real worker processes, which cannot see an in-memory test database; one file
    # per test run, so two runs from one checkout never share it.
    # https://docs.djangoproject.com/en/5.2/ref/settings/#test
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"test-{os.getpid()}.sqlite3")}

# Email addresses are the login, so the user model is the project's own from day one.
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic's target, which the Heroku buildpack fills at build time.
# https://docs.djangoproject.com/en/5.2/ref/settings/#static-root
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise as they are.
# https://whitenoise.readthedocs.io/en/stable/django.html#WHITENOISE_ROOT
WHITENOISE_ROOT = BASE_DIR / "web" / "root"

MEDIA_URL = "media/"
# Only used with MEDIA_STORAGE=filesystem (one machine, shared disk); the default is the database.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# Dynos share no disk and lose theirs on restart, so uploads live in the database by default
# (nothing to configure after the deploy button) and in S3 when a bucket is configured.
# https://devcenter.heroku.com/articles/s3#file-uploads
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME") or os.environ.get("BUCKETEER_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("BUCKETEER_AWS_ACCESS_KEY_ID"),
            "secret_key": (
                os.environ.get("AWS_SECRET_ACCESS_KEY") or os.environ.get("BUCKETEER_AWS_SECRET_ACCESS_KEY")
            ),
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or os.environ.get("BUCKETEER_AWS_REGION"),
            # For S3-compatible services (R2, MinIO, ...).
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            # Buckets stay private: every URL is signed and expires.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "private, max-age=86400"},
        },
    }
elif os.environ.get("MEDIA_STORAGE") == "filesystem":
    media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    media_storage = {"BACKEND": "files.storage.DatabaseStorage"}

STORAGES = {
    "default": media_storage,
    # Hashed names and pre-compressed files, so browsers may cache static files forever.
    # https://whitenoise.readthedocs.io/en/stable/django.html#add-compression-and-caching-support
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTPS behind Heroku's router -------------------------------------------------------

# The router terminates TLS and says so in X-Forwarded-Proto.
# https://devcenter.heroku.com/articles/http-routing#heroku-headers
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain HTTP is redirected to HTTPS except in local development.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-ssl-redirect
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Cookies never travel over plain HTTP in production.
# https://docs.djangoproject.com/en/5.2/ref/settings/#session-cookie-secure
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# Browsers remember to use HTTPS for a year; preload is left to the site owner, who must
# opt in at hstspreload.org for their own domain.
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Email ------------------------------------------------------------------------------

# Every email (send_mail, password resets, mail_admins, third-party apps) goes to the outbox:
# a row in the caller's transaction that a job on `high` delivers, retried until it is sent.
# "delivery" is what that job sends through: printed to the log until an SMTP server is
# configured, so sign-up works out of the box; then Django's SMTP backend, noting whether a
# failed send had already handed the message over (emails/mail.py). "error_reports" is the
# outbox too, but a report it cannot write (the database is down) is logged, not raised into the
# 500 being answered. The EMAIL_* variables keep the names of Django's settings before MAILERS.
# https://docs.djangoproject.com/en/6.1/topics/email/#configuring-mailers
_email_port = int(os.environ.get("EMAIL_PORT", "587"))
MAILERS = {
    "default": {"BACKEND": "emails.outbox.EmailBackend"},
    "error_reports": {"BACKEND": "emails.outbox.EmailBackend", "OPTIONS": {"fail_silently": True}},
    "delivery": (
        {
            "BACKEND": "emails.mail.EmailBackend",
            "OPTIONS": {
                "host": os.environ["EMAIL_HOST"],
                "port": _email_port,
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", _email_port == 587),
                "use_ssl": env_bool("EMAIL_USE_SSL", _email_port == 465),
                # A stuck SMTP server must not hold a worker past Heroku's shutdown window.
                "timeout": int(os.environ.get("EMAIL_TIMEOUT") or "10"),
            },
        }
        if os.environ.get("EMAIL_HOST")
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    ),
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")
# Error reports come from the site's own sender unless told otherwise: Django's default,
# root@localhost, is refused or filed as spam by most SMTP providers.
# https://docs.djangoproject.com/en/5.2/ref/settings/#server-email
SERVER_EMAIL = os.environ.get("SERVER_EMAIL") or DEFAULT_FROM_EMAIL

# --- Background jobs --------------------------------------------------------------------

# The port `python dev.py run` gives its embedded Valkey, so `manage.py rqworker` typed
# in another terminal finds it; Heroku always sets REDIS_URL.
# https://devcenter.heroku.com/articles/heroku-redis#connecting-in-python
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6479/0")
RQ_QUEUES = rq_queues(REDIS_URL)
# Jobs are enqueued only once the transaction that made their row commits.
# https://github.com/rq/django-rq#support-for-transactions
RQ = {"COMMIT_MODE": "on_db_commit"}
# Django's @task functions run as rq jobs on these queues, queued after the commit, so the
# Procfile's worker runs them and the dashboard shows them (queues/tasks_backend.py).
# https://docs.djangoproject.com/en/6.0/topics/tasks/
TASKS = {"default": {"BACKEND": "queues.tasks_backend.RQBackend", "QUEUES": ["high", "default", "low"]}}
# Lets an uptime monitor read the dashboard's stats.json with a bearer token; unset, only
# superusers can (workers/middleware.py).
# https://github.com/rq/django-rq#queue-statistics
RQ_API_TOKEN = os.environ.get("RQ_API_TOKEN", "")
# The dashboard link on the admin index.
# https://github.com/rq/django-rq#queue-statistics
RQ_SHOW_ADMIN_LINK = True

# --- The apps' settings -----------------------------------------------------------------

# Each app's conf.py holds its settings' defaults, each with its reason (queues/conf.py says
# how they are read); here are only the config vars an operator may set instead, None when unset.
# https://devcenter.heroku.com/articles/config-vars
REDIS_RETRY_MAX_SECONDS = env_float("REDIS_RETRY_MAX_SECONDS")  # queues/conf.py
SCHEDULE_LEASE_SECONDS = env_float("SCHEDULE_LEASE_SECONDS")  # scheduling/conf.py
SCHEDULE_TICK_SECONDS = env_float("SCHEDULE_TICK_SECONDS")
SCHEDULE_CATCHUP_SECONDS = env_float("SCHEDULE_CATCHUP_SECONDS")
WORK_CLAIM_LEASE_SECONDS = env_int("WORK_CLAIM_LEASE_SECONDS")  # work/conf.py
WORK_STALE_SECONDS = env_int("WORK_STALE_SECONDS")
WORK_MAX_ATTEMPTS = env_int("WORK_MAX_ATTEMPTS")
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS")
EMAIL_RETRY_SCHEDULE = env_ints("EMAIL_RETRY_SCHEDULE")  # emails/conf.py
WORKER_TTL_SECONDS = env_int("WORKER_TTL_SECONDS")  # workers/conf.py
WORKER_MAX_RSS_MB = env_int("WORKER_MAX_RSS_MB")
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY")
HEALTH_WORKER_MAX_AGE_SECONDS = env_float("HEALTH_WORKER_MAX_AGE_SECONDS")  # web/conf.py
HEALTH_QUEUE_LATENCY_MAX_SECONDS = env_float("HEALTH_QUEUE_LATENCY_MAX_SECONDS")
HEALTH_SCHEDULE_MAX_AGE_SECONDS = env_float("HEALTH_SCHEDULE_MAX_AGE_SECONDS")
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES")
REQUEST_HEADERS_TIMEOUT = env_float("REQUEST_HEADERS_TIMEOUT")
REQUEST_BODY_MIN_RATE = env_float("REQUEST_BODY_MIN_RATE")
EMAIL_CONFIRMATION_MAX_AGE = env_int("EMAIL_CONFIRMATION_MAX_AGE")  # accounts/conf.py
UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS = env_int("UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS")
UNCONFIRMED_CLEANUP_CRON = os.environ.get("UNCONFIRMED_CLEANUP_CRON") or None
SITE_URL = os.environ.get("SITE_URL") or None

# --- Requests and accounts --------------------------------------------------------------

# (requests, seconds) allowed per client IP (per user for uploads) on the public forms, counted
# in Redis so every web process shares them; see web/ratelimit.py. A password reset sends an
# email to whatever address is typed, so it is limited like sign-up.
RATE_LIMITS = {
    "signup": (10, 3600),
    "login": (20, 600),
    "password_reset": (10, 3600),
    "upload": (60, 3600),  # demo
    "resend": (3, 3600),
}
# --- demo ---
# The demo's settings, from config vars when set (defaults and reasons: media_tasks/conf.py).
KEEP_ORIGINAL_UPLOADS = env_flag("KEEP_ORIGINAL_UPLOADS")
DIRECT_UPLOAD_GRACE_HOURS = env_int("DIRECT_UPLOAD_GRACE_HOURS")
# --- end demo ---
# Our one handler counts file parts (the view's @accepts_files), drops a file as soon as it
# passes MAX_UPLOAD_BYTES and keeps each accepted file in memory, because Django's memory or
# temporary-file choice goes by the whole body's length and sent files near the limit to disk.
# https://docs.djangoproject.com/en/6.0/topics/http/file-uploads/#upload-handlers
FILE_UPLOAD_HANDLERS = ["web.request_limits.UploadLimitsHandler"]
# The product's name in page titles, the header and email subjects, so a fork renames itself
# in one place (web/context_processors.py gives it to every template); every app reads it, and
# the error reports' subject prefix below is made of it.
# https://docs.djangoproject.com/en/5.2/ref/templates/api/#writing-your-own-context-processors
SITE_NAME = os.environ.get("SITE_NAME") or "Django + rq"

# --- Logging ----------------------------------------------------------------------------

# Who is emailed a report of each 500 error (traceback and request), as "Name <address>" or a
# bare address, comma-separated; unset, nobody is, and the error is only logged.
# https://docs.djangoproject.com/en/5.2/ref/settings/#admins
ADMINS = admins_from_env("DJANGO_ADMINS")
# Error reports say which site they come from.
# https://docs.djangoproject.com/en/5.2/ref/settings/#email-subject-prefix
EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "

# Heroku's log router reads stdout; INFO shows each request's jobs being queued and run.
# https://docs.djangoproject.com/en/5.2/topics/logging/
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Django's report of an unhandled exception in a view, mailed to ADMINS (nobody while
        # it is empty) through the outbox (MAILERS["error_reports"]): a row written as the 500 is answered,
        # then delivered by a worker and retried like every email. With DEBUG on, the error
        # page already shows the report.
        # https://docs.djangoproject.com/en/5.2/howto/error-reporting/#server-errors
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "using": "error_reports",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Replaces Django's own console handler, which would print every line twice.
        "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        # 500s only (django.request logs them at ERROR, 4xx at WARNING); django.security's
        # errors (e.g. every bot's unknown Host header) are left to the log.
        "django.request": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        # Judoscale's (only with JUDOSCALE_URL): it adds its own stderr handler to a logger that
        # has none, and the root's would print each line again. Its level follows
        # JUDOSCALE_LOG_LEVEL, else LOG_LEVEL, else WARN.
        "judoscale": {"handlers": ["stdout"], "propagate": False},
    },
}

# --- Error reporting --------------------------------------------------------------------

# Errors in web requests and in rq jobs go to Sentry when a DSN is configured; without one
# nothing is loaded and nothing changes. No personal data is sent.
# https://docs.sentry.io/platforms/python/integrations/django/
# https://docs.sentry.io/platforms/python/integrations/rq/
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), RqIntegration()],
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=os.environ.get("HEROKU_SLUG_COMMIT") or None,
        send_default_pii=False,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

# --- Autoscaling ------------------------------------------------------------------------

# Set by the Judoscale add-on. Then web and worker processes report each queue's latency and
# depth (high, default, low), and the web how long requests waited in Heroku's router, every
# 10 s, so Judoscale can scale worker and web dynos (workers/autoscale/); unset, nothing of
# judoscale is imported.
# https://elements.heroku.com/addons/judoscale
# https://github.com/judoscale/judoscale-python#using-judoscale-with-rq
JUDOSCALE_URL = os.environ.get("JUDOSCALE_URL", "")
if JUDOSCALE_URL:
    INSTALLED_APPS.append("workers.autoscale")
    # First, as judoscale's own Django app puts it: the request's wait is measured from the
    # router's X-Request-Start before any other middleware spends time on it.
    # https://github.com/judoscale/judoscale-python#using-judoscale-with-django
    MIDDLEWARE.insert(0, "judoscale.django.middleware.RequestQueueTimeMiddleware")
