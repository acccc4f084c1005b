"""Every setting of opsproject, each read from the environment with a documented default.

docs/PRODUCTION_ENV.md says what each variable means; comments here say why. Two profiles come
out of the same module:

- embedded (the default, `make run`): SQLite, the filesystem Celery broker, the database cache
  and the in-memory channel layer, all under var/; nothing to install but Python packages.
- production (`DJANGO_ENV=production`): strict. Start-up fails with ONE ImproperlyConfigured
  that names every missing or refused value, so an operator fixes the env file once.
"""

import re
import sys
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path

from opsproject import logs, secret_values
from opsproject.settings_checks import CheckedEnv, Problems, is_rate

BASE_DIR = Path(__file__).resolve().parent.parent

# Every problem found while reading the environment, raised together in ONE error at the end
# (opsproject/settings_checks.py). A cast that fails is filed there by `env` itself.
_problems = Problems()
_missing, _refused, _weak = _problems.missing, _problems.refused, _problems.weak
env = CheckedEnv(_problems)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in ("development", "production"):
    # Strict then, so that the one error lists everything else production would refuse too.
    _refused.append(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV != "development"


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


def _secret(name: str, development_default: str, *, required: bool = True, min_length: int = 32) -> str:
    """A secret; production refuses a weak one, and `<name>_PREVIOUS` (read by `_previous`) too.

    Refusals name the variable and the reason, never the value.
    """
    given = _value(name)
    if PRODUCTION and given:
        reason = secret_values.weakness(given, min_length)
        if reason:
            _refused.append(f"{name} is {reason}")
            _weak.append(name)
    return _required(name, development_default) if required else given


def _previous(name: str, *, min_length: int = 32) -> str:
    """`<name>_PREVIOUS`: the value a rotation replaces, still accepted by checks while it is set."""
    return _secret(f"{name}_PREVIOUS", "", required=False, min_length=min_length)


VAR_DIR = Path(_value("VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- core -----------------------------------------------------------------------------------

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"  # noqa: S105 - refused in production
# 50 characters, not 32: Django's own deploy check (security.W009) asks for that many.
SECRET_KEY = _secret("SECRET_KEY", _DEV_SECRET_KEY, min_length=50)
# A rotation: the old key keeps sessions, password-reset links and signed values valid.
SECRET_KEY_FALLBACKS = [key for key in [_previous("SECRET_KEY", min_length=50)] if key]

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    _refused.append("DEBUG must be off in production")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
if PRODUCTION and not ALLOWED_HOSTS:
    _missing.append("ALLOWED_HOSTS")
if PRODUCTION and "*" in ALLOWED_HOSTS:
    _refused.append("ALLOWED_HOSTS must name the hosts, not '*'")
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
    "knox",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "health",
    # The audit log and the action -> permission map: every app below operations writes it.
    "audit",
    "alerts",
    "scheduler",
    "queueops",
    "mailops",
    "realtime",
    "backups",
    "helpdesk",
    "apitokens",
    # Depends on every app above (reads them all), nothing depends on it.
    "operations",
]

MIDDLEWARE = [
    # First: every later line of the request (and its tasks, broadcasts) carries the request id.
    "opsproject.request_id.RequestIdMiddleware",
    # A query string past DATA_UPLOAD_MAX_NUMBER_FIELDS is a 400 here, not a 500 in a view.
    "opsproject.query_string.QueryStringMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # 503 + Retry-After while a restore replaces the live database (health and admin exempt).
    "backups.middleware.MaintenanceMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view that fails because the database or Redis is unreachable answers 503, not 500.
    "opsproject.outages.DependencyOutageMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429.
    "axes.middleware.AxesMiddleware",
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
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=PRODUCTION)
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if not STATIC_MANIFEST:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- database -------------------------------------------------------------------------------

DATABASE_URL = _required("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
_db = DATABASES["default"]
_db.setdefault("OPTIONS", {})
# Persistent connections, checked before reuse so a restarted database costs one error at most.
_db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
# The web's request threads (opsproject/http_threads.py): each keeps its database connection.
WEB_THREADS = env.int("WEB_THREADS", default=16, least=1)
WEB_BODY_TIMEOUT = env.float("WEB_BODY_TIMEOUT", default=10.0, above=0)
WEB_BODY_MAX_BYTES = env.int("WEB_BODY_MAX_BYTES", default=2621440, least=1)
WEB_THREADS_BUSY_FAIL = env.float("WEB_THREADS_BUSY_FAIL", default=30.0, above=0)
WEB_SEND_TIMEOUT = env.float("WEB_SEND_TIMEOUT", default=30.0, above=0)
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
            "BACKEND": "opsproject.cache.SharedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ops",
            # The backend adds the project's retry policy (opsproject/redis_retry.py).
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis' layer with the project's retry policy (opsproject/redis_retry.py).
            "BACKEND": "opsproject.channel_layer.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "ops-channels"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
            # This cache is the key-value store (keyvalue/): heartbeats, boards and counters must
            # never be culled, as Django does past MAX_ENTRIES (300 by default). Expired entries
            # still go when read.
            "OPTIONS": {"MAX_ENTRIES": sys.maxsize},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery (read by opsproject/celery.py through the CELERY_ namespace) --------------------

# One name for the broker. Unset, it is Redis (REDIS_URL), or in development without Redis
# the filesystem. amqp:// is RabbitMQ, which acknowledges for real: a worker killed at any
# moment loses no task (docs/RUNBOOK.md "Lost messages").
_broker_given = _value("CELERY_BROKER_URL")
if _broker_given and not _broker_given.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
    _scheme = _broker_given.split("://", 1)[0] if "://" in _broker_given else "no scheme"
    # The URL may hold a password: the message names only its scheme.
    _refused.append(f"CELERY_BROKER_URL must be redis://, rediss://, amqp:// or amqps://, not {_scheme}")
CELERY_BROKER_URL = _broker_given or REDIS_URL or "filesystem://"
BROKER_IS_RABBITMQ = CELERY_BROKER_URL.startswith(("amqp://", "amqps://"))
CELERY_BROKER_DIR = VAR_DIR / "broker"
if BROKER_IS_RABBITMQ:
    # Quorum queues are replicated and durable; messages are persistent (Celery's default
    # delivery mode) and every publish waits for the broker's confirm, so an enqueue the web
    # acknowledged is on disk. Countdowns use Celery's native delayed delivery (delay exchanges
    # and queues) instead of ETA messages held unacknowledged in a worker.
    CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
    CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"
    # Native delayed delivery binds queues through their exchange and skips direct ones
    # (their countdown tasks would wait unacknowledged in a worker, as on Redis).
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_TASK_CREATE_MISSING_QUEUE_EXCHANGE_TYPE = "topic"
    CELERY_WORKER_DETECT_QUORUM_QUEUES = True
    # Classic delay queues: a quorum one hands expired messages to a separate dead-letter worker,
    # which RabbitMQ does not restart when it fails to start; after a node restart one level's
    # worker was missing and every retry passing through it stayed there (3.10.8, 2 runs in 25 of
    # tests/reliability/test_mail_webhook_faults.py). docs/RUNBOOK.md, "Queues on RabbitMQ".
    CELERY_BROKER_NATIVE_DELAYED_DELIVERY_QUEUE_TYPE = "classic"
    CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
    # A memory or disk alarm blocks publishers: RabbitMQ stops reading their sockets, so a
    # confirm (or a declare's answer) never comes and py-amqp would wait for it without end
    # (celery#2689), hanging the web request that enqueues. A read or write of the broker's
    # socket that waits this long fails instead (py-amqp's read_timeout/write_timeout, socket
    # options); the publish is tried once more on a new connection (one retry is what a
    # connection a restart closed needs), then the caller gets kombu's OperationalError: the
    # mail webhook stores the event itself, API actions answer 503.
    BROKER_PUBLISH_TIMEOUT = env.float("BROKER_PUBLISH_TIMEOUT", default=3.0, above=0)
    if BROKER_PUBLISH_TIMEOUT > 60:
        _refused.append("BROKER_PUBLISH_TIMEOUT must be at most 60 seconds")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "confirm_publish": True,
        "read_timeout": BROKER_PUBLISH_TIMEOUT,
        "write_timeout": BROKER_PUBLISH_TIMEOUT,
    }
    CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_max": 1}
elif CELERY_BROKER_URL.startswith("filesystem://"):
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
    _visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # With acks_late, Redis hands an unacknowledged task to another worker once this
        # many seconds pass. It must be well above the longest retry countdown (ETA tasks
        # sit unacknowledged in a worker until due) and the longest task run, or a task
        # still waiting or running is delivered twice. The longest backoff is 60 s; the
        # longest task (a backup) is bounded well under an hour.
        "visibility_timeout": _visibility_timeout,
        # Workers look for such messages (a killed worker's) every tenth of the timeout, at
        # most 10 s apart: kombu's default throttle scans only every 100 s, whatever the
        # timeout, which would hold a killed worker's tasks back long after it expired.
        "unacked_restore_interval": max(1, min(10, _visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
    }
# django-db (django-celery-results), retrying while the database is unreachable instead of
# failing the task before it ran (queueops/results.py): about a minute at most, with backoff.
CELERY_RESULT_BACKEND = "queueops.results:DatabaseBackend"
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 15
CELERY_RESULT_BACKEND_BASE_SLEEP_BETWEEN_RETRIES_MS = 200
CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS = 5000
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=7 * 24 * 3600)
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = True
# No monitoring events (task-sent from every publisher; task-received/started/succeeded from the
# workers): nothing reads them (outcomes are counted from Celery's signals, operations.outcomes;
# liveness from queueops' heartbeats), and each is one more confirmed write to the broker: the
# task-sent event alone doubled the round trips of every publish, the mail webhook's among them.
CELERY_WORKER_SEND_TASK_EVENTS = False
# Celery's Django fixup closes the database connection before and after every task unless this is
# set: a new MariaDB connection per task (a fifth of a mail-storing worker's CPU). Workers keep it
# instead and check it around each task as Django does around each request (opsproject/celery.py):
# CONN_MAX_AGE and CONN_HEALTH_CHECKS hold in workers too. The fixup still closes it every
# this many tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SEND_SENT_EVENT = False

# --- REST API (Django REST framework) ------------------------------------------------------

_RATE_PERIODS = ("second", "minute", "hour", "day")
REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apitokens.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Page numbers, with deep pages read through the ordering index (a million mail events).
    "DEFAULT_PAGINATION_CLASS": "operations.api.pagination.OpsPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=25),
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    # DRF's, with JSON nested too deep for Python a 400 instead of a 500.
    "DEFAULT_PARSER_CLASSES": ["opsproject.json_parser.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Throttles of the ticket and ops APIs and the token endpoint, counted in the default cache
    # (Redis in production). Clients are told apart by REMOTE_ADDR as uvicorn sets it (it applies
    # X-Forwarded-For from FORWARDED_ALLOW_IPS only): NUM_PROXIES=0 keeps DRF from reading the
    # header itself, where any client could write a new address per request.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/minute"),
        "user": env.str("API_THROTTLE_USER", default="3000/minute"),
    },
}
for _name, _rate in zip(("API_THROTTLE_ANON", "API_THROTTLE_USER"), ("anon", "user"), strict=True):
    if not is_rate(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][_rate], _RATE_PERIODS):
        _refused.append(f"{_name} must be a rate like 120/minute (per second, minute, hour or day)")

