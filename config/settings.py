"""Django settings, all from the environment (see README, "Settings")."""

from __future__ import annotations

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import BASE_DIR, env_bool, env_int, env_list, env_str

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or ("dev-only-insecure-key" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Set SECRET_KEY, or DEBUG=1 for development: `cp .env.example .env` (make serve does it on first use)."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",  # HTTP and database metrics on /metrics (with speech.metrics)
    "accounts",
    "synthesis",
    "voices",
    "streaming",
    "playground",  # the web playground at /playground (static page, public API only)
]

MIDDLEWARE = [
    "config.middleware.ServedByMiddleware",  # X-Served-By: CSM_SERVER_NAME, when set
    "django.middleware.security.SecurityMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
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
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=0)
}
# django-prometheus's backends are Django's own, counting connections, queries, their errors and durations.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace("django.db.", "django_prometheus.db.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Dependencies fail: a database that is refused, or accepts but never answers, fails a request in seconds (503).
DB_CONNECT_TIMEOUT = env_int("CSM_DB_CONNECT_TIMEOUT", 5)  # seconds
DB_STATEMENT_TIMEOUT_MS = env_int("CSM_DB_STATEMENT_TIMEOUT_MS", 30_000)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        connect_timeout=DB_CONNECT_TIMEOUT, options=f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
    )

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # channels_redis waits for messages with BZPOPMIN blocking up to 5 s (RedisChannelLayer.brpop_timeout);
    # redis-py 8 gives every read a 5 s socket timeout by default, which cut those waits and closed every
    # WebSocket with 1011 after 5 s. Reads may take the block plus a margin; connecting must be quick.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},  # throttling fails open after these
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the pages' HTML, CSS and ES modules (static/landing/, ...)
MEDIA_URL = "media/"
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "media"))
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    # S3-compatible media (django-storages; the `production` extra). Credentials: AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or whatever else boto3 finds (an instance role). Files are private: the admin's links
    # are presigned URLs, and clients read clips through /v1/audio/ (its own signed URLs).
    STORAGES = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None  # MinIO, Ceph, R2, ...; unset for AWS itself
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
    AWS_LOCATION = env_str("AWS_LOCATION")  # a folder inside the bucket for everything the server stores
    AWS_DEFAULT_ACL = None  # the bucket's own policy (private)
    AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 3600)
    AWS_S3_FILE_OVERWRITE = False  # a name already taken gets a suffix, as in a local folder
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024  # base64 voice samples in JSON bodies
FILE_UPLOAD_MAX_MEMORY_SIZE = 11 * 1024 * 1024
# The HTTP server (config.server): seconds a request's line and headers, then its body, may take to arrive.
CSM_HEADER_TIMEOUT = env_int("CSM_HEADER_TIMEOUT", 10)
CSM_BODY_TIMEOUT = env_int("CSM_BODY_TIMEOUT", 60)

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.authentication.ApiKeyRequired"],
    "UNAUTHENTICATED_USER": None,
    # Proxies in front of the server whose X-Forwarded-For is trusted (0: the client's own address).
    "NUM_PROXIES": env_int("CSM_NUM_PROXIES", 0),
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.AnyAcceptNegotiation",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",  # refuses JSON nested too deep with 400
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "csm-voice-api",
    "DESCRIPTION": "OpenAI-compatible speech with voice cloning on Sesame CSM-1B.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# The speech engine.
CSM_MODEL = env_str("CSM_MODEL", "sesame/csm-1b")
HF_TOKEN = env_str("HF_TOKEN") or None
CSM_DEVICE = env_str("CSM_DEVICE", "auto")
CSM_DTYPE = env_str("CSM_DTYPE", "auto")
CSM_MAX_QUEUE = env_int("CSM_MAX_QUEUE", 16)
CSM_MAX_BATCH = env_int("CSM_MAX_BATCH", 8)
CSM_STREAM_CHUNK_FRAMES = env_int("CSM_STREAM_CHUNK_FRAMES", 1)
CSM_COMPILE = env_bool("CSM_COMPILE", False)
CSM_CUDA_GRAPHS = env_bool("CSM_CUDA_GRAPHS", True)  # replay each frame's steps as CUDA graphs (CUDA only)
CSM_PREFIX_CACHE_MB = env_int("CSM_PREFIX_CACHE_MB", 512)  # voices' context KV kept on the model's device; 0: off
CSM_CLIP_RETENTION_DAYS = env_int("CSM_CLIP_RETENTION_DAYS", 7)
CSM_SESSION_TTL_SECONDS = env_int("CSM_SESSION_TTL_SECONDS", 3600)
# Housekeeping in the server process (config/housekeeping.py): every so many seconds (0: off, e.g. for cron),
# expired sessions and clips are deleted, and media files no row refers to once they are this old.
CSM_HOUSEKEEPING_INTERVAL_SECONDS = env_int("CSM_HOUSEKEEPING_INTERVAL_SECONDS", 300)
CSM_ORPHAN_FILE_AGE_SECONDS = env_int("CSM_ORPHAN_FILE_AGE_SECONDS", 86_400)
# Names this process in an X-Served-By response header (one name per replica; unset: no header).
CSM_SERVER_NAME = env_str("CSM_SERVER_NAME")
# What one request may hold: its audio (all pieces or segments together), a session's text waiting to be
# spoken, and the streams (streamed responses and WebSockets) one key may have open at once in a process.
CSM_MAX_AUDIO_SECONDS = env_int("CSM_MAX_AUDIO_SECONDS", 420)
CSM_MAX_SESSION_TEXT_CHARS = env_int("CSM_MAX_SESSION_TEXT_CHARS", 16_384)
CSM_MAX_STREAMS_PER_KEY = env_int("CSM_MAX_STREAMS_PER_KEY", 4)

# Keys, voices and access.
CSM_REQUIRE_API_KEY = env_bool("CSM_REQUIRE_API_KEY", not DEBUG)  # off for local development, on in production
CSM_METRICS_KEY = env_str("CSM_METRICS_KEY")  # when set, GET /metrics needs `Authorization: Bearer <it>`
CSM_RATE_LIMIT = env_str("CSM_RATE_LIMIT", "" if DEBUG else "60/min")  # synthesis requests per key; empty: no limit
CSM_DEFAULT_VOICE = env_str("CSM_DEFAULT_VOICE")  # a saved voice id or name for unmapped built-in names
CSM_AUDIO_URL_TTL = env_int("CSM_AUDIO_URL_TTL", 3600)  # seconds a signed /v1/audio/<file> URL stays valid

# Content Credentials (C2PA, see docs/provenance.md): a PEM certificate chain and its private key. Without them
# a development certificate is made on first use and kept in media (c2pa/), flagged in /health and the admin.
CSM_C2PA_CERT = env_str("CSM_C2PA_CERT")
CSM_C2PA_KEY = env_str("CSM_C2PA_KEY")
CSM_C2PA_VOICE_IDS = env_bool("CSM_C2PA_VOICE_IDS", False)  # put the voice's and consent's ids in manifests
