"""Sentinel settings: every value comes from the environment (django-environ).

Defaults are production-safe: DEBUG is off unless set, SECRET_KEY is required outside DEBUG, and
the `check --deploy` settings switch on when DEBUG is off. `make run` exports the embedded
defaults (SQLite and an embedded Redis under var/) before it starts anything; see bin/run.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A .env file is read if present; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_rq",
    "queues",
    "workspaces",
    "integrations",
    "billing",
    "reviews",
    "analytics",
    "console",
]

MIDDLEWARE = [
    "sentinel.middleware.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sentinel.urls"
WSGI_APPLICATION = "sentinel.wsgi.application"
ASGI_APPLICATION = "sentinel.asgi.application"

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

# --- Database -------------------------------------------------------------------------------------
# PostgreSQL is the system of record; SQLite is only the embedded default of `make run`.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'sentinel.sqlite3'}"),
}
# Persistent connections: measured ~7x more intake throughput than reconnecting per request
# (docs/decisions.md). Health checks drop a connection that went bad.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: queues and cache ------------------------------------------------------------------
# Unset REDIS_URL means the embedded Redis that `make run` starts on a unix socket under var/.
REDIS_URL = env.str("REDIS_URL", default=f"unix://{VAR_DIR / 'redis.sock'}")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=5.0)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sentinel",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": REDIS_SOCKET_TIMEOUT},
    }
}

# The queue topology owns RQ_QUEUES: queues/topology.py builds it from the one Queue enum.
from queues.topology import rq_queues_setting  # noqa: E402

RQ_QUEUES = rq_queues_setting(REDIS_URL)
RQ = {"COMMIT_MODE": "on_db_commit"}
RQ_SHOW_ADMIN_LINK = True

# --- Auth, i18n, static -----------------------------------------------------------------------
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
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
# whitenoise serves the admin's static files from gunicorn, in `make run` and in production alike.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security (active whenever DEBUG is off; `manage.py check --deploy` is clean) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and webhooks reach the app over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework and OpenAPI ---------------------------------------------------------------
# The API foundation lives in workspaces/api (docs/api.md). Bearer comes first so that an
# unauthenticated request answers 401 with `WWW-Authenticate: Bearer`, not 403.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "workspaces.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "workspaces.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["workspaces.api.throttling.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_THROTTLE_RATE_TOKEN", default="600/min"),
        "user": env.str("API_THROTTLE_RATE_USER", default="600/min"),
        "anon": env.str("API_THROTTLE_RATE_ANON", default="60/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "workspaces.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "EXCEPTION_HANDLER": "workspaces.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sentinel API",
    "DESCRIPTION": "Multi-tenant AI code review: workspaces, repositories, review runs, usage.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "workspaces.models.Role",
        "TokenScopeEnum": "workspaces.models.TokenScope",
        "DeliveryStatusEnum": "integrations.models.DeliveryStatus",
        "CommandStatusEnum": "integrations.models.CommandStatus",
        "RunStatusEnum": "reviews.models.RunStatus",
        "ProviderKeyStatusEnum": "integrations.models.ProviderKeyStatus",
        "AIProviderEnum": "integrations.models.AIProvider",
        "SourceProviderEnum": "integrations.models.SourceProvider",
    },
}

# --- Sentinel ---------------------------------------------------------------------------------
SENTINEL_ENCRYPTION_KEY = env.str("SENTINEL_ENCRYPTION_KEY", default="")
SENTINEL_DEFAULT_AI_PROVIDER = env.str("SENTINEL_DEFAULT_AI_PROVIDER", default="offline")
# AI providers and the review engine (integrations/ai, reviews/engine; docs/ai.md).
# Sentinel's own keys, used where the plan allows platform keys (empty = BYOK only).
SENTINEL_PLATFORM_OPENAI_API_KEY = env.str("SENTINEL_PLATFORM_OPENAI_API_KEY", default="")
SENTINEL_PLATFORM_OPENAI_BASE_URL = env.str("SENTINEL_PLATFORM_OPENAI_BASE_URL", default="")
SENTINEL_PLATFORM_ANTHROPIC_API_KEY = env.str("SENTINEL_PLATFORM_ANTHROPIC_API_KEY", default="")
SENTINEL_PLATFORM_ANTHROPIC_BASE_URL = env.str("SENTINEL_PLATFORM_ANTHROPIC_BASE_URL", default="")
# Estimated input tokens per provider call (4 characters per token), calls per review, output cap.
SENTINEL_AI_CALL_TOKEN_BUDGET = env.int("SENTINEL_AI_CALL_TOKEN_BUDGET", default=24000)
SENTINEL_AI_MAX_CALLS = env.int("SENTINEL_AI_MAX_CALLS", default=6)
SENTINEL_AI_MAX_OUTPUT_TOKENS = env.int("SENTINEL_AI_MAX_OUTPUT_TOKENS", default=4096)
SENTINEL_AI_TIMEOUT = env.float("SENTINEL_AI_TIMEOUT", default=120.0)
# Circuit breaker per (workspace, provider): N consecutive failures -> cooldown seconds.
SENTINEL_AI_BREAKER_THRESHOLD = env.int("SENTINEL_AI_BREAKER_THRESHOLD", default=3)
SENTINEL_AI_BREAKER_COOLDOWN = env.int("SENTINEL_AI_BREAKER_COOLDOWN", default=300)
# Extra/overriding prices, JSON {"provider/model": [usd_per_1M_input, usd_per_1M_output]}.
SENTINEL_AI_PRICES = env.str("SENTINEL_AI_PRICES", default="")
# Egress guard for per-key base URLs (SSRF): allowed hosts (empty = any public host), and whether
# private/loopback addresses may be used (on for self-hosted Ollama/vLLM on the local network).
SENTINEL_AI_EGRESS_ALLOWLIST = env.list("SENTINEL_AI_EGRESS_ALLOWLIST", default=[])
SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS = env.bool("SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS", default=False)
GITHUB_APP_ID = env.str("GITHUB_APP_ID", default="")
GITHUB_APP_PRIVATE_KEY = env.str("GITHUB_APP_PRIVATE_KEY", default="")
GITHUB_WEBHOOK_SECRET = env.str("GITHUB_WEBHOOK_SECRET", default="")
GITHUB_API_URL = env.str("GITHUB_API_URL", default="https://api.github.com")
# Webhook bodies above this many bytes are refused with 413 before they are read.
GITHUB_WEBHOOK_MAX_BYTES = env.int("GITHUB_WEBHOOK_MAX_BYTES", default=25 * 1024 * 1024)
# Seconds per GitHub API request (connect + read); a slow GitHub fails the call, the job retries.
GITHUB_HTTP_TIMEOUT = env.int("GITHUB_HTTP_TIMEOUT", default=20)
# The mention that starts a comment command ("@sentinel review").
GITHUB_COMMAND_MENTION = env.str("GITHUB_COMMAND_MENTION", default="@sentinel")
# Owner of workspaces created automatically for new installations (an account with no password).
SENTINEL_SYSTEM_USERNAME = env.str("SENTINEL_SYSTEM_USERNAME", default="sentinel-system")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# --- Billing (billing app; docs/billing.md) -------------------------------------------------------
# Stripe Price id of each paid plan (Checkout sells these; subscription events map back through them).
BILLING_STRIPE_PRICES = {
    "pro": env.str("STRIPE_PRICE_PRO", default=""),
    "team": env.str("STRIPE_PRICE_TEAM", default=""),
    "enterprise": env.str("STRIPE_PRICE_ENTERPRISE", default=""),
}
# Seconds a webhook's Stripe-Signature timestamp may lag (stripe SDK default 300).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Where Checkout and the billing portal send the customer back to.
BILLING_CHECKOUT_SUCCESS_URL = env.str(
    "BILLING_CHECKOUT_SUCCESS_URL", default="http://localhost:8000/billing/success?session_id={CHECKOUT_SESSION_ID}"
)
BILLING_CHECKOUT_CANCEL_URL = env.str("BILLING_CHECKOUT_CANCEL_URL", default="http://localhost:8000/billing/cancel")
BILLING_PORTAL_RETURN_URL = env.str("BILLING_PORTAL_RETURN_URL", default="http://localhost:8000/billing")
# A Stripe-billed paid plan stays in force this long past its period end while the renewal
# webhook is late; after that the workspace falls back to the free allowance until it arrives.
BILLING_RENEWAL_GRACE_HOURS = env.int("BILLING_RENEWAL_GRACE_HOURS", default=48)

# --- Logging: structlog JSON lines for Django, gunicorn and rq workers -----------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING_CONFIG = None  # sentinel.logging configures logging itself (below)

from sentinel.logging import configure_logging  # noqa: E402

configure_logging(LOG_LEVEL)

# --- Job platform (queues app; docs/queues.md, docs/operations.md) ----------------------------
# Per-workspace concurrency: the callable returns the limit for (workspace_id, queue); billing
# points it at plan limits. The default reads the two settings below (0 = unlimited).
# Billing's resolver: plan limits on the review queues, the settings below on every other queue.
SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER = env.str(
    "SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER", default="billing.selectors.max_concurrent_reviews"
)
# The plan's seat limit, checked when a member joins through the API or an invitation (empty: none).
SENTINEL_SEAT_CHECK = env.str("SENTINEL_SEAT_CHECK", default="billing.services.check_seat_allowed")
SENTINEL_WORKSPACE_CONCURRENCY = env.int("SENTINEL_WORKSPACE_CONCURRENCY", default=4)
SENTINEL_WORKSPACE_CONCURRENCY_PER_QUEUE: dict[str, int] = {}
# Token bucket per workspace and queue, applied when a job starts: queue -> (per minute, burst).
SENTINEL_RATE_LIMITS: dict[str, tuple[float, int]] = {
    "reviews-enterprise": (240, 60),
    "reviews-paid": (120, 30),
    "reviews-default": (30, 10),
    "commands": (60, 20),
}
# Multiplies every retry interval (tests and demos: 0.1); the policies themselves stay as declared.
SENTINEL_RETRY_BACKOFF_SCALE = env.float("SENTINEL_RETRY_BACKOFF_SCALE", default=1.0)
# Worker timing: abandoned jobs are retried within ~45 s (forking) / timeout+grace+interval (simple).
SENTINEL_WORKER_MAINTENANCE_INTERVAL = env.int("SENTINEL_WORKER_MAINTENANCE_INTERVAL", default=10)
SENTINEL_WORKER_JOB_MONITORING_INTERVAL = env.int("SENTINEL_WORKER_JOB_MONITORING_INTERVAL", default=10)
SENTINEL_WORKER_HEARTBEAT_GRACE = env.int("SENTINEL_WORKER_HEARTBEAT_GRACE", default=20)
# The non-forking critical pool: its heartbeat covers the job's whole timeout plus this.
SENTINEL_SIMPLE_WORKER_HEARTBEAT_GRACE = env.int("SENTINEL_SIMPLE_WORKER_HEARTBEAT_GRACE", default=10)
SENTINEL_WORKER_TTL = env.int("SENTINEL_WORKER_TTL", default=25)
# Modules a worker imports before forking (queues/preload.py): the AI SDKs cost seconds of CPU
# per import, which every forked job would otherwise pay again. Empty in tests (bin/test).
SENTINEL_WORKER_PRELOAD = env.list(
    "SENTINEL_WORKER_PRELOAD",
    default=["integrations.ai.openai_provider", "integrations.ai.anthropic_provider", "integrations.github.client"],
)
SENTINEL_PROGRESS_MIN_INTERVAL = env.float("SENTINEL_PROGRESS_MIN_INTERVAL", default=1.0)
# Worker pool sizes: SENTINEL_POOL_<NAME>_WORKERS overrides a pool's process count (queues/pools.py).
# Cron schedules (queues/schedules.py): each app appends {"name", "cron" (UTC), "job", "data"?,
# "queue"?}. The platform's own (SLA monitor, reconciler) are built in; `manage.py run_scheduler`
# registers them all with rq-scheduler at start.
SENTINEL_SCHEDULES: list[dict] = []
# /metrics: when set, Prometheus must send `Authorization: Bearer <token>`.
SENTINEL_METRICS_TOKEN = env.str("SENTINEL_METRICS_TOKEN", default="")
# prometheus-client multiprocess mode: every process writes its samples under this directory.
import os as _os  # noqa: E402

PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "prometheus"))
_os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", PROMETHEUS_MULTIPROC_DIR)
Path(_os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

# --- Review runs (reviews app; docs/decisions.md "Review runs and source control") -----------
# Pushes to one PR within this many seconds yield one run (webhook triggers only; 0 = off).
SENTINEL_REVIEW_DEBOUNCE_SECONDS = env.float("SENTINEL_REVIEW_DEBOUNCE_SECONDS", default=5.0)
# Where the local-git provider "posts" reviews (Markdown) and statuses.
SENTINEL_LOCAL_REVIEWS_DIR = env.str("SENTINEL_LOCAL_REVIEWS_DIR", default=str(VAR_DIR / "reviews"))
# Fault injection for tests and demos: "post_review=2,get_diff=1" slows those local-git calls.
SENTINEL_LOCAL_GIT_DELAYS = env.str("SENTINEL_LOCAL_GIT_DELAYS", default="")

# --- Analytics (analytics app; docs/analytics.md) ---------------------------------------------
# Raw activity events older than this many days are deleted by the daily clean-up on `bulk`;
# rollups are kept forever.
ANALYTICS_EVENT_RETENTION_DAYS = env.int("ANALYTICS_EVENT_RETENTION_DAYS", default=400)
# Cron (UTC) of the incremental rollup job and of the retention clean-up, both on `bulk`.
ANALYTICS_ROLLUP_CRON = env.str("ANALYTICS_ROLLUP_CRON", default="*/5 * * * *")
ANALYTICS_RETENTION_CRON = env.str("ANALYTICS_RETENTION_CRON", default="41 2 * * *")
# PostgreSQL work_mem of the rollup transactions only (their sorts and hashes stay in memory).
ANALYTICS_ROLLUP_WORK_MEM = env.str("ANALYTICS_ROLLUP_WORK_MEM", default="256MB")