# --- authentication: passwords, login lockout, API tokens ----------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5, least=1)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=900, least=1))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
API_TOKEN_TTL = env.int("API_TOKEN_TTL", default=30 * 24 * 3600, least=60)
REST_KNOX = {"TOKEN_TTL": timedelta(seconds=API_TOKEN_TTL), "AUTH_HEADER_PREFIX": "Token"}

# --- helpdesk SLA policy (seconds per priority) ---------------------------------------------


_SLA_DEFAULTS = {
    "first_response": {"urgent": 3600, "high": 4 * 3600, "normal": 8 * 3600, "low": 24 * 3600},
    "resolution": {"urgent": 4 * 3600, "high": 24 * 3600, "normal": 72 * 3600, "low": 168 * 3600},
}
# {"first_response": {"urgent": 3600, ...}, "resolution": {...}}, from HELPDESK_SLA_<KIND>_<PRIORITY>.
HELPDESK_SLA = {
    kind: {
        priority: env.int(f"HELPDESK_SLA_{kind.upper()}_{priority.upper()}", default=default, least=1)
        for priority, default in defaults.items()
    }
    for kind, defaults in _SLA_DEFAULTS.items()
}

HELPDESK_REQUESTER_MAIL_RATE = env.str("HELPDESK_REQUESTER_MAIL_RATE", default="20/hour")
if not is_rate(HELPDESK_REQUESTER_MAIL_RATE, {"second", "minute", "hour", "day"}):
    _refused.append("HELPDESK_REQUESTER_MAIL_RATE must look like 20/hour (N/second|minute|hour|day)")

