"""The pages run under the production Content-Security-Policy: nothing is refused.

Chromium reports every blocked script, style, image or connection as a
`securitypolicyviolation` event and a console error; both are collected from the
first byte of each page on.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import trustme

from tests.browser.conftest import _delete_keys
from tests.e2e.servers import ROOT, daphne, prepare, production_env, unique_prefix

pytestmark = pytest.mark.browser

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def watched(page) -> list[str]:
    """Collect CSP and Permissions-Policy complaints of `page` from its next load on."""
    complaints: list[str] = []
    page.add_init_script(WATCH)

    def on_console(message) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Policy" in text):
            complaints.append(text)

    page.on("console", on_console)
    return complaints


def violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def test_the_lobby_and_a_match_page_run_without_a_csp_violation(new_page):
    page = new_page("/")
    console = watched(page)
    page.reload()
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    # The lobby's socket is open: connect-src allows the site's own wss:.
    page.wait_for_function("() => document.getElementById('online').textContent.trim() !== ''")
    assert violations(page) == [] and console == []

    page.locator('[data-create-private="arena"]').click()
    page.wait_for_url("**/play/*/")
    page.wait_for_function("() => window.__arcade && window.__arcade.view")
    page.wait_for_selector("#connection[data-state=open]")
    assert violations(page) == [] and console == []

    # The policy is in force: an injected inline script is refused and reported.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.body.append(s); }"
    )
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("window.__inline") is None
    assert violations(page)[0].startswith("script-src")


# --- The admin ---------------------------------------------------------------------

ADMIN_PASSWORD = "operator-pass-for-the-browser-42"


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory, redis_url) -> Iterator[str]:
    """Production settings over HTTPS with a superuser, for the admin's pages."""
    tmp = tmp_path_factory.mktemp("admin-site")
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    key_file, cert_file = tmp / "key.pem", tmp / "cert.pem"
    cert.private_key_pem.write_to_path(key_file)
    cert.cert_chain_pems[0].write_to_path(cert_file)
    prefix = unique_prefix("browser-admin")
    env = production_env(tmp, REDIS_URL=redis_url, REDIS_PREFIX=prefix, CHANNEL_LAYER_PREFIX=prefix)
    prepare(env)
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput"],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SUPERUSER_USERNAME": "operator",
            "DJANGO_SUPERUSER_EMAIL": "op@example.com",
            "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        },
        check=True,
        timeout=60,
    )
    try:
        with daphne(env, tls=(key_file, cert_file)) as port:
            yield f"https://127.0.0.1:{port}"
    finally:
        _delete_keys(redis_url, prefix)


ADMIN_PAGES = [
    "/admin/",
    "/admin/games/match/",
    "/admin/games/player/",
    "/admin/auth/user/add/",
    "/admin/games/auditentry/",
    "/admin/auth/user/1/change/",
    "/admin/games/match/live/",
    "/admin/axes/accessattempt/",
]


def test_the_admin_works_under_the_policy(new_page, admin_site):
    page = new_page("/admin/login/", base=admin_site)
    console = watched(page)
    page.reload()
    page.fill("#id_username", "operator")
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    for path in ADMIN_PAGES:
        response = page.goto(admin_site + path)
        assert response is not None and response.status == 200, path
        assert violations(page) == [], path
    # The admin's scripts ran: the change list's select-all checkbox works.
    page.goto(admin_site + "/admin/auth/user/")
    page.check("#action-toggle")
    assert page.locator(".action-counter").inner_text().startswith("1 of 1")
    assert console == []
