"""All configuration of the game server, read from the environment.

Defaults run on a laptop with nothing set: a SQLite file and Channels' in-memory
channel layer. Production (DEBUG off) refuses to start without a strong
SECRET_KEY and explicit ALLOWED_HOSTS, and turns on every HTTPS protection that
`manage.py check --deploy` looks for. The README lists every variable.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets typed code subscript Django's generic classes (ModelAdmin[Player]) at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is a convenience for development; real deployments set the
# environment (systemd EnvironmentFile, container env) and need no file.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# --- Secrets -----------------------------------------------------------------

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"


def _secret_key() -> str:
    key: str = env.str("SECRET_KEY", default="")
    if DEBUG:
        return key or _DEV_SECRET_KEY
    # Same bar as Django's security.W009: long, varied and not a placeholder.
    if len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG "
            "is off. Generate one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(64))'"
        )
    return key


SECRET_KEY = _secret_key()

# --- Hosts ---------------------------------------------------------------------

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must list the host names the site is served under when DEBUG is off "
        "(comma-separated, for example ALLOWED_HOSTS=game.example.com)."
    )
# WebSocket handshakes are checked against ALLOWED_HOSTS too (see gameproject/asgi.py).
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications --------------------------------------------------------------

INSTALLED_APPS = [
    # daphne first: its runserver serves HTTP and WebSocket from one ASGI process.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    # Login throttling: counts failed logins per username and client address.
    "axes",
    "csp",
    "games",
    "frontend",
]

MIDDLEWARE = [
    # /healthz and /readyz first: polled by address and over plain HTTP (gameproject/health.py).
    "gameproject.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # ServeStatic serves /static/ itself, asynchronously under ASGI, so daphne
    # alone can serve the whole site; nginx takes over in the production layout.
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a login refused for a locked-out client
    # into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gameproject.urls"
ASGI_APPLICATION = "gameproject.asgi.application"

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

# --- Database ------------------------------------------------------------------


def _database() -> dict[str, Any]:
    config: dict[str, Any] = env.db_url(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
    # Under ASGI persistent connections leak across the sync thread's reuse, so
    # Django's guidance is CONN_MAX_AGE=0 plus the driver's own pool.
    config["CONN_MAX_AGE"] = 0
    if config["ENGINE"] == "django.db.backends.postgresql":
        # An unreachable database fails a query within seconds instead of hanging a
        # handshake (answered 4013) or a match's end (retried until stored).
        config.setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", 3)
        )
    if config["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", True):
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", 1),
            "max_size": env.int("DATABASE_POOL_MAX", 10),
            # How long a query waits for a pooled connection (psycopg's default is 30 s).
            "timeout": env.float("DATABASE_POOL_TIMEOUT", 3.0),
        }
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the page views read while a match result is being written.
        config.setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
        config["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer ---------------------------------------------------------------

REDIS_URL: str = env.str("REDIS_URL", default="")
# redis-py's pools refuse a command outright when all their connections are busy
# (100 by default), and a reconnect storm (every player of a drained process at
# once) easily has more commands in flight. The channel layers' pools may open this
# many connections per process before a send fails; the pool for the server's own
# keys opens REDIS_MAX_CONNECTIONS and makes further commands wait for a free one.
CHANNEL_LAYER_MAX_CONNECTIONS: int = env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=500)
REDIS_MAX_CONNECTIONS: int = env.int("REDIS_MAX_CONNECTIONS", default=100)


def _channel_layers() -> dict[str, Any]:
    if not REDIS_URL:
        # One process, no Redis: fine on a laptop, wrong for several processes.
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_layer_host()],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=200),
                # channels-redis keeps the messages for all sockets of one process in
                # one list, so that list needs room for a burst to every socket of the
                # process at once (the players of many matches joining together).
                "channel_capacity": {
                    "specific.*": env.int("CHANNEL_LAYER_PROCESS_CAPACITY", default=5000)
                },
                "expiry": 60,
                # Must outlive daphne's --websocket_timeout (see docs/deployment.md).
                "group_expiry": 21600,
            },
        },
        # Per-tick traffic between processes (states to other processes' sockets,
        # inputs to a runner elsewhere) goes over Redis pub/sub on a connection of
        # each process's own (games/runtime/fanout.py), not through a channel layer.
    }


def _layer_host() -> dict[str, Any]:
    # redis-py 8 defaults socket_timeout to 5 s, the same as the core layer's
    # BZPOPMIN timeout, so an idle receive would raise.
    return {
        "address": REDIS_URL,
        "socket_timeout": 10,
        "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
    }


CHANNEL_LAYERS = _channel_layers()
# Prefix of the game server's own Redis keys (tickets, match leases).
REDIS_PREFIX: str = env.str("REDIS_PREFIX", default="arcade")

# --- Match runtime -----------------------------------------------------------------

# Seconds a disconnected player keeps their seat; unset: each game's own default (30 s).
MATCH_RECONNECT_GRACE_SECONDS: float | None = env.float("MATCH_RECONNECT_GRACE_SECONDS", None)
# Seconds of "3, 2, 1, GO" before a match's first tick; unset: each game's own (arena 3 s,
# Connect Four none).
MATCH_COUNTDOWN_SECONDS: float | None = env.float("MATCH_COUNTDOWN_SECONDS", None)
# Lifetime of a match lease in Redis; the owner renews it every third of that. A process
# killed or crashed is seen dead at once (Redis drops its connection) and its matches are
# adopted within two looks of the watchdog; the lease bounds what Redis cannot see (a host
# lost without closing its connections, a Redis that refuses CLIENT LIST): adopted within
# about this long plus a look. A slow process keeps its leases for this long.
MATCH_LEASE_SECONDS: float = env.float("MATCH_LEASE_SECONDS", 3.0)
# How often a process with sockets looks for dead runners of the matches its sockets are
# in: one MGET of their leases and one CLIENT LIST TYPE pubsub (a line per server process)
# per look.
MATCH_WATCHDOG_SECONDS: float = env.float("MATCH_WATCHDOG_SECONDS", 0.25)
# Presence: each process republishes its sockets this often; a dead process's sockets
# disappear from presence within the TTL.
PRESENCE_HEARTBEAT_SECONDS: float = env.float("PRESENCE_HEARTBEAT_SECONDS", 5.0)
PRESENCE_TTL_SECONDS: float = env.float("PRESENCE_TTL_SECONDS", 15.0)
# Match chat is stored as evidence for reports; `manage.py prune_chat` deletes older lines.
CHAT_RETENTION_DAYS: int = env.int("CHAT_RETENTION_DAYS", 30)
# On SIGTERM a daphne process hands its matches over and closes its sockets within this long.
DRAIN_SECONDS: float = env.float("DRAIN_SECONDS", 10.0)
# A slow reader's bound: a socket whose client acknowledges states (every client of
# ours does) gets no more states while this many are unacknowledged; it resumes,
# from a full state or a delta, once it catches up. 40 states are 2 s of arena.
MAX_UNACKED_STATES: int = env.int("MAX_UNACKED_STATES", 40)
# Any reader's bound: a socket with more than this many bytes queued in the server and
# not yet written (its client reads too slowly, or not at all) is closed with 4011.
# 256 KiB is about 30 s of a 2-player arena's JSON states, 2 s of a full match's.
MAX_SOCKET_BACKLOG_BYTES: int = env.int("MAX_SOCKET_BACKLOG_BYTES", 256 * 1024)
# Lag compensation: a shot is judged against where the shooter saw its target, at most
# this many milliseconds in the past (a client claiming more gets this). 0 switches it
# off; the arena keeps 500 ms of positions, so more cannot be set.
LAG_COMPENSATION_MS: int = env.int("LAG_COMPENSATION_MS", 250)
if not 0 <= LAG_COMPENSATION_MS <= 500:
    raise ImproperlyConfigured(
        f"LAG_COMPENSATION_MS must be from 0 to 500 (milliseconds), not {LAG_COMPENSATION_MS}."
    )

# --- Connection caps (per process; 0 switches a cap off) --------------------------------

# Open sockets (match and lobby) per signed-in user: a few tabs, each with its lobby
# and a match or two, fit well under this.
MAX_SOCKETS_PER_PLAYER: int = env.int("MAX_SOCKETS_PER_PLAYER", 16)
# Open sockets per client address (behind a proxy, the address it reports): a NAT'd
# LAN party or a school of 40 players with a lobby and a match each fits.
MAX_SOCKETS_PER_IP: int = env.int("MAX_SOCKETS_PER_IP", 100)
# Lobby sockets without a session per address: people browsing before they sign in.
MAX_ANONYMOUS_LOBBY_SOCKETS_PER_IP: int = env.int("MAX_ANONYMOUS_LOBBY_SOCKETS_PER_IP", 20)

# --- Metrics -------------------------------------------------------------------------

# Each daphne process serves Prometheus metrics (games/runtime/metrics.py) on a port of its own
# when this is set (0: off). Loopback by default: for the host's scraper only. With
# several processes on one host, give each its own port (METRICS_PORT in its unit).
METRICS_PORT: int = env.int("METRICS_PORT", 0)
METRICS_ADDRESS: str = env.str("METRICS_ADDRESS", "127.0.0.1")

# --- Matchmaking ---------------------------------------------------------------------

# "Play now" pairs players whose ratings (openskill mu; a new player has 25) differ by at
# most a window: BASE at first, growing by GROWTH per second the oldest of them has
# waited, up to MAX. With the defaults two newcomers meet at once, a gap of 10 is bridged
# after 16 s, and after 46 s nearly anyone plays anyone rather than nobody.
MATCHMAKING_WINDOW_BASE: float = env.float("MATCHMAKING_WINDOW_BASE", 2.0)
MATCHMAKING_WINDOW_GROWTH: float = env.float("MATCHMAKING_WINDOW_GROWTH", 0.5)
MATCHMAKING_WINDOW_MAX: float = env.float("MATCHMAKING_WINDOW_MAX", 25.0)
# Games for 2-8 (arena) wait for a full group; once the oldest player has waited this
# long, they start with everyone in the window, if that is at least the game's minimum.
MATCHMAKING_FILL_SECONDS: float = env.float("MATCHMAKING_FILL_SECONDS", 10.0)
# A player alone in the queue this long gets a match with bots (a game's minimum of
# seats, at least one bot; unrated), so nobody waits alone for ever. 0 turns it off.
MATCHMAKING_BOT_FILL_SECONDS: float = env.float("MATCHMAKING_BOT_FILL_SECONDS", 10.0)
# How often a process with queued players tries to form groups (and renews their entries).
MATCHMAKING_INTERVAL_SECONDS: float = env.float("MATCHMAKING_INTERVAL_SECONDS", 0.5)
# A queue entry whose process stops renewing it (killed, stalled) is dropped after this.
MATCHMAKING_TTL_SECONDS: float = env.float("MATCHMAKING_TTL_SECONDS", 15.0)
# Players taken into a group whose match was never confirmed (the matching process died
# meanwhile) go back to the queue after this long.
MATCHMAKING_CLAIM_SECONDS: float = env.float("MATCHMAKING_CLAIM_SECONDS", 30.0)

# --- Auth ----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The axes backend comes first: it refuses a locked-out username and address
# before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Login throttling (django-axes), on the site's login and the admin's alike: after
# AXES_FAILURE_LIMIT failed logins for one username from one client address, that
# pair is refused (even with the right password) for AXES_COOLOFF_MINUTES, and every
# further attempt during the lockout restarts it. Other addresses can still log in
# as that user, so an attacker cannot lock a player out from everywhere.
AXES_ENABLED: bool = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT: int = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
# The login page again, with the lockout in words, instead of a bare text response.
AXES_LOCKOUT_CALLABLE = "frontend.lockout.lockout_response"
# The client address is REMOTE_ADDR, which daphne sets from the connection, or from
# the proxy's header with --proxy-headers (docs/deployment.md). Reading
# X-Forwarded-For here instead would let any client pick its own address.
AXES_CLIENT_IP_CALLABLE = "frontend.lockout.client_ip"
# One row per successful login (every new guest is one) would grow without bound;
# failed attempts are still stored, and shown in the admin.
AXES_DISABLE_ACCESS_LOG = True

# --- Internationalisation ------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed copies made by collectstatic; long cache headers are safe.
        "BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage",
    },
}

# --- HTTPS and cookies (production unless DEBUG) -----------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Only behind a proxy that sets X-Forwarded-Proto itself (nginx in docs/deployment.md);
# trusting the header without one lets any client claim to be on HTTPS.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CSRF_FAILURE_VIEW = "games.views.csrf_failure"

# --- JSON API ----------------------------------------------------------------------

# Request bodies of the JSON API are small (the largest is a match's settings): a larger
# body is refused 413 before it is read, a more deeply nested one 400 before it is
# decoded (a decoder recurses once per level).
API_MAX_BODY_BYTES: int = env.int("API_MAX_BODY_BYTES", default=16_384)
API_MAX_JSON_DEPTH: int = env.int("API_MAX_JSON_DEPTH", default=32)

# --- Content-Security-Policy and Permissions-Policy -----------------------------------

# Every script, style and image comes from our own static files; no page has an inline
# script, style attribute or event handler (the admin's pages have none either). The
# game's sockets go to the page's own host: 'self' matches ws: and wss: on the page's
# own origin in CSP Level 3 browsers, the explicit wss:// entries cover older ones.
# On in DEBUG too, so a page that breaks the policy shows it in development.


def _socket_sources() -> list[str]:
    """wss:// sources for the hosts the site is served under (".example.com": itself and below)."""
    sources = []
    for host in ALLOWED_HOSTS:
        # "*" allows any host, and CSP has no syntax for IPv6 literals: 'self' covers both.
        if host == "*" or host.startswith("["):
            continue
        if host.startswith("."):
            sources += [f"wss://{host[1:]}", f"wss://*{host}"]
        else:
            sources.append(f"wss://{host}")
    return sources