# --- realtime -------------------------------------------------------------------------------

REALTIME_APP_KEY = _required("REALTIME_APP_KEY", "opsproject-development-key")
REALTIME_APP_SECRET = _secret("REALTIME_APP_SECRET", "opsproject-development-secret")
REALTIME_APP_SECRET_PREVIOUS = _previous("REALTIME_APP_SECRET")
REALTIME_CLIENT_EVENTS = env.bool("REALTIME_CLIENT_EVENTS", default=False)
REALTIME_ALLOWED_ORIGINS = env.list("REALTIME_ALLOWED_ORIGINS", default=[])
if PRODUCTION and "*" in REALTIME_ALLOWED_ORIGINS:
    _refused.append("REALTIME_ALLOWED_ORIGINS must name the origins, not '*'")
REALTIME_HISTORY_SECONDS = env.int("REALTIME_HISTORY_SECONDS", default=300)
REALTIME_ACTIVITY_TIMEOUT = env.float("REALTIME_ACTIVITY_TIMEOUT", default=120)
REALTIME_PONG_TIMEOUT = env.float("REALTIME_PONG_TIMEOUT", default=30)
REALTIME_LAYER_CHECK_INTERVAL = env.float("REALTIME_LAYER_CHECK_INTERVAL", default=5)
REALTIME_SEND_QUEUE = env.int("REALTIME_SEND_QUEUE", default=200)
REALTIME_DROP_LOG_INTERVAL = env.float("REALTIME_DROP_LOG_INTERVAL", default=60)
REALTIME_SHUTDOWN_GRACE = env.float("REALTIME_SHUTDOWN_GRACE", default=2)
# Below their least every client would be locked out (256 bytes: a signed presence subscription).
REALTIME_MAX_MESSAGE_BYTES = env.int("REALTIME_MAX_MESSAGE_BYTES", default=10240, least=256)
REALTIME_MAX_SUBSCRIPTIONS = env.int("REALTIME_MAX_SUBSCRIPTIONS", default=100, least=1)
REALTIME_MAX_CONNECTIONS_PER_IP = env.int("REALTIME_MAX_CONNECTIONS_PER_IP", default=100, least=0)
REALTIME_SUBSCRIBE_RATE = env.float("REALTIME_SUBSCRIBE_RATE", default=10, least=0.01)
REALTIME_CLIENT_EVENT_RATE = env.float("REALTIME_CLIENT_EVENT_RATE", default=10, least=0.01)
if REDIS_URL:
    # channels_redis waits up to 5 s in each blocking pop; redis-py's default 5 s socket timeout
    # would cut every idle wait short with a TimeoutError, so the layer's reads get longer.
    # RESP2, not redis-py 8's default RESP3: on RESP3 the asyncio pool of redis-py 8.1 hands out
    # pooled connections the server closed (a Redis restart) without reconnecting them, so the
    # first command on each fails (redis-py PR #4260, fixed after 8.1.0). The layer uses nothing
    # of RESP3. tests/realtime/test_operations.py pins the recovery.
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {
            "address": REDIS_URL,
            "socket_timeout": 5 + REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "protocol": 2,
        }
    ]
