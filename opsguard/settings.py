"""OpsGuard settings, read from the environment (12-factor).

Every variable is listed with its default in `.env.example`. With no variables
set, OpsGuard runs on the embedded default: SQLite and a Celery broker kept in
files under OPSGUARD_DATA_DIR, so one machine needs no database or broker
server. A value that does not parse, such as a word where a number belongs,
stops the start with ImproperlyConfigured. Values that parse but are out of
range are reported by the system checks in `opsguard.checks`.
"""

import secrets
from pathlib import Path

import environ

from opsguard.envparse import (
    read_bool,
    read_choice,
    read_database_url,
    read_float,
    read_int,
    read_list,
    read_secret,
    read_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(read_str("OPSGUARD_DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)
# The embedded database contains sessions and API tokens, and the folder
# contains the generated secret key, so only the owner may read it.
DATA_DIR.chmod(0o700)


def _embedded_secret_key() -> str:
    # The embedded default keeps a generated key on disk, so sessions survive
    # a restart without anyone having to choose a key first.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = read_secret("SECRET_KEY") or _embedded_secret_key()
DEBUG = read_bool("DEBUG", default=False)
ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = read_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "opsguard",
    "incidents",
    "automation",
    "approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opsguard.urls"
WSGI_APPLICATION = "opsguard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": read_database_url(
        "DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'opsguard.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: WAL lets readers run beside
    # the writer, and IMMEDIATE transactions wait for the write lock instead
    # of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so a bad token gets 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OpsGuard API",
    "DESCRIPTION": "Hosts, findings, incidents, risk decisions and job runs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "DecisionStatusEnum": "approvals.models.DecisionStatus",
        "OpenResolvedStatusEnum": "incidents.models.FindingStatus",
    },
}

LOG_LEVEL = read_choice(
    "LOG_LEVEL",
    default="INFO",
    choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"level": "INFO"}},
}

# Celery. The embedded default broker keeps messages as files, which works
# across the web, worker and beat processes of one machine, ETA tasks included.
CELERY_BROKER_URL = read_str("CELERY_BROKER_URL", default="filesystem://")
CELERY_VISIBILITY_TIMEOUT = read_int(
    "CELERY_VISIBILITY_TIMEOUT", default=7200, expected="a whole number of seconds"
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport keeps its exchange tables in
    # `control_folder`, which defaults to "control" in the current directory.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis hands an unacknowledged message to another worker after the
    # visibility timeout, and an ETA task stays unacknowledged until it runs:
    # the timeout must exceed the longest approval deadline, or a timeout task
    # runs twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = read_str("CELERY_QUEUE", default="opsguard")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The loop.
OPSGUARD_BASE_URL = read_str("OPSGUARD_BASE_URL", default="http://127.0.0.1:8000")
COLLECT_INTERVAL = read_int(
    "COLLECT_INTERVAL", default=60, expected="a whole number of seconds"
)
SWEEP_INTERVAL = read_int(
    "SWEEP_INTERVAL", default=30, expected="a whole number of seconds"
)
JOB_POLL_SECONDS = read_int(
    "JOB_POLL_SECONDS", default=20, expected="a whole number of seconds"
)
JOB_TIMEOUT_SECONDS = read_int(
    "JOB_TIMEOUT_SECONDS", default=1800, expected="a whole number of seconds"
)
PROBE_SAMPLE_SECONDS = read_float(
    "PROBE_SAMPLE_SECONDS", default=1.0, expected="a number of seconds"
)
PROBE_TIMEOUT = read_int(
    "PROBE_TIMEOUT", default=30, expected="a whole number of seconds"
)

# Detection thresholds, in percent.
DISK_THRESHOLD_PERCENT = read_float(
    "DISK_THRESHOLD_PERCENT", default=90.0, expected="a percentage"
)
CPU_THRESHOLD_PERCENT = read_float(
    "CPU_THRESHOLD_PERCENT", default=90.0, expected="a percentage"
)
RAM_THRESHOLD_PERCENT = read_float(
    "RAM_THRESHOLD_PERCENT", default=90.0, expected="a percentage"
)
RUNAWAY_CPU_PERCENT = read_float(
    "RUNAWAY_CPU_PERCENT", default=90.0, expected="a percentage"
)
SUSTAIN_SECONDS = read_int(
    "SUSTAIN_SECONDS", default=300, expected="a whole number of seconds"
)
DEDUP_HOURS = read_float("DEDUP_HOURS", default=8.0, expected="a number of hours")
SNAPSHOT_RETENTION_DAYS = read_int(
    "SNAPSHOT_RETENTION_DAYS", default=14, expected="a whole number of days"
)
RUNAWAY_IGNORE = read_list(
    "RUNAWAY_IGNORE",
    default=["systemd", "init", "sshd", "kthreadd", "celery", "ansible-playboo"],
)
CRITICAL_SERVICES = read_list("CRITICAL_SERVICES", default=[])

# Remediation.
DISK_CLEANUP_PATHS = read_list("DISK_CLEANUP_PATHS", default=["/tmp", "/var/tmp"])
DISK_CLEANUP_MIN_AGE_HOURS = read_int(
    "DISK_CLEANUP_MIN_AGE_HOURS", default=24, expected="a whole number of hours"
)

# Notifications.
DISCORD_WEBHOOK_URL = read_secret("DISCORD_WEBHOOK_URL")
HTTP_TIMEOUT = read_float("HTTP_TIMEOUT", default=10.0, expected="a number of seconds")

# First start.
OPSGUARD_ADMIN_USER = read_str("OPSGUARD_ADMIN_USER", default="admin")
OPSGUARD_ADMIN_PASSWORD = read_secret("OPSGUARD_ADMIN_PASSWORD")

CELERY_BEAT_SCHEDULE = {
    # A cycle that could not start within its interval is dropped, so a busy
    # worker does not run a backlog of cycles back to back.
    "collect": {
        "task": "incidents.tasks.collect_all",
        "schedule": COLLECT_INTERVAL,
        "options": {"expires": COLLECT_INTERVAL},
    },
    "prune-snapshots": {
        "task": "incidents.tasks.prune_snapshots",
        "schedule": 3600,
    },
    "sweep-deadlines": {
        "task": "approvals.tasks.sweep_overdue_decisions",
        "schedule": SWEEP_INTERVAL,
    },
}
