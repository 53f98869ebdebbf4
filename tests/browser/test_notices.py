"""A moderator's warning reaches the player on their next page, until they dismiss it."""

import pytest

from tests.browser.conftest import screenshot, site_shell

pytestmark = pytest.mark.browser

WARN = """
from games import services
from games.models import Player
services.warn_player(Player.objects.get(display_name=%r), %r, by=None)
"""


def notices_answer(page):
    """Expect the page's GET /api/notices/ (around a navigation)."""
    return page.expect_response(
        lambda r: r.url.endswith("/api/notices/") and r.request.method == "GET"
    )


def test_a_warning_shows_on_the_next_page_and_is_gone_once_dismissed(new_page, site_env, tls_site):
    page = new_page("/")
    with notices_answer(page) as answer:
        page.get_by_role("button", name="Play as guest").click()
    # No notices: nothing shown, and nothing went wrong.
    assert answer.value.json() == {"notices": []}
    assert page.locator("#notices").is_hidden()

    name = page.evaluate("fetch('/api/me/').then(r => r.json())")["player"]["display_name"]
    site_shell(site_env, WARN % (name, "Keep the chat friendly, please."))
    page.goto(tls_site + "/leaderboard/")
    notice = page.get_by_role("alert").filter(has_text="Keep the chat friendly, please.")
    notice.wait_for()
    assert "A warning from the moderators" in notice.inner_text()
    screenshot(page, "notice")

    notice.get_by_role("button", name="Dismiss").click()
    notice.wait_for(state="detached")
    assert page.locator("#notices").is_hidden()
    # Read on the server: the next page shows it no more.
    with notices_answer(page) as answer:
        page.goto(tls_site + "/")
    assert answer.value.json() == {"notices": []}
    assert page.locator(".notice").count() == 0
