"""daphne alone serves the whole site under production settings: pages, static files, API."""

import re
import urllib.request

import pytest

from tests.e2e.servers import daphne, prepare, production_env


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    env = production_env(tmp)
    prepare(env)
    with daphne(env) as port:
        yield f"http://127.0.0.1:{port}"


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_home_page_is_served_with_security_headers(site):
    status, headers, body = fetch(f"{site}/")
    assert status == 200 and b"Play as guest" in body
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_pages_carry_a_content_security_policy_and_a_permissions_policy(site):
    for path in ("/", "/login/", "/admin/login/", "/api/games/"):
        _, headers, _ = fetch(f"{site}{path}")
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp + ";" and "unsafe" not in csp, path
        assert "connect-src 'self' wss://127.0.0.1 wss://localhost" in csp, path
        assert "camera=()" in headers["Permissions-Policy"], path


def test_static_files_are_served_hashed_with_long_cache_headers(site):
    _, _, body = fetch(f"{site}/")
    stylesheet = re.search(rb'href="(/static/frontend/css/site\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, "the page links the hashed stylesheet from collectstatic"
    status, headers, css = fetch(site + stylesheet.group(1).decode())
    assert status == 200 and b"--accent" in css
    assert "immutable" in headers["Cache-Control"]


def test_the_json_api_is_served(site):
    status, _, body = fetch(f"{site}/api/games/")
    assert status == 200 and b'"connect_four"' in body


def test_the_admin_login_page_is_served(site):
    status, _, body = fetch(f"{site}/admin/login/")
    assert status == 200 and b"Game server admin" in body
