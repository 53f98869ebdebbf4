"""Connect Four with the keyboard alone, and every move said in an ARIA live region."""

import pytest

from tests.browser.test_play_alone import BOT_ANSWERS_WITHIN_MS, my_turn_or_over, play_vs_computer

pytestmark = pytest.mark.browser


def announced(page):
    return page.locator("#announce").inner_text()


def test_arrows_choose_a_column_enter_drops_and_each_move_is_announced(new_page):
    page = new_page("/")
    play_vs_computer(page, "connect_four", "easy")
    page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    live = page.locator("#announce")
    assert live.get_attribute("aria-live") == "polite"
    state = my_turn_or_over(page)
    moves = state["moves"]
    before = [len(column) for column in state["board"]]

    # The board is in the tab order; a keyboard user lands on it and plays from there.
    assert page.locator("#board").get_attribute("tabindex") == "0"
    page.locator("#board").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert announced(page) == "Column 6"
    page.keyboard.press("ArrowLeft")
    assert announced(page) == "Column 5"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => window.__arcade.view.debug().state.moves > {moves}")
    after = page.evaluate("window.__arcade.view.debug().state.board")
    assert len(after[4]) == before[4] + 1  # column 5: the disc went where the arrows said
    live.filter(has_text="You dropped in column 5.").wait_for()

    # The computer answers, and that is said too, with its name and whose turn it is.
    page.wait_for_function(
        f"() => window.__arcade.view.debug().state.moves > {moves + 1}",
        timeout=BOT_ANSWERS_WITHIN_MS,
    )
    text = announced(page)
    assert text.startswith("Connect Four bot · easy dropped in column "), text
    assert text.endswith("Your turn.") or "wins" in text

    # Space drops too, where the arrows left the choice.
    state = my_turn_or_over(page)
    if not state["finished"]:
        column = page.evaluate("window.__arcade.view.debug().cursor")
        if len(state["board"][column]) < 6:
            page.keyboard.press(" ")
            live.filter(has_text=f"You dropped in column {column + 1}.").wait_for()