CHANNEL_LAYERS["default"].setdefault("CONFIG", {}).update(
    {
        "capacity": env.int("REALTIME_CHANNEL_CAPACITY", default=1000),
        "expiry": env.int("REALTIME_CHANNEL_EXPIRY", default=30),
    }
)
REALTIME_PUBLIC_URL = _value("REALTIME_PUBLIC_URL")
if REALTIME_PUBLIC_URL and not re.fullmatch(r"wss?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?", REALTIME_PUBLIC_URL):
    _refused.append("REALTIME_PUBLIC_URL must be ws://host[:port] or wss://host[:port]")

# --- health ---------------------------------------------------------------------------------


def _health_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list from the environment; unset or empty keeps the default."""
    return [item.strip() for item in env.list(name, default=[]) if item.strip()] or default


HEALTH_CHECKS = _health_list(
    "HEALTH_CHECKS",
    [
        "health.checks.database",
        "health.checks.cache",
        "health.checks.storage",
        "health.checks.migrations",
        "opsproject.health_checks.web",
        "realtime.health_checks.realtime",
        "queueops.health_checks.queue",
        "scheduler.health_checks.scheduler",
        "mailops.health_checks.mail",
        "backups.health_checks.backups",
    ],
)
HEALTH_CRITICAL = _health_list("HEALTH_CRITICAL", ["database", "cache", "storage", "web"])
HEALTH_GATE_REQUIRE = _health_list(
    "HEALTH_GATE_REQUIRE",
    ["database", "cache", "queue:workers", "scheduler:leader", "realtime"],
)
HEALTH_TIMEOUT = env.float("HEALTH_TIMEOUT", default=2.0, above=0)
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=2.0, least=0)
HEALTH_TOKEN = _secret("HEALTH_TOKEN", "", required=False)
HEALTH_TOKEN_PREVIOUS = _previous("HEALTH_TOKEN")  # still accepted while a rotation lasts
HEALTH_STATE_DIR = Path(_value("HEALTH_STATE_DIR") or VAR_DIR / "health")

# --- queue operations -----------------------------------------------------------------------


def _seconds_list(name: str, default: str) -> tuple[float, ...]:
    """`10,30,60` -> (10.0, 30.0, 60.0): comma-separated non-negative seconds."""
    fallback = [float(part) for part in default.split(",")]
    values = tuple(env.list(name, cast=float, default=fallback) or fallback)
    if any(value < 0 for value in values):
        _refused.append(f"{name} must be comma-separated seconds (>= 0), like {default}")
        return tuple(fallback)
    return values


def _queue_alerts(name: str, default: str) -> dict[str, tuple[int, float]]:
    """`celery:1000:300,mail:500:600` -> {queue: (max waiting messages, max oldest wait in s)}."""
    alerts = {}
    for item in filter(None, (part.strip() for part in env.list(name, default=[]) or default.split(","))):
        queue, _, limits = item.partition(":")
        size, _, age = limits.partition(":")
        try:
            alerts[queue] = (int(size), float(age))
        except ValueError:
            _refused.append(f"{name} entries are QUEUE:MAX_SIZE:MAX_AGE_SECONDS, not {item!r}")
    return alerts


QUEUE_TRIES = env.int("QUEUE_TRIES", default=3, least=1)
QUEUE_BACKOFF = _seconds_list("QUEUE_BACKOFF", "10,30,60")
QUEUE_ALERTS = _queue_alerts("QUEUE_ALERTS", "celery:1000:300") if _value("QUEUE_ALERTS") != "none" else {}
QUEUE_ALERT_REPEAT = env.int("QUEUE_ALERT_REPEAT", default=3600)
QUEUE_WAIT_WARN = env.float("QUEUE_WAIT_WARN", default=60)
QUEUE_WAIT_FAIL = env.float("QUEUE_WAIT_FAIL", default=300)
QUEUE_HEARTBEAT_INTERVAL = env.float("QUEUE_HEARTBEAT_INTERVAL", default=5, above=0)
QUEUE_HEARTBEAT_MAX_AGE = env.float("QUEUE_HEARTBEAT_MAX_AGE", default=3 * QUEUE_HEARTBEAT_INTERVAL)
if QUEUE_HEARTBEAT_MAX_AGE <= QUEUE_HEARTBEAT_INTERVAL:
    _refused.append("QUEUE_HEARTBEAT_MAX_AGE must exceed QUEUE_HEARTBEAT_INTERVAL")
ALERT_WEBHOOK_URL = _value("ALERT_WEBHOOK_URL")
if ALERT_WEBHOOK_URL and not ALERT_WEBHOOK_URL.startswith(("https://", "http://")):
    _refused.append("ALERT_WEBHOOK_URL must be an http(s):// URL")  # never echo the value: a secret
ALERT_WEBHOOK_TIMEOUT = env.float("ALERT_WEBHOOK_TIMEOUT", default=5)
ADMINS = [(name or address, address) for name, address in getaddresses([_value("ADMINS")]) if address]

# --- scheduler (leader-locked celery beat) --------------------------------------------------

CELERY_BEAT_SCHEDULER = "scheduler.beat:LeaderScheduler"
BEAT_LOCK_TTL = env.float("BEAT_LOCK_TTL", default=30, least=3)
CELERY_BEAT_MAX_LOOP_INTERVAL = env.float("BEAT_MAX_INTERVAL", default=5, above=0)
BEAT_NAME = _value("BEAT_NAME")
BEAT_HEARTBEAT_MAX_AGE = env.float("BEAT_HEARTBEAT_MAX_AGE", default=BEAT_LOCK_TTL)
SCHEDULE_LATE_GRACE = env.int("SCHEDULE_LATE_GRACE", default=120)
QUEUE_FAILED_RETENTION_DAYS = env.int("QUEUE_FAILED_RETENTION_DAYS", default=30)
SCHEDULE_RUNLOG_RETENTION_DAYS = env.int("SCHEDULE_RUNLOG_RETENTION_DAYS", default=30)

# --- backups --------------------------------------------------------------------------------

BACKUP_AGE_RECIPIENTS = [r.strip() for r in env.list("BACKUP_AGE_RECIPIENTS", default=[]) if r.strip()]
if PRODUCTION and not BACKUP_AGE_RECIPIENTS:
    _missing.append("BACKUP_AGE_RECIPIENTS")
if any(not r.startswith("age1") for r in BACKUP_AGE_RECIPIENTS):
    _refused.append("BACKUP_AGE_RECIPIENTS holds a value that is not an age public key (age1...)")
BACKUP_AGE_IDENTITY_FILE = _value("BACKUP_AGE_IDENTITY_FILE")
BACKUP_MANIFEST_KEY = _secret("BACKUP_MANIFEST_KEY", "")
BACKUP_MANIFEST_KEY_PREVIOUS = _previous("BACKUP_MANIFEST_KEY")
BACKUP_DIR = Path(_value("BACKUP_DIR") or VAR_DIR / "backups")
BACKUP_S3_BUCKET = _value("BACKUP_S3_BUCKET")
if BACKUP_S3_BUCKET:
    STORAGES["backups"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_S3_BUCKET,
            "endpoint_url": _value("BACKUP_S3_ENDPOINT_URL") or None,
            "region_name": _value("BACKUP_S3_REGION") or None,
            "access_key": _value("BACKUP_S3_ACCESS_KEY_ID") or None,
            "secret_key": _value("BACKUP_S3_SECRET_ACCESS_KEY") or None,
            "location": _value("BACKUP_S3_PREFIX").strip("/"),
            "default_acl": None,
            "file_overwrite": True,
        },
    }
else:
    STORAGES["backups"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(BACKUP_DIR), "file_permissions_mode": 0o600},
    }
# Archives only in a local folder die with the host: production keeps them in a bucket, unless
# the operator says the folder is a volume that outlives deploys (compose's backups volume).
BACKUP_ALLOW_LOCAL = env.bool("BACKUP_ALLOW_LOCAL", default=False)
if PRODUCTION and not BACKUP_S3_BUCKET and not BACKUP_ALLOW_LOCAL:
    _refused.append(
        "BACKUP_S3_BUCKET is not set: production keeps backups off the host "
        "(or set BACKUP_ALLOW_LOCAL=true with BACKUP_DIR on a volume)"
    )
# Database logins of the backup jobs (backups/logins.py; docs/PRODUCTION_ENV.md "Database users").
BACKUP_DATABASE_URL = _value("BACKUP_DATABASE_URL")
BACKUP_RESTORE_DATABASE_URL = _value("BACKUP_RESTORE_DATABASE_URL")
BACKUP_PITR_DATABASE_URL = _value("BACKUP_PITR_DATABASE_URL")
BACKUP_DRILL_DATABASE_URL = _value("BACKUP_DRILL_DATABASE_URL")
BACKUP_SMOKE_URL = _value("BACKUP_SMOKE_URL") or "http://127.0.0.1:8000"
BACKUP_SMOKE_USERNAME = _value("BACKUP_SMOKE_USERNAME")
BACKUP_SMOKE_PASSWORD = _value("BACKUP_SMOKE_PASSWORD")
# Multipart part size: the upload buffer, so it bounds the memory a backup uses (S3 minimum 5).
BACKUP_S3_PART_SIZE_MB = env.int("BACKUP_S3_PART_SIZE_MB", default=16, least=5)
# 1: on dump text it came out no bigger than level 3 in bench/backup.py at a fraction of the CPU
# (docs/BENCHMARKS.md).
BACKUP_ZSTD_LEVEL = env.int("BACKUP_ZSTD_LEVEL", default=1)
BACKUP_SCHEDULE = env.str("BACKUP_SCHEDULE", default="02:00")
BACKUP_DRILL_WEEKDAY = env.str("BACKUP_DRILL_WEEKDAY", default="sunday")
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=30, least=1)
BACKUP_KEEP_MONTHLY = env.int("BACKUP_KEEP_MONTHLY", default=12, least=0)
BACKUP_MAX_AGE = env.int("BACKUP_MAX_AGE", default=26 * 3600)
BACKUP_DRILL_MAX_AGE = env.int("BACKUP_DRILL_MAX_AGE", default=8 * 24 * 3600)
BACKUP_MAX_STORAGE_MB = env.int("BACKUP_MAX_STORAGE_MB", default=0)
BACKUP_RESTORE_DRAIN_TIMEOUT = env.int("BACKUP_RESTORE_DRAIN_TIMEOUT", default=300)
BACKUP_MAINTENANCE_RETRY_AFTER = env.int("BACKUP_MAINTENANCE_RETRY_AFTER", default=300)
BACKUP_RESTORE_QUEUE = env.str("BACKUP_RESTORE_QUEUE", default="restore")
CELERY_TASK_ROUTES = {"backups.drill": {"queue": BACKUP_RESTORE_QUEUE}}
BACKUP_BINLOG_INTERVAL = env.int("BACKUP_BINLOG_INTERVAL", default=3600, least=60)
_weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
if not re.fullmatch(r"([01]?[0-9]|2[0-3]):[0-5][0-9]", BACKUP_SCHEDULE):
    _refused.append(f"BACKUP_SCHEDULE must be HH:MM (24 h), not {BACKUP_SCHEDULE!r}")
if BACKUP_DRILL_WEEKDAY.lower() not in _weekdays:
    _refused.append(f"BACKUP_DRILL_WEEKDAY must be a day name, not {BACKUP_DRILL_WEEKDAY!r}")

# --- mail -----------------------------------------------------------------------------------

# Mailgun through Anymail when MAILGUN_API_KEY is set; the console backend otherwise, which
# production refuses by requiring the key. Secrets go into ANYMAIL only, never into messages.
MAILGUN_API_KEY = _required("MAILGUN_API_KEY", "")
MAILGUN_SENDER_DOMAIN = _required("MAILGUN_SENDER_DOMAIN", "localhost")
MAILGUN_API_URL = (_value("MAILGUN_API_URL") or "https://api.mailgun.net").rstrip("/").removesuffix("/v3")
MAILGUN_WEBHOOK_SIGNING_KEY = _secret("MAILGUN_WEBHOOK_SIGNING_KEY", "")
MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS = _previous("MAILGUN_WEBHOOK_SIGNING_KEY")
WEBHOOK_SECRET = _secret("WEBHOOK_SECRET", "", required=False)
WEBHOOK_SECRET_PREVIOUS = _previous("WEBHOOK_SECRET")
if PRODUCTION and any(value and ":" not in value for value in (WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS)):
    _refused.append("WEBHOOK_SECRET (and WEBHOOK_SECRET_PREVIOUS) must be user:password")
DEFAULT_FROM_EMAIL = _required("DEFAULT_FROM_EMAIL", f"helpdesk@{MAILGUN_SENDER_DOMAIN}")
SERVER_EMAIL = _value("SERVER_EMAIL") or DEFAULT_FROM_EMAIL
EMAIL_BACKEND = (
    "anymail.backends.mailgun.EmailBackend"
    if MAILGUN_API_KEY
    else "django.core.mail.backends.console.EmailBackend"
)
ANYMAIL = {
    "MAILGUN_API_KEY": MAILGUN_API_KEY,
    "MAILGUN_SENDER_DOMAIN": MAILGUN_SENDER_DOMAIN,
    "MAILGUN_API_URL": f"{MAILGUN_API_URL}/v3",
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_WEBHOOK_SIGNING_KEY,
    # Anymail accepts any of a list: the previous credentials keep working during a rotation.
    "WEBHOOK_SECRET": secret_values.current_and_previous(WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS) or None,
    "REQUESTS_TIMEOUT": env.float("MAIL_API_TIMEOUT", default=10),
}
MAIL_SOFT_BOUNCE_LIMIT = env.int("MAIL_SOFT_BOUNCE_LIMIT", default=3, least=1)
MAIL_SOFT_BOUNCE_WINDOW = env.int("MAIL_SOFT_BOUNCE_WINDOW", default=3 * 24 * 3600, least=1)
MAIL_WEBHOOK_MAX_AGE = env.int("MAIL_WEBHOOK_MAX_AGE", default=24 * 3600, least=60)
MAIL_CREDENTIAL_TTL = env.int("MAIL_CREDENTIAL_TTL", default=300)
MAIL_BOUNCE_RATE_WARN = env.float("MAIL_BOUNCE_RATE_WARN", default=5.0)
MAIL_RETENTION_DAYS = env.int("MAIL_RETENTION_DAYS", default=365)
if MAIL_RETENTION_DAYS < 0 or 0 < MAIL_RETENTION_DAYS * 86400 < MAIL_SOFT_BOUNCE_WINDOW + 86400:
    # The soft-bounce rule counts the events of its window, and the bounce rate those of 24 h.
    _refused.append(
        "MAIL_RETENTION_DAYS must be 0 (keep forever) or cover MAIL_SOFT_BOUNCE_WINDOW plus a day"
    )

# --- operations -----------------------------------------------------------------------------

METRICS_TOKEN = _secret("METRICS_TOKEN", "", required=False)
METRICS_TOKEN_PREVIOUS = _previous("METRICS_TOKEN")  # still accepted while a rotation lasts
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[] if PRODUCTION else ["127.0.0.1", "::1"])
OPS_HISTORY_SAMPLE_SECONDS = env.int("OPS_HISTORY_SAMPLE_SECONDS", default=60, least=1)
OPS_HISTORY_RAW_SECONDS = env.int("OPS_HISTORY_RAW_SECONDS", default=3 * 3600)
OPS_HISTORY_BUCKET_SECONDS = env.int("OPS_HISTORY_BUCKET_SECONDS", default=600, least=1)
OPS_HISTORY_RETENTION = env.int("OPS_HISTORY_RETENTION", default=24 * 3600)
OPS_DASHBOARD_REFRESH = env.int("OPS_DASHBOARD_REFRESH", default=5, least=1)
if not OPS_HISTORY_SAMPLE_SECONDS <= OPS_HISTORY_RAW_SECONDS <= OPS_HISTORY_RETENTION:
    _refused.append(
        f"OPS_HISTORY_SAMPLE_SECONDS ({OPS_HISTORY_SAMPLE_SECONDS}) <= OPS_HISTORY_RAW_SECONDS "
        f"({OPS_HISTORY_RAW_SECONDS}) <= OPS_HISTORY_RETENTION ({OPS_HISTORY_RETENTION}) must hold"
    )
# The OpenAPI schema (/api/schema/) and its docs page (/api/docs/), served without a CDN.
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "opsproject API",
    "DESCRIPTION": "The helpdesk API and the ops API (/api/ops/): failed jobs, queues, schedules, "
    "alerts, backups, mail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["operations.schema.api_only"],
    # The schema maps every endpoint an attacker could try: operators only in production
    # (operations.permissions.IsOps, the ops API's own rule); open in development.
    "SERVE_PERMISSIONS": [
        "operations.permissions.IsOps" if PRODUCTION else "rest_framework.permissions.AllowAny"
    ],
}

# --- logging --------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in logs.LEVELS:
    _refused.append(f"LOG_LEVEL must be one of {', '.join(logs.LEVELS)}, not {LOG_LEVEL!r}")
    LOG_LEVEL = "INFO"
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain").lower()
if LOG_FORMAT not in logs.FORMATS:
    _refused.append(f"LOG_FORMAT must be 'json' or 'plain', not {LOG_FORMAT!r}")
    LOG_FORMAT = "json"
# Requests carry an id (the client's X-Request-ID when well-formed, else a new one) that is
# returned in this header and follows the request into its tasks and broadcasts.
REQUEST_ID_HEADER = "X-Request-ID"
LOGGING = logs.logging_config(LOG_FORMAT, LOG_LEVEL)

# --- production hardening -------------------------------------------------------------------

if PRODUCTION:
    # Only when the proxy in front says it sets X-Forwarded-Proto itself (overwriting a client's):
    # trusted otherwise, any client could claim https and get past the redirect.
    if env.bool("SECURE_PROXY_SSL_HEADER_TRUSTED", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes and scrapers inside the cluster speak plain HTTP to the pods: not redirected.
    SECURE_REDIRECT_EXEMPT = [r"^up/?$", r"^health(/|$)", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a decision about the whole domain, hard to take back (browsers ship the
        # list): an operator makes it with SECURE_HSTS_PRELOAD, the deploy check does not.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Values production.env.example ships that are not secrets (checked above) but still placeholders,
# such as the database password in DATABASE_URL: named, never echoed.
_TEMPLATE_FILLED = (
    "DATABASE_URL",
    "REDIS_URL",
    "REALTIME_APP_KEY",
    "MAILGUN_API_KEY",
    "BACKUP_AGE_RECIPIENTS",
    "BACKUP_S3_ACCESS_KEY_ID",
    "BACKUP_S3_SECRET_ACCESS_KEY",
)
if PRODUCTION:
    _refused.extend(
        f"{name} still holds the env template's placeholder"
        for name in _TEMPLATE_FILLED
        if secret_values.is_template_value(_value(name))
    )

# Last: the one error naming everything missing or refused above (development too: a bad
# value there is as wrong, only fewer values are required).
_problems.raise_if_any(DJANGO_ENV)
