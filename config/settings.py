"""Switchboard settings.

Everything comes from the environment, with embedded defaults that make `make run` work on a
fresh clone: SQLite, the in-memory channel layer, a local-memory cache and eager Celery. Setting
DATABASE_URL and REDIS_URL switches to hosted mode (PostgreSQL, channels-redis, Redis as Celery
broker and cache, separate workers). See README.md for the table of variables.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

SECRET_KEY = env("SECRET_KEY", default="switchboard-embedded-demo-key-change-me-in-hosted-mode")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

INSTALLED_APPS = [
    "daphne",
    "accounts.sites.SwitchboardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rules.apps.AutodiscoverRulesConfig",
    "import_export",
    "django_htmx",
    "accounts",
    "telephony",
    "console",
    "recordings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TenantScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded demo has one web process plus the link thread writing call records.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Tests too: a file, not shared-cache memory, whose table locks fail at once instead of
    # waiting when the link thread and a request write together.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Rights come only from accounts/rules.py; the password backend grants no permissions.
    "rules.permissions.ObjectPermissionBackend",
    "accounts.backends.PasswordOnlyBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/admin/login/"
# Messages in the session, not a cookie: an API key is shown once in a message.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Redis: channel layer, cache (shared live state), Celery broker --------------------------
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNEL_PREFIX", default="asgi")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_PREFIX", default="sb"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Embedded mode: no broker, tasks run in the calling process (the link lives there too).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Telephony ----------------------------------------------------------------------------
# Seconds a worker's lease on a PBX link lives without renewal before another worker takes it.
AMI_LEASE_SECONDS = env.int("AMI_LEASE_SECONDS", default=10)
# Embedded mode runs the AMI links inside the web process (make run); hosted mode leaves them
# to `celery worker -Q ami`.
AMI_EMBEDDED_LINKS = env.bool("AMI_EMBEDDED_LINKS", default=not REDIS_URL)
# Seconds between snapshots of a live link: picks up users added since, repairs missed events.
AMI_RECONCILE_SECONDS = env.float("AMI_RECONCILE_SECONDS", default=300.0)
# Seconds an operation waits for the PBX before answering "PBX not connected / timed out".
AMI_ACTION_TIMEOUT = env.float("AMI_ACTION_TIMEOUT", default=8.0)

# The dialplan the operations rely on (docs/asterisk/): names must match the PBX's config.
SWITCHBOARD_DEFAULT_CONTEXT = env("SWITCHBOARD_DEFAULT_CONTEXT", default="internal")
SWITCHBOARD_OUTBOUND_PREFIX = env("SWITCHBOARD_OUTBOUND_PREFIX", default="9")
SWITCHBOARD_PARKING_LOT = env("SWITCHBOARD_PARKING_LOT", default="default")
SWITCHBOARD_HOLD_LOT = env("SWITCHBOARD_HOLD_LOT", default="default")
SWITCHBOARD_INTERCOM_CONTEXT = env("SWITCHBOARD_INTERCOM_CONTEXT", default="switchboard-intercom")
SWITCHBOARD_IVR_EXTEN = env("SWITCHBOARD_IVR_EXTEN", default="7000")
# Seconds an Originate waits for the first phone to answer (its OriginateResponse).
SWITCHBOARD_ORIGINATE_TIMEOUT = env.float("SWITCHBOARD_ORIGINATE_TIMEOUT", default=35.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
