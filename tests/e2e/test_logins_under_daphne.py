"""Login throttling under daphne behind a proxy: the lockout follows the address the proxy
reports (--proxy-headers), and the async request path shows the lockout page."""

from __future__ import annotations

import http.cookiejar
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.e2e.servers import ROOT, daphne, prepare, production_env

PASSWORD = "operator-pass-under-daphne-42"
LOCKED = b"Too many failed logins for this username from your address"
LIMIT = 3


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("logins")
    # Plain HTTP on loopback, so the cookies may not be Secure-only here.
    env = production_env(
        tmp,
        AXES_FAILURE_LIMIT=str(LIMIT),
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )
    prepare(env)
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput"],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SUPERUSER_USERNAME": "operator",
            "DJANGO_SUPERUSER_EMAIL": "op@example.com",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        },
        check=True,
        timeout=60,
    )
    # As behind nginx (docs/deployment.md): the client address comes from X-Real-IP.
    with daphne(env, "--proxy-headers", "--proxy-headers-host", "X-Real-IP") as port:
        yield f"http://127.0.0.1:{port}"


def log_in(site: str, path: str, password: str, address: str) -> tuple[int, bytes]:
    """One login through the form, from a fresh browser at `address` (as the proxy says)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirects())
    headers = {"X-Real-IP": address}
    opener.open(urllib.request.Request(site + path, headers=headers), timeout=10).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = {"csrfmiddlewaretoken": token, "username": "operator", "password": password}
    request = urllib.request.Request(
        site + path, data=urllib.parse.urlencode(form).encode(), headers=headers
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_the_lockout_follows_the_address_the_proxy_reports(site):
    attacker, operator = "203.0.113.7", "198.51.100.20"
    for _ in range(LIMIT - 1):
        assert log_in(site, "/admin/login/", "wrong", attacker)[0] == 200
    status, page = log_in(site, "/admin/login/", "wrong", attacker)
    assert status == 429 and LOCKED in page
    status, page = log_in(site, "/login/", PASSWORD, attacker)
    assert status == 429 and LOCKED in page  # the right password, still refused
    # The operator, at another address behind the same proxy, is not locked out.
    assert log_in(site, "/admin/login/", PASSWORD, operator)[0] == 302
