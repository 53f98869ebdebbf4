"""Configuration from the environment: production refuses to start unsafe, defaults run anywhere.

Each case starts a fresh `manage.py` process with a controlled environment,
because settings are read once per process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k" * 10 + "Zq8#vX2$mP9@wL4!nR7&tY1*bH6^cJ3%dF5(gS0)eA" + "u" * 8
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "game.example.com"}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _CONFIG_VARS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "gameproject.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


_CONFIG_VARS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "DJANGO_SETTINGS_MODULE",
    "AXES_ENABLED",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_MINUTES",
    "API_MAX_BODY_BYTES",
    "API_MAX_JSON_DEPTH",
}


def settings_value(expression: str, **env: str):
    code = f"import json; from django.conf import settings; print(json.dumps({expression}))"
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_pass_check_deploy_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (None, "missing"),
        ("short-key", "too short"),
        ("django-insecure-" + "x" * 60, "placeholder"),
        ("a" * 60, "not varied"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret_key(key, why):
    env = {**PRODUCTION}
    env.pop("SECRET_KEY")
    if key is not None:
        env["SECRET_KEY"] = key
    result = manage("check", **env)
    assert result.returncode != 0, why
    assert "SECRET_KEY must be set" in result.stderr


def test_a_command_without_configuration_says_so_in_words():
    # A newcomer's first `manage.py` command without DEBUG or a SECRET_KEY.
    result = manage("check")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("manage.py: SECRET_KEY must be set")
    assert "DEBUG=true" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    env = {**PRODUCTION}
    env.pop("ALLOWED_HOSTS")
    result = manage("check", **env)
    assert result.returncode != 0 and "ALLOWED_HOSTS must list" in result.stderr


def test_production_turns_on_https_protections():
    values = settings_value(
        "[settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE, "
        "settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS]",
        **PRODUCTION,
    )
    assert values == [True, True, True, 31_536_000]


def test_laptop_defaults_are_sqlite_and_the_in_memory_layer():
    engine, layer = settings_value(
        "[settings.DATABASES['default']['ENGINE'], settings.CHANNEL_LAYERS['default']['BACKEND']]",
        DEBUG="true",
    )
    assert engine == "django.db.backends.sqlite3"
    assert layer == "channels.layers.InMemoryChannelLayer"


def test_redis_url_selects_the_redis_layer_with_a_socket_timeout():
    layer = settings_value(
        "settings.CHANNEL_LAYERS['default']", DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/3"
    )
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    host = layer["CONFIG"]["hosts"][0]
    assert host["address"] == "redis://127.0.0.1:6379/3"
    # Above the layer's 5 s BZPOPMIN, so redis-py 8 does not time out idle receives.
    assert host["socket_timeout"] > 5


def test_database_url_selects_postgresql_with_a_pool_and_no_persistent_connections():
    db = settings_value(
        "settings.DATABASES['default']",
        DEBUG="true",
        DATABASE_URL="postgres://game:secret@db.internal:5432/game",
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["NAME"], db["USER"]) == ("db.internal", "game", "game")
    assert db["CONN_MAX_AGE"] == 0 and db["OPTIONS"]["pool"]["max_size"] == 10


def test_csrf_trusted_origins_and_hosts_are_lists():
    hosts, origins = settings_value(
        "[settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS]",
        **{**PRODUCTION, "ALLOWED_HOSTS": "a.example,b.example"},
        CSRF_TRUSTED_ORIGINS="https://a.example,https://b.example",
    )
    assert hosts == ["a.example", "b.example"]
    assert origins == ["https://a.example", "https://b.example"]


def test_production_sends_a_content_security_policy_and_a_permissions_policy():
    csp, permissions, middleware = settings_value(
        "[settings.CONTENT_SECURITY_POLICY['DIRECTIVES'], settings.PERMISSIONS_POLICY, "
        "settings.MIDDLEWARE]",
        **{**PRODUCTION, "ALLOWED_HOSTS": "game.example.com,.example.org"},
    )
    assert "csp.middleware.CSPMiddleware" in middleware
    assert "django_permissions_policy.PermissionsPolicyMiddleware" in middleware
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == [
        "'self'",
        "wss://game.example.com",
        "wss://example.org",
        "wss://*.example.org",
    ]
    assert permissions["camera"] == [] and permissions["microphone"] == []


def test_login_throttling_defaults_and_environment():
    defaults = settings_value(
        "[settings.AXES_ENABLED, settings.AXES_FAILURE_LIMIT, "
        "settings.AXES_COOLOFF_TIME.total_seconds(), settings.AXES_LOCKOUT_PARAMETERS, "
        "settings.AUTHENTICATION_BACKENDS[0]]",
        **PRODUCTION,
    )
    assert defaults == [
        True,
        5,
        900.0,
        [["username", "ip_address"]],
        "axes.backends.AxesStandaloneBackend",
    ]
    configured = settings_value(
        "[settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds()]",
        **PRODUCTION,
        AXES_FAILURE_LIMIT="3",
        AXES_COOLOFF_MINUTES="2.5",
    )
    assert configured == [3, 150.0]


def test_api_body_limits_default_and_environment():
    assert settings_value(
        "[settings.API_MAX_BODY_BYTES, settings.API_MAX_JSON_DEPTH]", **PRODUCTION
    ) == [16_384, 32]
    assert settings_value(
        "[settings.API_MAX_BODY_BYTES, settings.API_MAX_JSON_DEPTH]",
        **PRODUCTION,
        API_MAX_BODY_BYTES="1000",
        API_MAX_JSON_DEPTH="8",
    ) == [1000, 8]
