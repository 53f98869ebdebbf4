"""Browser tests: headless Chromium (Debian's, via Playwright) against daphne serving
HTTPS and WSS through its TLS endpoint with a certificate made at test time, on Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.e2e.servers import ROOT, daphne, prepare, production_env, unique_prefix

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def site_env(tmp_path_factory, redis_url) -> dict[str, str]:
    """The environment the module's site runs with (its database among it), for tests
    that act on the server's side directly (`site_shell`)."""
    tmp = tmp_path_factory.mktemp("tls-site")
    prefix = unique_prefix("browser")
    return production_env(
        tmp,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        CHANNEL_LAYER_PREFIX=prefix,
        SECURE_SSL_REDIRECT="false",  # everything is HTTPS already
        MATCH_RECONNECT_GRACE_SECONDS="30",
        # Two people play arena (2-8) after a second, not after the default wait for more.
        MATCHMAKING_FILL_SECONDS="1",
    )


@pytest.fixture(scope="module")
def tls_site(site_env, redis_url) -> Iterator[str]:
    tmp = Path(site_env["STATIC_ROOT"]).parent
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1", "localhost")
    key_file, cert_file = tmp / "key.pem", tmp / "cert.pem"
    cert.private_key_pem.write_to_path(key_file)
    cert.cert_chain_pems[0].write_to_path(cert_file)
    prepare(site_env)
    try:
        with daphne(site_env, tls=(key_file, cert_file)) as port:
            yield f"https://127.0.0.1:{port}"
    finally:
        _delete_keys(redis_url, site_env["REDIS_PREFIX"])


def site_shell(env: dict[str, str], code: str) -> str:
    """Run Python `code` in Django against the site's database (`manage.py shell -c`);
    what it printed."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _delete_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"):
            raise RuntimeError(f"Chromium is not installed at {CHROMIUM}")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, tls_site):
    """Open a page in a fresh browser context (its own cookies: its own person)."""
    contexts = []

    def make(path: str = "/", base: str | None = None):
        context = browser.new_context(
            ignore_https_errors=True, viewport={"width": 1280, "height": 860}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto((base or tls_site) + path)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
