"""A player reports the other from the match page: the players list and the result screen."""

import json

import pytest

from tests.browser.conftest import screenshot, site_shell
from tests.browser.test_play_in_browser import both_play_now, play_connect_four_to_a_win

pytestmark = pytest.mark.browser

REPORTS = """
from games.models import Report
import json
print(json.dumps([
    {"match": str(r.match_id), "reporter": r.reporter.display_name,
     "reported": r.reported.display_name, "reason": r.reason, "text": r.text}
    for r in Report.objects.filter(match_id="%s")
]))
"""


def my_name(page):
    return page.evaluate("fetch('/api/me/').then(r => r.json())")["player"]["display_name"]


def test_a_player_reports_the_other_from_the_result_screen(new_page, site_env):
    alice, bob = new_page("/"), new_page("/")
    match_id = both_play_now(alice, bob, "connect_four")
    bob_name = my_name(bob)
    # In the players list: a Report button next to Bob, none next to Alice herself.
    alice.locator("#players li").nth(1).wait_for()
    reports = alice.locator("#players [data-report-player]")
    assert reports.count() == 1
    assert reports.get_attribute("aria-label") == f"Report {bob_name}"

    play_connect_four_to_a_win(alice, bob)
    alice.locator("#result").wait_for(state="visible")
    row = alice.locator("#result-seats tr", has_text=bob_name)
    assert alice.locator("#result-seats button").count() == 1  # Bob's row only
    row.get_by_role("button", name=f"Report {bob_name}").click()

    dialog = alice.get_by_role("dialog", name=f"Report {bob_name}")
    dialog.wait_for()
    # The keyboard: the reason has the focus; the text is labelled.
    assert alice.evaluate("document.activeElement.id") == "report-reason"
    dialog.get_by_role("button", name="Send report").click()
    dialog.get_by_text("Choose a reason.").wait_for()  # nothing sent without one
    dialog.get_by_label("Reason").select_option(label="Abuse in chat")
    dialog.get_by_label("What happened").fill("  Insults after the game.  ")
    assert dialog.get_by_text("27/500").is_visible()
    dialog.get_by_role("button", name="Send report").click()
    dialog.get_by_text(f"your report of {bob_name} was sent to the moderators").wait_for()
    screenshot(alice, "report-sent")
    dialog.get_by_role("button", name="Close").press("Enter")
    dialog.wait_for(state="hidden")
    assert row.get_by_role("button", name=f"Reported {bob_name}").is_disabled()

    stored = json.loads(site_shell(site_env, REPORTS % match_id))
    assert stored == [
        {
            "match": match_id,
            "reporter": my_name(alice),
            "reported": bob_name,
            "reason": "chat_abuse",
            "text": "Insults after the game.",
        }
    ]

    # The page, loaded again, does not know; the server does, and the dialog says so.
    alice.reload()
    alice.locator("#result").wait_for(state="visible")
    alice.get_by_role("button", name=f"Report {bob_name}").click()
    dialog.get_by_label("Reason").select_option("other")
    dialog.get_by_role("button", name="Send report").click()
    dialog.get_by_text("You have reported this player for this match.").wait_for()
    assert len(json.loads(site_shell(site_env, REPORTS % match_id))) == 1
