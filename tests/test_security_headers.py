"""Content-Security-Policy and Permissions-Policy on every page; templates with nothing inline.

Production values are checked in a production process in tests/test_settings.py
and under daphne in tests/e2e/test_site_under_daphne.py; the browser test
(tests/browser/test_content_security_policy.py) shows the pages run under them.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    [*ROOT.glob("frontend/templates/**/*.html"), *ROOT.glob("games/templates/**/*.html")]
)


def policy(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split(";")]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/", "/login/", "/signup/", "/leaderboard/", "/api/games/"])
def test_pages_forbid_inline_and_foreign_scripts(client, path):
    csp = policy(client.get(path))
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert "'self'" in csp["connect-src"]  # the site's own ws: and wss:
    assert not any("unsafe" in v for values in csp.values() for v in values)


def test_the_admin_runs_under_the_same_policy(admin_client_):
    response = admin_client_.get("/admin/games/match/")
    assert response.status_code == 200
    assert policy(response)["script-src"] == ["'self'"]


def test_powerful_browser_features_are_switched_off(client):
    header = client.get("/")["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in header


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_style_or_handler(template):
    text = template.read_text()
    inline_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", text) if "src=" not in tag]
    assert not inline_scripts, "move the script into a static file"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handlers are blocked by CSP"
    assert not re.search(r"\sstyle\s*=", text), "style attributes are blocked by CSP"
    assert "javascript:" not in text
    assert "<style" not in text, "styles belong in the static stylesheet"
