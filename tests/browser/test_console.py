"""The live console in a browser: it updates while a match runs, its match page shows the
match read-only on the players' canvas viewer, and its actions reach the players' pages
(a message to the match, a broadcast, a kick), under the site's content security policy."""

import json

import pytest

from tests.browser.conftest import screenshot, site_shell
from tests.browser.test_content_security_policy import violations, watched
from tests.browser.test_play_in_browser import c4_state, click_column

pytestmark = pytest.mark.browser

PASSWORD = "console-operator-pass-42"
OPERATOR = f"""
from django.contrib.auth.models import Group, User
from django.core.management import call_command
call_command("create_roles", verbosity=0)
user, _ = User.objects.get_or_create(username="console-op", defaults={{"is_staff": True}})
user.set_password("{PASSWORD}")
user.save()
user.groups.add(Group.objects.get(name="operator"))
"""
AUDIT = """
import json
from games.models import AuditEntry
print(json.dumps([[e.actor_name, e.action, e.reason] for e in AuditEntry.objects.order_by("id")]))
"""


def log_in(page):
    page.fill("#id_username", "console-op")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


POST = """([path, body]) => fetch(path, {
  method: "POST", credentials: "same-origin", body: JSON.stringify(body),
  headers: {"Content-Type": "application/json",
            "X-CSRFToken": decodeURIComponent(document.cookie.match(/csrftoken=([^;]+)/)[1])},
}).then((r) => r.json())"""


def slow_match(alice, bob, tls_site):
    """Two guests in a Connect Four match of 5 minutes a turn, both on its page: the
    console's steps between two moves take longer than the default 30 s on a busy machine,
    and a match lost on time would end the test's match under it."""
    for page in (alice, bob):
        page.get_by_role("button", name="Play as guest").click()
        page.wait_for_url("**/")
    body = {"game": "connect_four", "settings": {"turn_seconds": 300}}
    match_id = alice.evaluate(POST, ["/api/matches/", body])["id"]
    bob.evaluate(POST, [f"/api/matches/{match_id}/join/", {}])
    for page in (alice, bob):
        page.goto(f"{tls_site}/play/{match_id}/")
    for page in (alice, bob):  # both ready (the page says so): the match starts
        page.wait_for_function("() => window.__arcade?.view?.debug().state")
    return match_id


def outcome(page, selector):
    """What the console said of its last action (the server's refusal, if it refused)."""
    page.wait_for_function(
        f"() => document.querySelector({json.dumps(selector)}).textContent !== ''",
        timeout=45_000,  # a POST on a loaded machine
    )
    text = page.locator(selector).inner_text()
    page.evaluate(f"document.querySelector({json.dumps(selector)}).textContent = ''")
    return text


def tick_shown(page, match_id):
    return page.locator(f'#matches tr[data-match="{match_id}"] td').nth(5).inner_text()


