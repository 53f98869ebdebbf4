"""Sound effects on the match page (Web Audio, nothing downloaded) and a mute toggle the
browser remembers."""

import pytest

from tests.browser.test_play_alone import my_turn_or_over, play_vs_computer
from tests.browser.test_play_in_browser import click_column

pytestmark = pytest.mark.browser


def drop_a_disc(page):
    state = my_turn_or_over(page)
    column = next(c for c in range(7) if len(state["board"][c]) < 6)
    click_column(page, column)
    page.wait_for_function(f"() => window.__arcade.view.debug().state.moves > {state['moves']}")


def test_a_move_sounds_and_muting_is_remembered_after_a_reload(new_page):
    page = new_page("/")
    play_vs_computer(page, "connect_four", "easy")
    page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    mute = page.locator("#mute")
    assert mute.inner_text() == "Sound on" and mute.get_attribute("aria-pressed") == "false"
    drop_a_disc(page)
    page.wait_for_function("() => window.__sounds.played > 0")

    mute.click()
    assert mute.inner_text() == "Sound off" and mute.get_attribute("aria-pressed") == "true"
    page.reload()
    page.wait_for_function("() => window.__arcade?.view?.debug().state")
    assert page.locator("#mute").inner_text() == "Sound off"
    drop_a_disc(page)
    assert page.evaluate("window.__sounds.played") == 0  # muted: nothing played
