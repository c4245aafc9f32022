"""Settings for the portal, all from environment variables (see README and .env.example).

With nothing set, the portal runs the demo on embedded defaults: SQLite, the in-memory channel
layer, Celery tasks run in-process and a stand-in IMS core on loopback. DATABASE_URL, REDIS_URL
and IMS_* switch each part to its production counterpart.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    check_redis_url,
    env_address,
    env_bool,
    env_choice,
    env_fernet_key,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_origins,
    env_path,
    env_str,
    env_uris,
    parse_database_url,
)

# Generic Django classes (ModelAdmin[Model], QuerySet[Model]) become subscriptable at runtime.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
_DEMO_SECRET = "demo-only-secret-key-never-use-in-production-" + "x" * 20
SECRET_KEY = env_str("SECRET_KEY", _DEMO_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
if not DEBUG and SECRET_KEY == _DEMO_SECRET:
    raise ImproperlyConfigured("SECRET_KEY is the demo key; set a secret one for production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the portal's host(s) when DEBUG is false")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Seals a block's shared Digest password (a Fernet key); empty: derived from SECRET_KEY. Changing
# either means entering such passwords again.
CREDENTIALS_KEY = env_fernet_key("CREDENTIALS_KEY")
SITE_NAME = env_str("SITE_NAME", "WebRTC IMS portal")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "csp",
    "axes",
    "portal",
    "identity_blocks",
    "ims",
    "help_desk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out log-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
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
                "portal.context_processors.site",
            ],
        },
    },
]

# Databases --------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": parse_database_url("DATABASE_URL", DATABASE_URL).as_django()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: channel layer, cache, Celery broker ----------------------------------------------
REDIS_URL = check_redis_url("REDIS_URL", env_str("REDIS_URL")) if env_str("REDIS_URL") else ""

if REDIS_URL:
    # The pub/sub layer keeps one connection per process; the default layer opens one per
    # consumer and ran out of connections at 2,000 sockets on a 2-core machine.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNELS_PREFIX", "portal")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL) or None
# Without a broker the demo runs tasks in the calling process, so it needs no worker.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "release-due-identities": {"task": "identity_blocks.tasks.release_due_identities", "schedule": 30.0},
    "rest-due-identities": {"task": "identity_blocks.tasks.rest_due_identities", "schedule": 15.0},
    "expire-ended-blocks": {"task": "identity_blocks.tasks.expire_ended_blocks", "schedule": 60.0},
    "finish-stuck-deregistrations": {"task": "identity_blocks.tasks.finish_stuck_deregistrations", "schedule": 30.0},
    "serve-waiting-line": {"task": "identity_blocks.tasks.serve_waiting_line", "schedule": 15.0},
    "expire-rings": {"task": "help_desk.tasks.expire_rings", "schedule": 2.0},
    "offer-waiting-requests-again": {"task": "help_desk.tasks.offer_again", "schedule": 2.0},
    "sweep-help-desk-presence": {"task": "help_desk.tasks.sweep_presence", "schedule": 2.0},
    "end-stranded-direct-calls": {"task": "ims.tasks.end_stranded_direct_calls", "schedule": 15.0},
}

# IMS side (the ims app) ------------------------------------------------------------------
# No outbound proxy means the demo: a stand-in registrar and proxy on loopback.
IMS_OUTBOUND_PROXY = env_str("IMS_OUTBOUND_PROXY")
# The DNS server ("address:port") asked for the proxy's NAPTR, SRV and A records (RFC 3263);
# empty: the system's resolvers. A value that is no address stops the IMS side at start.
IMS_DNS_SERVER = env_str("IMS_DNS_SERVER")
IMS_STANDIN_PORT = env_int("IMS_STANDIN_PORT", 5062, minimum=1, maximum=65535)
# The development stand-in core runs inside the IMS side; never alongside an operator's core.
IMS_STANDIN = env_bool("IMS_STANDIN", DEBUG and not IMS_OUTBOUND_PROXY)
if IMS_STANDIN and IMS_OUTBOUND_PROXY:
    raise ImproperlyConfigured("IMS_STANDIN is a development stand-in; it cannot run with IMS_OUTBOUND_PROXY set")
# Requests are taken only from the outbound proxy's addresses (as DNS names them) and from these
# addresses or networks (an operator's other CSCFs); anyone else is answered 403 and ignored.
IMS_TRUSTED_PEERS = env_networks("IMS_TRUSTED_PEERS")
IMS_LISTEN_HOST = env_str("IMS_LISTEN_HOST", "127.0.0.1")
IMS_LISTEN_PORT = env_int("IMS_LISTEN_PORT", 0, minimum=0, maximum=65535)
IMS_TLS_CA_FILE = env_path("IMS_TLS_CA_FILE")
IMS_TLS_CERT_FILE = env_path("IMS_TLS_CERT_FILE")
IMS_TLS_KEY_FILE = env_path("IMS_TLS_KEY_FILE")
IMS_MAX_MESSAGE_BYTES = env_int("IMS_MAX_MESSAGE_BYTES", 65536, minimum=1024)
# What one identity may start from the communications page, per minute: more is refused and
# recorded for the admin (a leased identity is the operator's bill; help-desk chat has its own limits).
IMS_MESSAGES_PER_MINUTE = env_int("IMS_MESSAGES_PER_MINUTE", 60, minimum=1)
IMS_CALLS_PER_MINUTE = env_int("IMS_CALLS_PER_MINUTE", 10, minimum=1)
# Which media policy sees each call's SDP (ims.media): decided per call (pass-through between the
# portal's own WebRTC clients where the agreement allows, else converted by the media gateway).
IMS_MEDIA_POLICY = env_str("IMS_MEDIA_POLICY", "ims.media.PerCall")
# rtpengine's NG control address ("127.0.0.1:2223"), the media gateway (eIMS-AGW); unset: none,
# so only calls that can pass through are carried and one needing conversion is refused.
IMS_RTPENGINE_NG = env_address("IMS_RTPENGINE_NG")
# How often the IMS side checks that each proxy answers (OPTIONS); when one comes back after an
# outage, every identity behind it registers again, since the core may have lost its bindings.
IMS_KEEPALIVE_SECONDS = env_int("IMS_KEEPALIVE_SECONDS", 15, minimum=1)
# A MESSAGE is sent until the core answers or this deadline passes; then its sender is told it was
# not delivered. The IMS side looks for what is still to send every IMS_MESSAGE_SWEEP_SECONDS.
IMS_MESSAGE_DEADLINE_SECONDS = env_int("IMS_MESSAGE_DEADLINE_SECONDS", 120, minimum=1)
IMS_MESSAGE_SWEEP_SECONDS = env_float("IMS_MESSAGE_SWEEP_SECONDS", 5.0, minimum=0.1)
# The registration lifetime asked for; the registrar may grant less (and is then obeyed).
IMS_REGISTER_EXPIRES = env_int("IMS_REGISTER_EXPIRES", 3600, minimum=60)
# How often the IMS side compares what it has registered with the live assignments in the database
# (the truth): it registers what is missing and de-registers what was released behind its back.
IMS_RECONCILE_SECONDS = env_int("IMS_RECONCILE_SECONDS", 60, minimum=1)
# Several IMS-side processes split the identities: process i of n serves assignment ids ≡ i (mod n).
IMS_SHARD_COUNT = env_int("IMS_SHARD_COUNT", 1, minimum=1)
IMS_SHARD_INDEX = env_int("IMS_SHARD_INDEX", 0, minimum=0, maximum=IMS_SHARD_COUNT - 1)

# ICE servers (portal.turn) --------------------------------------------------------------------
# Handed to each signed-in browser socket, never written into a page. TURN credentials are
# time-limited (coturn's use-auth-secret): TURN_SECRET is coturn's static-auth-secret.
STUN_URLS = env_uris("STUN_URLS", ("stun", "stuns"))
TURN_URLS = env_uris("TURN_URLS", ("turn", "turns"))
TURN_SECRET = env_str("TURN_SECRET")
TURN_CREDENTIAL_SECONDS = env_int("TURN_CREDENTIAL_SECONDS", 3600, minimum=10)
# "relay": browsers use only TURN relay candidates, so neither side learns the other's addresses.
ICE_TRANSPORT_POLICY = env_choice("ICE_TRANSPORT_POLICY", "all", ("all", "relay"))
if TURN_URLS and not TURN_SECRET:
    raise ImproperlyConfigured("TURN_URLS is set but TURN_SECRET is not (coturn's static-auth-secret)")

# Auth, i18n, static ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password guessing (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one user name from one
# address lock that pair out of both log-in pages (the portal's and the admin's) for
# LOGIN_COOLOFF_MINUTES; other users, and that user from elsewhere, still log in. A success resets.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = env_bool("LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "portal.limits.client_address"
AXES_LOCKOUT_CALLABLE = "portal.limits.locked_out"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# English and German, chosen from the browser's Accept-Language (LocaleMiddleware); translations
# in locale/ (compiled .mo files are kept beside their .po sources).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Uploads (a queue's logo). The demo serves them itself (DEBUG); in production the reverse proxy
# serves MEDIA_URL from MEDIA_ROOT, shared by every ASGI process.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# In the demo, serve straight from the source folders so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SPECTACULAR_SETTINGS = {"TITLE": SITE_NAME + " API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False}

# Security -------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
# Every page's scripts are ES modules and its styles one stylesheet, all from /static/: nothing
# inline runs. No page may be framed, except the customer's help pages, which the sites in
# HELP_EMBED_ORIGINS may show in a panel (help_desk.embedding). WebSockets to the portal's own
# host are 'self' (CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# The header a reverse proxy in front puts the browser's address in (X-Real-IP, say); empty: the
# socket's peer. Rate limits and log-in lock-outs count by it, so set it only behind such a proxy.
CLIENT_ADDRESS_HEADER = env_str("CLIENT_ADDRESS_HEADER")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if not SECURE_HSTS_PRELOAD:
        # Opting out of the preload list is a deliberate operator choice, not an oversight.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env_bool("SECURE_PROXY_SSL", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}

# A bare relay consumer used as a baseline by benchmarks and the multi-process test.
RELAY_BASELINE = env_bool("RELAY_BASELINE", False)

# Help desk -------------------------------------------------------------------------------
# How long a request rings one advisor before it goes to the next.
HELP_RING_SECONDS = env_int("HELP_RING_SECONDS", 20, minimum=5)
# An advisor who declined a request or let it ring out is rung for it again after this long.
HELP_RING_COOLDOWN_SECONDS = env_int("HELP_RING_COOLDOWN_SECONDS", 30, minimum=0)
# Rings let run out in a row after which an advisor is set away.
HELP_MISSED_RINGS_AWAY = env_int("HELP_MISSED_RINGS_AWAY", 3, minimum=1)
# An advisor on duty whose last desk closed is set offline after this long (a reload comes back).
HELP_DESK_GRACE_SECONDS = env_int("HELP_DESK_GRACE_SECONDS", 20, minimum=0)
# A request whose help page closed is withdrawn after this long; in a conversation, the advisor
# is told the customer left.
HELP_CUSTOMER_GRACE_SECONDS = env_int("HELP_CUSTOMER_GRACE_SECONDS", 30, minimum=0)
# Starting help holds an IMS identity: per window, starts allowed from one address (an IPv6 /64)
# and from one browser (its guest session, or a member). Over either, the start is answered 429.
HELP_START_WINDOW_SECONDS = env_int("HELP_START_WINDOW_SECONDS", 600, minimum=1)
HELP_START_PER_ADDRESS = env_int("HELP_START_PER_ADDRESS", 20, minimum=1)
HELP_START_PER_CLIENT = env_int("HELP_START_PER_CLIENT", 5, minimum=1)
# Unsecured chat travels as SIP MESSAGE through the IMS core (use case H.6); off, it stays inside.
HELP_CHAT_OVER_IMS = env_bool("HELP_CHAT_OVER_IMS", True)
# What one browser socket may send: frames a second on average, and at once. A frame over the
# limit is answered with an error event and dropped; the socket stays open.
WS_FRAMES_PER_SECOND = env_int("WS_FRAMES_PER_SECOND", 20, minimum=1)
WS_FRAME_BURST = env_int("WS_FRAME_BURST", 60, minimum=1)

# Demo site, embedding, e-mail -------------------------------------------------------------
# The sample tax site at /demo/tax-site/, which embeds the HELP button: the demo's, never production's.
DEMO_SITE = env_bool("DEMO_SITE", DEBUG)
# The sites that may show the customer's help pages in a panel (an iframe): the only frame
# ancestors those pages allow; every other page allows none. The demo's tax site is the portal's
# own page ('self'). A site on another domain gets the help pages' cookies only as SameSite=None.
HELP_EMBED_ORIGINS = env_origins("HELP_EMBED_ORIGINS")
HELP_FRAME_ANCESTORS = ([SELF] if DEMO_SITE else []) + HELP_EMBED_ORIGINS
if HELP_EMBED_ORIGINS and not DEBUG:
    SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None"
# E-mail (transcripts): Django's backends; the demo prints them on the console.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "help@localhost")
# Transcripts one conversation may have e-mailed per hour (each goes to an address she types).
HELP_TRANSCRIPT_MAILS_PER_HOUR = env_int("HELP_TRANSCRIPT_MAILS_PER_HOUR", 3, minimum=1)

# Identity blocks ---------------------------------------------------------------------------
# A guest's ephemeral identity is released this long after its last browser session closed.
IDENTITY_GUEST_GRACE_SECONDS = env_int("IDENTITY_GUEST_GRACE_SECONDS", 300, minimum=0)
# A member's identity is de-registered (kept hers) this long after her last window closed.
IDENTITY_MEMBER_GRACE_SECONDS = env_int("IDENTITY_MEMBER_GRACE_SECONDS", 120, minimum=0)
# Retry-After of a 503 when every identity is taken.
IDENTITY_RETRY_AFTER_SECONDS = env_int("IDENTITY_RETRY_AFTER_SECONDS", 30, minimum=1)
# How long a release waits for the IMS side to confirm de-registration before going ahead.
IDENTITY_DEREGISTER_TIMEOUT_SECONDS = env_int("IDENTITY_DEREGISTER_TIMEOUT_SECONDS", 120, minimum=1)
# Each ASGI process touches its open browser sessions this often; a session not seen for three
# heartbeats (its process killed or crashed) is closed by the sweep below.
IDENTITY_SESSION_HEARTBEAT_SECONDS = env_int("IDENTITY_SESSION_HEARTBEAT_SECONDS", 15, minimum=1)
CELERY_BEAT_SCHEDULE["expire-stale-sessions"] = {
    "task": "identity_blocks.tasks.expire_stale_sessions",
    "schedule": float(IDENTITY_SESSION_HEARTBEAT_SECONDS),
}
