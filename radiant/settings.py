"""RADIANT settings: one module, driven by environment variables.

Three ways to run (DESIGN.md §3):
- embedded default: nothing set -> SQLite file, local-memory cache, eager Celery;
- services: DATABASE_URL=postgres://..., REDIS_URL=redis://... ;
- Lambda: the services mode inside Zappa's handler, configured from the environment.

Nothing here does I/O: importing settings must stay cheap for Lambda cold starts. One
module on purpose (over 400 lines): every setting is declared once, here, next to why it
has the value it has.
"""

import hashlib
import hmac
import logging
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    return int(env(name, default))


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- core ---------------------------------------------------------------------------

RADIANT_ENV = env("RADIANT_ENV", "development")  # development | test | production
PRODUCTION = RADIANT_ENV == "production"

if PRODUCTION:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]  # no default for production secrets
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY", "radiant-development-only-not-a-secret")

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "radiant.apps.RadiantAdminConfig",  # django.contrib.admin, with the operator console's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: /api/docs/ works offline
    "tenants",
    "models_catalog",
    "billing",
    "gateway",
    # catalog, configuration and translations
    "configuration",
    "localization",
    "axes",
    "audit",
    "demo",
    "console",  # the operator console: dashboard, usage, tenant page, roles (it uses every app)
]

# Outermost first. Why each sits where it does:
# - the Lambda client-address middleware first, so everything after it sees the address
#   API Gateway saw (radiant/lambda_gateway.py);
# - PrivateResponsesMiddleware sees every response last (radiant/shared_caches.py says why);
# - every response, whatever answers it, carries X-Request-ID;
# - the request log and metrics wrap everything else, inside the request id's scope;
# - ApiLane, right after SecurityMiddleware: /api/v1/ requests skip the browser-only
#   middleware that follows (radiant/middleware.py says why);
# - ActorMiddleware: who is acting, for the audit log (radiant/actors.py);
# - ThrottledCounter last: tenants' 429s per day for the console (console/usage.py), a
#   Redis write on 429s only.
MIDDLEWARE = [
    "radiant.lambda_gateway.ApiGatewayClientIpMiddleware",
    "radiant.shared_caches.PrivateResponsesMiddleware",
    "radiant.request_context.RequestIdMiddleware",
    "radiant.request_log.RequestLogMiddleware",
    "radiant.urls.ApiNotFoundMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "radiant.middleware.ApiLane",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "radiant.actors.ActorMiddleware",
    "console.usage.ThrottledCounter",
]

# Admin sign-in is limited against guessing (django-axes): after AXES_FAILURE_LIMIT wrong
# passwords a user name is locked, and so is the client address, each on its own, for
# AXES_COOLOFF_TIME. Operators see attempts and lockouts in the admin ("Axes") and lift one
# there or with ``manage.py axes_reset_username`` / ``axes_reset_ip``.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The address as the rate limiter sees it: the trusted proxy hop, or API Gateway's sourceIp.
AXES_CLIENT_IP_CALLABLE = "radiant.client_ip.client_ip_address"

ROOT_URLCONF = "radiant.urls"
WSGI_APPLICATION = "radiant.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The admin's site-wide templates (branding, history with values): radiant/admin.py.
        "DIRS": [BASE_DIR / "radiant" / "templates"],
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

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["radiant.formats"]  # ISO dates and times in the admin
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = env("STATIC_URL", "/static/")
STATIC_ROOT = BASE_DIR / "staticfiles"
# Zappa's handler turns API Gateway events into WSGI requests. For requests to the
# execute-api host it sets SCRIPT_NAME to "/<stage>" (behind a custom domain, to ""), and
# Django builds every URL from it; these storages add it to static URLs too, so admin links
# and CSS work under /dev/... as well as at the root of a custom domain (docs/DEPLOY.md).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "radiant.staticfiles.StaticFilesStorage" if DEBUG
        else "radiant.staticfiles.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "radiant" / "static"]  # the admin's favicon and stylesheet

