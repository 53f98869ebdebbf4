"""How to play each game, from the lobby and from the match page; a private match's
invite link, copied."""

import pytest

from tests.browser.test_play_alone import play_vs_computer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("game", "title", "words"),
    [
        ("connect_four", "Connect Four", ["four of your discs", "clock", "Enter"]),
        ("arena", "Arena", ["Three hits", "score limit", "Space"]),
    ],
)
def test_the_lobby_links_to_each_games_rules(new_page, tls_site, game, title, words):
    page = new_page("/")
    page.get_by_role("link", name=f"How to play {title}").click()
    page.wait_for_url(f"{tls_site}/how-to-play/{game}/")
    assert page.get_by_role("heading", name=f"How to play {title}").is_visible()
    rules = page.locator(f'[data-rules="{game}"]').inner_text()
    for word in words:
        assert word in rules
    page.get_by_role("link", name="Back to the lobby").click()
    page.wait_for_url(f"{tls_site}/")


def test_an_unknown_game_has_no_rules_page(new_page, tls_site):
    page = new_page("/")
    response = page.goto(f"{tls_site}/how-to-play/chess/")
    assert response.status == 404


def test_the_match_page_shows_how_to_play_without_leaving_the_match(new_page):
    page = new_page("/")
    play_vs_computer(page, "connect_four", "easy")
    url = page.url
    rules = page.locator('#how-to-play [data-rules="connect_four"]')
    assert rules.is_hidden()
    page.get_by_text("How to play Connect Four").click()
    rules.wait_for(state="visible")
    assert "four of your discs" in rules.inner_text()
    assert page.url == url


def test_a_private_match_copies_its_invite_link(new_page, tls_site):
    page = new_page("/")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tls_site)
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    page.locator('[data-create-private="connect_four"]').click()
    page.wait_for_url("**/play/*/")
    copy = page.get_by_role("button", name="Copy invite link")
    copy.click()
    page.get_by_text("Copied: send it to a friend.").wait_for()
    link = page.evaluate("navigator.clipboard.readText()")
    code = page.locator("#waiting .code").inner_text()
    assert link == f"{tls_site}/?code={code}"

    # The friend opens it, presses Join, and takes the other seat.
    friend = page.context.browser.new_context(ignore_https_errors=True).new_page()
    try:
        friend.goto(link)
        assert friend.locator("#join-code").input_value() == code
        assert friend.get_by_text("You were invited to a private match").is_visible()
        friend.get_by_role("button", name="Join", exact=True).click()
        friend.wait_for_url(page.url)
        friend.wait_for_function("() => window.__arcade?.view")
        page.locator("#players li").nth(1).wait_for()
    finally:
        friend.context.close()