# Two browsers play while a third watches and acts: longer than the suite's 120 s default
# on a busy machine.
@pytest.mark.timeout(300)
def test_the_console_follows_a_live_match_and_acts_on_it(new_page, site_env, tls_site):
    site_shell(site_env, OPERATOR)
    alice, bob = new_page("/"), new_page("/")
    match_id = slow_match(alice, bob, tls_site)
    names = [
        p.evaluate("fetch('/api/me/').then(r => r.json())")["player"]["display_name"]
        for p in (alice, bob)
    ]

    op = new_page("/admin/login/")
    complaints = watched(op)
    op.reload()
    log_in(op)
    op.goto(f"{tls_site}/admin/games/match/live/")
    row = op.locator(f'#matches tr[data-match="{match_id}"]')
    row.wait_for(timeout=45_000)  # the next poll at most; a loaded machine is slower
    for name in names:  # connected: in presence (a socket that reconnected shows again)
        row.locator("span.connected", has_text=name).wait_for()
    # It updates without a reload: the match's tick moves on between polls, and the
    # process that runs it reports its sockets and heartbeat.
    op.wait_for_function(
        f"""() => {{
          const cells = document.querySelectorAll('#matches tr[data-match="{match_id}"] td');
          return cells.length && cells[5].textContent !== '-' && cells[6].textContent !== '- (10)';
        }}""",
        timeout=45_000,
    )
    first = tick_shown(op, match_id)
    op.wait_for_function(
        f"""() => {{
          const cells = document.querySelectorAll('#matches tr[data-match="{match_id}"] td');
          return cells.length && cells[5].textContent !== {json.dumps(first)};
        }}""",
        timeout=45_000,
    )
    process = op.locator("#processes tr").first
    assert process.locator("td").nth(6).inner_text() == "no"  # not draining
    assert int(process.locator("td").nth(1).inner_text()) >= 2  # the two players' sockets
    screenshot(op, "admin-live")

    # Watch it: the players' viewer, as a spectator that sends nothing.
    sent = []
    op.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    row.get_by_role("link", name="Watch and act").click()
    op.wait_for_url(f"**/admin/games/match/{match_id}/console/")
    op.wait_for_function("() => window.__console?.view?.debug().state")
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    mover = next(
        p for p in (alice, bob) if c4_state(p)["mySeat"] == c4_state(p)["state"]["to_move"]
    )
    click_column(mover, 3)
    op.wait_for_function("() => window.__console.view.debug().state.moves === 1")
    alice.wait_for_function("() => window.__arcade.view.debug().state.moves === 1")
    assert (
        op.evaluate("window.__console.view.debug().state.board")
        == c4_state(alice)["state"]["board"]
    )
    box = op.locator("#board").bounding_box()
    op.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a click: nothing
    kinds = {json.loads(p)["type"] for p in sent if isinstance(p, str) and p.startswith("{")}
    assert kinds <= {"ping", "ack", "resync"}, kinds
    for name in names:
        op.locator("#players tr", has_text=name).get_by_text("connected", exact=True).wait_for()

    # A message to the match: a banner on the players' pages.
    op.fill("#message-text", "Please keep the chat friendly.")
    op.get_by_role("button", name="Send").click()
    assert outcome(op, "#outcome") == "Sent to the match."
    for page in (alice, bob):
        page.locator("#banners").get_by_text("Please keep the chat friendly.").wait_for()
    screenshot(op, "admin-match-console")

    # A broadcast: every page now, and a page opened after it.
    op.goto(f"{tls_site}/admin/games/match/live/")
    op.fill("#broadcast-text", "The server restarts in 5 minutes.")
    op.get_by_role("button", name="Broadcast").click()
    assert outcome(op, "#broadcast-form [data-outcome]") == "Sent to every connected player."
    for page in (alice, bob):
        page.locator("#banners").get_by_text("The server restarts in 5 minutes.").wait_for()
    later = new_page("/")
    later.locator("#banners").get_by_text("The server restarts in 5 minutes.").wait_for()
    screenshot(alice, "broadcast-banner")
    later.get_by_role("button", name="Dismiss: The server restarts in 5 minutes.").click()
    later.reload()
    later.locator("#banners[data-asked]").wait_for(state="attached")
    assert later.locator("#banners [data-banner]").count() == 0  # dismissed stays dismissed

    # A kick: the player's page says why, and the seat shows as gone.
    op.goto(f"{tls_site}/admin/games/match/{match_id}/console/")
    op.get_by_role("button", name=f"Kick {names[1]}").click()
    op.fill("#kick-reason", "abusive chat")
    op.get_by_role("button", name="Kick", exact=True).click()
    assert outcome(op, "#outcome") == "Kicked: their socket is closed with the reason."
    bob.locator(
        "#overlay-text", has_text="An operator removed you from this match: abusive chat"
    ).wait_for()
    op.locator("#players tr", has_text=names[1]).get_by_text("not connected", exact=True).wait_for()

    audit = json.loads(site_shell(site_env, AUDIT))
    assert audit == [
        ["console-op", "message", "Please keep the chat friendly."],
        ["console-op", "broadcast", "The server restarts in 5 minutes."],
        ["console-op", "kick", "abusive chat"],
    ]
    assert violations(op) == [] and complaints == []