# A tenant API body is small JSON; anything bigger is refused with a 413 problem.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 64 * 1024)
# Seconds a client may take to send a body that size (radiant/middleware.py): a body that
# stops short of its Content-Length is a 400 then, not a worker held until its timeout.
REQUEST_BODY_TIMEOUT = float(env("REQUEST_BODY_TIMEOUT", "10"))
# Characters of path and query an API URL may have (a cursor is under 200): longer is a 414
# problem. Below the request-line limit of the server in front (gunicorn's is set to 8190 in
# radiant/gunicorn_conf.py), so that the API, not the server, answers.
MAX_URL_LENGTH = 4096

# --- databases ----------------------------------------------------------------------
#
# On PostgreSQL there are two aliases (DESIGN.md §4):
# - "default": the operator role (migrations, admin, commands, periodic jobs); it owns the
#   tables and may cross tenants (superuser or BYPASSRLS);
# - "tenant": the web role the tenant API runs as; not a superuser, no BYPASSRLS, every
#   tenant-owned table has RLS enabled and forced. radiant.tenancy routes every query of a
#   tenant scope here and refuses the operator alias inside a scope.
# On SQLite both are one database and tenant scoping is done by the ORM alone.

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://", "pgsql://"))
TENANT_DB_ROLE = env("DATABASE_TENANT_ROLE", "radiant_web")


