"""The files of deploy/ are complete and valid: what an operator installs as it is."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from deploy import cluster
from tests.e2e.servers import prepare, production_env, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "gameproject" / "settings.py"


def _settings_variables() -> set[str]:
    """Every variable settings.py reads through django-environ (env.str("NAME", ...) and so on)."""
    return set(re.findall(r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", SETTINGS.read_text()))


def _example_variables() -> set[str]:
    """Variables the example sets or shows commented out with their default."""
    text = cluster.ENV_EXAMPLE.read_text()
    return set(re.findall(r"(?m)^#? ?([A-Z][A-Z0-9_]*)=", text))


def test_the_environment_example_lists_every_variable_of_the_settings() -> None:
    variables = _settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "REDIS_URL"} <= variables
    assert variables - _example_variables() == set()
    assert _example_variables() - variables == set(), "the example lists no unknown variable"


def test_the_example_sets_what_production_requires() -> None:
    required = cluster.example_environment()
    assert required["DEBUG"] == "false"
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"} <= set(required)
    assert required["TRUST_X_FORWARDED_PROTO"] == "true"  # nginx sets X-Forwarded-Proto


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (.ci/run installs it)")
    _, chain, key = cluster.certificate(tmp_path)
    site = tmp_path / "arcade.conf"
    ports = cluster.free_ports(4)
    site.write_text(
        cluster.render_site(ports[:2], ports[2], ports[3], chain, key, tmp_path, tmp_path)
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(cluster.nginx_conf(tmp_path, site))
    checked = cluster.check_nginx(conf, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_the_site_routes_match_sockets_by_match_and_the_rest_by_least_connections() -> None:
    site = cluster.SITE.read_text()
    assert "hash $arcade_match_id consistent;" in site
    assert "least_conn;" in site
    match_location = site[site.index("location /ws/match/") :]
    assert match_location.split("}")[0].strip().endswith("proxy_pass http://arcade_match;")
    for health in ("location = /healthz", "location = /readyz"):
        assert site.count(health) == 2  # on HTTP (for balancers) and on HTTPS
    assert site.count("access_log off;") >= 4


def _unit_seconds(unit: str, name: str) -> float:
    return float(re.search(rf"(?m)^{name}=(\d+)", unit).group(1))  # type: ignore[union-attr]


def test_systemd_gives_a_draining_process_time_to_hand_its_matches_over() -> None:
    unit = (cluster.DEPLOY / "systemd" / "arcade@.service").read_text()
    close_timeout = float(re.search(r"--application-close-timeout (\d+)", unit).group(1))  # type: ignore[union-attr]
    assert _unit_seconds(unit, "TimeoutStopSec") > settings.DRAIN_SECONDS + close_timeout
    assert "Restart=on-failure" in unit
    assert "EnvironmentFile=/etc/arcade/arcade.env" in unit


def test_the_uvicorn_unit_drains_on_sigterm_within_its_stop_timeout() -> None:
    unit = (cluster.DEPLOY / "systemd" / "arcade-uvicorn@.service").read_text()
    command = cluster.unit_command(8001, cluster.DEPLOY / "systemd" / "arcade-uvicorn@.service")
    assert command[1:3] == ["-m", "uvicorn"]
    assert command[command.index("--port") + 1] == "8001"
    # Without the lifespan start-up SIGTERM would close every socket 1012, undrained.
    assert command[command.index("--lifespan") + 1] == "on"
    assert command[command.index("--ws-per-message-deflate") + 1] == "false"
    assert command[command.index("--forwarded-allow-ips") + 1] == "127.0.0.1"
    graceful = float(command[command.index("--timeout-graceful-shutdown") + 1])
    assert _unit_seconds(unit, "TimeoutStopSec") > settings.DRAIN_SECONDS + graceful
    assert "EnvironmentFile=/etc/arcade/arcade.env" in unit


def test_the_unit_starts_daphne_on_the_instance_port_behind_the_proxy() -> None:
    command = cluster.unit_command(8001)
    assert command[1:4] == ["-m", "daphne", "--bind"]
    assert command[command.index("--port") + 1] == "8001"
    assert command[command.index("--proxy-headers-host") + 1] == "X-Real-IP"
    assert command[-1] == "gameproject.asgi:application"


@pytest.mark.parametrize(
    "unit", ["arcade@.service", "arcade-tls.service", "arcade-uvicorn@.service"]
)
def test_systemd_accepts_the_units(tmp_path: Path, unit: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (cluster.DEPLOY / "systemd" / unit).read_text()
    installed = tmp_path / unit.replace("@.", "@8001.")
    installed.write_text(text.replace(cluster.INSTALLED_ROOT, str(ROOT)))
    checked = subprocess.run(
        [analyze, "verify", str(installed)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr


@pytest.mark.slow
def test_the_one_host_unit_serves_https_itself_and_health_over_http(tmp_path: Path) -> None:
    """arcade-tls.service's command line, on free ports with a test certificate."""
    ca, chain, key = cluster.certificate(tmp_path)
    https, http = cluster.free_ports(2)
    command = cluster.unit_command(0, cluster.DEPLOY / "systemd" / "arcade-tls.service")
    command = [
        part.replace("ssl:443:", f"ssl:{https}:interface=127.0.0.1:")
        .replace("/etc/letsencrypt/live/game.example.com/privkey.pem", str(key))
        .replace("/etc/letsencrypt/live/game.example.com/fullchain.pem", str(chain))
        .replace("tcp:80", f"tcp:{http}:interface=127.0.0.1")
        for part in command
    ]
    env = production_env(tmp_path, ALLOWED_HOSTS="localhost", SECURE_SSL_REDIRECT="true")
    prepare(env)
    log = (tmp_path / "daphne.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    assert command[0] == sys.executable
    try:
        wait_for_port(https, process)
        wait_for_port(http, process)
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(f"https://localhost:{https}/", context=context) as page:
            assert page.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=5) as ready:
            assert ready.status == 200  # polled by address, over plain HTTP
        no_redirects = urllib.request.build_opener(_NoRedirect())
        with pytest.raises(urllib.error.HTTPError) as redirected:
            no_redirects.open(f"http://localhost:{http}/", timeout=5)
        assert redirected.value.code == 301
        assert redirected.value.headers["Location"].startswith("https://localhost")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_make_cluster_without_nginx_says_what_to_install(monkeypatch, tmp_path) -> None:
    """Without nginx, and without the root that installing Debian's package needs, make
    cluster stops at once with one line naming the package, not a traceback later."""
    monkeypatch.setattr(cluster.shutil, "which", lambda name: None)
    monkeypatch.setattr(cluster, "DEBIAN_NGINX", tmp_path / "nginx")
    with pytest.raises(SystemExit) as stopped:
        cluster.ensure_nginx()
    assert "apt-get install nginx" in str(stopped.value)
    assert "\n" not in str(stopped.value)
