"""Every setting of opsproject, each read from the environment with a documented default.

docs/PRODUCTION_ENV.md lists every variable. Two profiles come out of the same module:

- embedded (the default, `make run`): SQLite, the filesystem Celery broker, the database cache
  and the in-memory channel layer, all under var/; nothing to install but Python packages.
- production (`DJANGO_ENV=production`): strict. Start-up fails with ONE ImproperlyConfigured
  that names every missing or refused value, so an operator fixes the env file once.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

# Problems found while reading the environment in production; raised together at the end.
_missing: list[str] = []
_refused: list[str] = []


def _value(name: str) -> str:
    """The raw value of a variable; an empty string counts as unset (env files leave `X=`)."""
    return env.str(name, default="").strip()


def _required(name: str, development_default: str) -> str:
    """A variable production must set; development falls back to a safe local default."""
    value = _value(name)
    if value:
        return value
    if PRODUCTION:
        _missing.append(name)
    return development_default


VAR_DIR = Path(_value("VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- core -----------------------------------------------------------------------------------

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"  # noqa: S105 - refused in production
SECRET_KEY = _required("SECRET_KEY", _DEV_SECRET_KEY)
if PRODUCTION and SECRET_KEY != _DEV_SECRET_KEY and len(SECRET_KEY) < 50:
    _refused.append("SECRET_KEY is shorter than 50 characters")

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    _refused.append("DEBUG must be off in production")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
if PRODUCTION and not ALLOWED_HOSTS:
    _missing.append("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "django_celery_results",
    "rest_framework",
    "rest_framework.authtoken",
    "health",
    "queueops",
    "mailops",
    "realtime",
    "backups",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opsproject.urls"
WSGI_APPLICATION = "opsproject.wsgi.application"
ASGI_APPLICATION = "opsproject.asgi.application"

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
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = Path(_value("STATIC_ROOT") or VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(_value("MEDIA_ROOT") or VAR_DIR / "media")
# Without a collected manifest (make run, tests) WhiteNoise serves straight from the apps.
WHITENOISE_USE_FINDERS = DEBUG
if not PRODUCTION:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- database -------------------------------------------------------------------------------

DATABASE_URL = _required("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
_db = DATABASES["default"]
_db.setdefault("OPTIONS", {})
# Persistent connections, checked before reuse so a restarted database costs one error at most.
_db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if PRODUCTION and "DATABASE_URL" not in _missing:
        _refused.append("DATABASE_URL points at SQLite; production needs MySQL/MariaDB or PostgreSQL")
    # Web, worker and beat share the file: WAL lets readers run beside one writer, and
    # IMMEDIATE transactions make writers queue on the busy timeout instead of deadlocking.
    _db["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not :memory:, so a Celery worker process started by a test sees the test data.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.mysql":
    _db["OPTIONS"].update(
        {
            "charset": "utf8mb4",
            "connect_timeout": DATABASE_CONNECT_TIMEOUT,
            "read_timeout": env.int("DATABASE_READ_TIMEOUT", default=600),
            "write_timeout": env.int("DATABASE_WRITE_TIMEOUT", default=600),
            "isolation_level": "read committed",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES', time_zone='+00:00'",
        }
    )
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["OPTIONS"].update({"connect_timeout": DATABASE_CONNECT_TIMEOUT})

# --- Redis: broker, cache, channel layer ----------------------------------------------------

REDIS_URL = _required("REDIS_URL", "")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=5.0)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ops",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "ops-channels"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery (read by opsproject/celery.py through the CELERY_ namespace) --------------------

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Production never gets here: REDIS_URL is required there, so the filesystem broker
    # is refused by being the missing variable.
    for _sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # One folder both ways: producers and consumers are peers on this machine.
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # With acks_late, Redis hands an unacknowledged task to another worker once this
        # many seconds pass. It must be well above the longest retry countdown (ETA tasks
        # sit unacknowledged in a worker until due) and the longest task run, or a task
        # still waiting or running is delivered twice. The longest backoff is 60 s; the
        # longest task (a backup) is bounded well under an hour.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=7 * 24 * 3600)
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- REST API (Django REST framework) ------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=25),
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# --- helpdesk SLA policy (seconds per priority) ---------------------------------------------


def _positive_seconds(name: str, default: int) -> int:
    value = env.int(name, default=default)
    if value <= 0:
        if not PRODUCTION:
            raise ImproperlyConfigured(f"{name} must be a positive number of seconds, not {value}")
        _refused.append(f"{name} must be a positive number of seconds")
    return value


_SLA_DEFAULTS = {
    "first_response": {"urgent": 3600, "high": 4 * 3600, "normal": 8 * 3600, "low": 24 * 3600},
    "resolution": {"urgent": 4 * 3600, "high": 24 * 3600, "normal": 72 * 3600, "low": 168 * 3600},
}
# {"first_response": {"urgent": 3600, ...}, "resolution": {...}}, from HELPDESK_SLA_<KIND>_<PRIORITY>.
HELPDESK_SLA = {
    kind: {
        priority: _positive_seconds(f"HELPDESK_SLA_{kind.upper()}_{priority.upper()}", default)
        for priority, default in defaults.items()
    }
    for kind, defaults in _SLA_DEFAULTS.items()
}

# --- realtime -------------------------------------------------------------------------------

# One Pusher "app": browsers connect to /app/<key>; the secret signs channel authorizations.
REALTIME_APP_ID = _value("REALTIME_APP_ID") or "opsproject"
REALTIME_APP_KEY = _required("REALTIME_APP_KEY", "opsproject-development-key")
REALTIME_APP_SECRET = _required("REALTIME_APP_SECRET", "opsproject-development-secret")
# Whether subscribers may send `client-` events to the others on private and presence channels.
REALTIME_CLIENT_EVENTS = env.bool("REALTIME_CLIENT_EVENTS", default=False)
# Origins (https://app.example.com) or host patterns accepted besides ALLOWED_HOSTS.
REALTIME_ALLOWED_ORIGINS = env.list("REALTIME_ALLOWED_ORIGINS", default=[])
# How long broadcasts stay available to GET /broadcasting/history.
REALTIME_HISTORY_SECONDS = env.int("REALTIME_HISTORY_SECONDS", default=300)
# Seconds of silence before a ping (told to clients in the handshake), then seconds to answer it.
REALTIME_ACTIVITY_TIMEOUT = env.float("REALTIME_ACTIVITY_TIMEOUT", default=120)
REALTIME_PONG_TIMEOUT = env.float("REALTIME_PONG_TIMEOUT", default=30)
# How often each websocket process checks the channel layer, refreshes its presence entries
# and reports its connection count.
REALTIME_LAYER_CHECK_INTERVAL = env.float("REALTIME_LAYER_CHECK_INTERVAL", default=5)
# Frames queued for one slow client before further broadcasts to it are dropped (and counted).
REALTIME_SEND_QUEUE = env.int("REALTIME_SEND_QUEUE", default=200)
REALTIME_DROP_LOG_INTERVAL = env.float("REALTIME_DROP_LOG_INTERVAL", default=60)
# On SIGTERM: how long clients get to close after the 4200 before the server stops anyway.
REALTIME_SHUTDOWN_GRACE = env.float("REALTIME_SHUTDOWN_GRACE", default=2)
if REDIS_URL:
    # channels_redis waits up to 5 s in each blocking pop; redis-py's default 5 s socket timeout
    # would cut every idle wait short with a TimeoutError, so the layer's reads get longer.
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {
            "address": REDIS_URL,
            "socket_timeout": 5 + REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        }
    ]
# Channel layer limits: messages waiting per channel, and seconds before an unread one expires.
CHANNEL_LAYERS["default"].setdefault("CONFIG", {}).update(
    {
        "capacity": env.int("REALTIME_CHANNEL_CAPACITY", default=1000),
        "expiry": env.int("REALTIME_CHANNEL_EXPIRY", default=30),
        "group_expiry": env.int("REALTIME_GROUP_EXPIRY", default=86400),
    }
)

# --- health ---------------------------------------------------------------------------------


def _health_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list from the environment; unset or empty keeps the default."""
    value = _value(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else default


# The checks /health runs (dotted paths to @health_check functions). Each app adds its own
# line here; HEALTH_CHECKS in the environment replaces the whole list.
HEALTH_CHECKS = _health_list(
    "HEALTH_CHECKS",
    [
        "health.checks.database",
        "health.checks.cache",
        "health.checks.storage",
        "health.checks.migrations",
        "realtime.health_checks.realtime",
        "queueops.scheduler_health.scheduler",
    ],
)
# Components whose failure fails /health (503); any other failing component only makes it warn.
HEALTH_CRITICAL = _health_list(
    "HEALTH_CRITICAL",
    [
        "database",
        "cache",
        "storage",
    ],
)
HEALTH_TIMEOUT = env.float("HEALTH_TIMEOUT", default=2.0)
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=2.0)
if HEALTH_TIMEOUT <= 0 or HEALTH_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("HEALTH_TIMEOUT must be above 0 and HEALTH_CACHE_SECONDS at least 0")
# Bearer token that unlocks details and ?fresh=1 on the health endpoints; unset: staff only.
HEALTH_TOKEN = _value("HEALTH_TOKEN")
if PRODUCTION and HEALTH_TOKEN and len(HEALTH_TOKEN) < 24:
    _refused.append("HEALTH_TOKEN is shorter than 24 characters")
# Where the processes of one host share check results, so a probe storm runs each check once.
HEALTH_STATE_DIR = Path(_value("HEALTH_STATE_DIR") or VAR_DIR / "health")

# --- logging --------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- production hardening -------------------------------------------------------------------

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)

if _missing or _refused:
    _parts = []
    if _missing:
        _parts.append("missing required variables: " + ", ".join(_missing))
    if _refused:
        _parts.append("refused: " + "; ".join(_refused))
    raise ImproperlyConfigured("DJANGO_ENV=production: " + " | ".join(_parts))