def _with_user(url, user):
    """The same database URL, logged in as another user (password from the environment)."""
    parts = urlsplit(url)
    password = env("DATABASE_TENANT_PASSWORD")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _database(url):
    config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = {"connect_timeout": env_int("DB_CONNECT_TIMEOUT", 5)}
        if env_bool("DB_POOL", default=True):
            # psycopg pool with the seed's values; Django requires CONN_MAX_AGE = 0 with it.
            options["pool"] = {
                "min_size": env_int("DB_POOL_MIN", 2),
                "max_size": env_int("DB_POOL_MAX", 10),
                "max_idle": env_int("DB_POOL_IDLE", 30),
                "timeout": env_int("DB_POOL_TIMEOUT", 5),
            }
            config["CONN_MAX_AGE"] = 0
            # The pool checks a connection before handing it out and replaces a dead one
            # (a terminated backend, a failover): never a dead connection to a request.
            config["CONN_HEALTH_CHECKS"] = True
        else:
            config["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
            config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = options
    return config


DATABASES = {"default": _database(DATABASE_URL)}
if POSTGRES:
    DATABASES["tenant"] = _database(
        env("DATABASE_TENANT_URL") or _with_user(DATABASE_URL, TENANT_DB_ROLE)
    )
    # In tests the tenant alias points at the same test database, still as the web role.
    DATABASES["tenant"]["TEST"] = {"MIRROR": "default"}
    # Values travel apart from the statement text, which is all that pg_stat_activity shows
    # other sessions of the web role: no tenant's data, key hash or signature stands there.
    DATABASES["tenant"]["OPTIONS"]["server_side_binding"] = True

TENANT_DB_ALIAS = "tenant" if POSTGRES else "default"
DATABASE_ROUTERS = ["radiant.tenancy.TenantRouter"]

# The tenant context is signed so that SQL run as the web role cannot switch tenants by
# calling set_config() itself: the policies only trust a tenant id whose signature matches
# a secret the web role cannot read (see tenants/migrations and radiant/tenancy.py).
RLS_CONTEXT_SECRET = hmac.new(
    env("RLS_CONTEXT_SECRET", SECRET_KEY).encode(), b"radiant.rls.context", hashlib.sha256
).digest()

# API keys end with a keyed check (tenants/selectors.py), so a guessed key is refused
# without a lookup. Changing this secret invalidates every key: set it once per deployment.
API_KEY_CHECK_SECRET = hmac.new(
    env("API_KEY_CHECK_SECRET", SECRET_KEY).encode(), b"radiant.api-key.check", hashlib.sha256
).digest()

# --- cache, sessions, Celery --------------------------------------------------------

REDIS_URL = env("REDIS_URL")
# ElastiCache in cluster mode (DESIGN.md §3): REDIS_URL names one node (the configuration
# endpoint) and the client discovers the rest (radiant/redis_cluster.py).
REDIS_CLUSTER = env_bool("REDIS_CLUSTER")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", ""),
            "OPTIONS": {
                "CLIENT_CLASS": "radiant.redis_cluster.ClusterClient" if REDIS_CLUSTER
                else "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": float(env("REDIS_CONNECT_TIMEOUT", "0.5")),
                "SOCKET_TIMEOUT": float(env("REDIS_TIMEOUT", "0.5")),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# django-redis's default, spelled out: it looks the setting up at the end of every request,
# and a missing setting costs an exception each time.
DJANGO_REDIS_CLOSE_CONNECTION = False

# Sessions: with Redis they live in the cache only, as "session:<session key>" with a 24 h
# TTL (DESIGN.md §6); the embedded default keeps cached_db, so admin logins survive a
# restart that empties the local-memory cache.
SESSION_ENGINE = "radiant.sessions" if REDIS_URL else "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 24 * 60 * 60

# Celery's broker: CELERY_BROKER_URL, else the cache's Redis when it is a single node. A
# Redis Cluster cannot be a broker (kombu speaks to one node), so with REDIS_CLUSTER the
# broker is SQS on AWS or a Redis of its own elsewhere; without one, tasks run in-process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", (REDIS_URL if REDIS_URL and not REDIS_CLUSTER else None) or "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_ACKS_LATE = True
# A publish that cannot reach the broker fails fast and the work runs in-process instead
# (radiant.tasks.send_or_run): the connect timeout bounds what a request can wait for it,
# and a failed connect is not tried again (kombu would, for CELERY_BROKER_CONNECTION_TIMEOUT
# seconds: a request held 2 s). Workers reconnect on their own terms
# (broker_connection_max_retries), not these.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": float(env("CELERY_BROKER_CONNECT_TIMEOUT", "0.05")),
    "max_retries": 0,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic work (celery beat beside the workers). Operator tasks: they cross tenants.
CELERY_BEAT_SCHEDULE = {
    "release-expired-holds": {"task": "billing.tasks.holds_expire_task", "schedule": 30.0},
    "purge-idempotency-keys": {"task": "billing.tasks.idempotency_keys_purge_task", "schedule": 3600.0},
    "audit-partitions-ahead": {"task": "audit.tasks.audit_partitions_ensure", "schedule": 24 * 3600.0},
    # The console's daily usage table catches up with the ledger (console/usage.py).
    "usage-rollup": {"task": "console.tasks.usage_rollup_task", "schedule": 300.0},
}

# On AWS the broker is SQS (CELERY_BROKER_URL=sqs://, credentials from the function's role):
# the functions send task messages with kombu's SQS transport and the queue triggers the
# worker function, which runs them (radiant/lambda_worker.py, docs/DEPLOY.md). The queue is
# predefined, so sending never lists or creates queues.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", "celery")
if CELERY_BROKER_URL.startswith("sqs://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "region": env("AWS_REGION", "us-east-1"),
        "predefined_queues": {CELERY_TASK_DEFAULT_QUEUE: {"url": env("CELERY_SQS_QUEUE_URL")}},
    }
# Workers log through LOGGING (JSON lines) like the web processes, not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- API ------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # The tenant base class (radiant/api.py) takes its authenticator from here: API keys are
    # the tenants app's (tenants/auth.py), and radiant/ imports no app.
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["radiant.parsers.JSONParser"],
    # Answers the common Accept headers without parsing them (radiant/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "radiant.negotiation.ContentNegotiation",
    "EXCEPTION_HANDLER": "radiant.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "RADIANT API",
    "DESCRIPTION": "Multi-tenant AI platform API. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["tenants.openapi.preprocess"],  # loads the API key scheme
    # Pinned Swagger UI from drf-spectacular-sidecar, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Problems, headers, 304s and operation ids every tenant endpoint shares (radiant/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "radiant.schema.postprocess"],
    "COMPONENT_SPLIT_REQUEST": False,
}

# How often an API key's last_used_at is written (seconds); reads never wait for it.
API_KEY_TOUCH_INTERVAL = env_int("API_KEY_TOUCH_INTERVAL", 60)

# --- rate limits (radiant/ratelimit/) ----------------------------------------------
# Tenants: token bucket + daily quota from their tier or overrides (DESIGN.md §5).
RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", default=True)
# Redis unreachable: admit unchecked (logged, counted) or answer 503 service_unavailable.
RATELIMIT_FAIL_OPEN = env_bool("RATELIMIT_FAIL_OPEN", default=True)
# Unauthenticated and failed-key requests, per client address: a burst, then a rate.
RATELIMIT_IP_BURST = env_int("RATELIMIT_IP_BURST", 20)
RATELIMIT_IP_RPS = float(env("RATELIMIT_IP_RPS", "1"))
# Proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if RATELIMIT_IP_BURST < 1 or RATELIMIT_IP_RPS <= 0 or TRUSTED_PROXY_COUNT < 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("RATELIMIT_IP_BURST >= 1, RATELIMIT_IP_RPS > 0, TRUSTED_PROXY_COUNT >= 0")

# --- logging and metrics (radiant/request_log.py, radiant/metrics.py; docs/RUNBOOK.md) ---
#
# Every log record is one JSON object per line (python-json-logger): what CloudWatch Logs
# Insights and any log shipper parse without a grok pattern. LOG_FORMAT=text for humans.
# The request log (one JSON line per request, "logger": "radiant.request", on stderr; in
# either LOG_FORMAT) is written whatever LOG_LEVEL says; REQUEST_LOG=0 turns it off. METRICS_ENABLED=0 turns metrics off.
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" and does not exist
# without one (it never does on Lambda, where the metrics are EMF log lines).
LOG_FORMAT = env("LOG_FORMAT", "json")
REQUEST_LOG = env_bool("REQUEST_LOG", default=True)
METRICS_ENABLED = env_bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env("METRICS_TOKEN")
if METRICS_TOKEN is not None and len(METRICS_TOKEN) < 24:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("METRICS_TOKEN must be at least 24 characters (e.g. openssl rand -hex 24)")

# --- credits and the audit log (billing/, audit/) --------------------------------------
# Responses to requests with an Idempotency-Key are kept at least this long, then purged.
IDEMPOTENCY_KEY_TTL = env_int("IDEMPOTENCY_KEY_TTL", 24 * 60 * 60)
# The AI gateway (gateway/, docs/GATEWAY.md). A prompt may be far larger than other bodies.
GATEWAY_MAX_REQUEST_BYTES = env_int("GATEWAY_MAX_REQUEST_BYTES", 4 * 1024 * 1024)
# How long a call's credit hold lives: longer than any call (a stream included) may last.
GATEWAY_HOLD_TTL = env_int("GATEWAY_HOLD_TTL", 15 * 60)
# Retries after a 429/5xx: "full jitter" backoff, base * 2^attempt seconds at most, and never
# longer than GATEWAY_RETRY_MAX_WAIT (a provider asking for more is not waited for).
GATEWAY_RETRY_BASE = float(env("GATEWAY_RETRY_BASE", "0.25"))
GATEWAY_RETRY_MAX_WAIT = float(env("GATEWAY_RETRY_MAX_WAIT", "4"))
# Monthly audit_logs partitions kept ready ahead of the current month (PostgreSQL).
AUDIT_PARTITIONS_AHEAD = env_int("AUDIT_PARTITIONS_AHEAD", 3)

# No formatter here writes a record's thread: not looking it up saves a little of every log
# record's cost. Process ids stay: gunicorn's own log format writes them (``%(process)d``
# fails on a record without one).
logging.logThreads = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every record carries the request id ("-" outside a request; radiant.request_context).
    "filters": {"request_id": {"()": "radiant.request_context.RequestIdLogFilter"}},
    "formatters": {
        "json": {"()": "radiant.logformat.JsonFormatter"},  # python-json-logger, orjson
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "text" if LOG_FORMAT == "text" else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # httpx logs every provider call at INFO: the request log already has the request.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- HTTPS (docs/DEPLOY.md) ---------------------------------------------------------
# Deployed stages serve HTTPS only (API Gateway); cookies never travel in clear.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=PRODUCTION)
if PRODUCTION:
    # CloudFront and API Gateway terminate TLS and say so in X-Forwarded-Proto (which they
    # set themselves, whatever the client sent); a plain-HTTP request is redirected, and
    # browsers are told to use HTTPS only from then on.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes from inside the network
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
# Periodic jobs (tenants/jobs.py): revoked or expired API keys are kept this many days
# (tenants still see them in their key list), then deleted.
API_KEY_RETENTION_DAYS = env_int("API_KEY_RETENTION_DAYS", 90)