def _content_security_policy() -> dict[str, Any]:
    sockets = _socket_sources()
    return {
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "style-src": ["'self'"],
            # data: is the page's empty favicon (base.html); the admin's icons are SVG files.
            "img-src": ["'self'", "data:"],
            "connect-src": ["'self'", *sockets],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }
    }


CONTENT_SECURITY_POLICY = _content_security_policy()
# Powerful browser features no page of ours uses stay off, also for anything embedded.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- Logging -------------------------------------------------------------------

# "plain" (the default): one readable line per event. "json": one JSON object per line,
# with the event's match, player, seat, channel and close code as keys (gameproject/logs.py).
LOG_FORMAT: str = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"skip_health_checks": {"()": "gameproject.logs.SkipHealthChecks"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "gameproject.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django-axes logs every login at INFO (each new guest is one); failures and
        # lockouts are warnings and still show.
        "axes": {"level": "WARNING"},
        # Django's default configuration gives its loggers a console handler of their own
        # under DEBUG, and they propagate to the root's too: every 4xx warning ("Not Found:
        # /api/...") was printed twice. One handler for everything: the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # daphne's development server logs every request here; not the health checks,
        # polled every second (in production daphne's access log is off: nginx logs).
        "django.channels.server": {"filters": ["skip_health_checks"]},
        # uvicorn's own lines (start-up, errors) in the same format as the rest. Not
        # "uvicorn": configuring it would reset its child "uvicorn.access", which is
        # left to uvicorn's --access-log/--no-access-log flags.
        "uvicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
