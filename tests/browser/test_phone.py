"""The games on a phone: Chromium emulating one (touch, a phone's screen), upright and on
its side. The arena is played with the visible stick and Fire; quick taps fire; the field
takes a landscape screen; the lobby's "Play now" and the board are in view at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from games.engine.arena import FIRE_COOLDOWN_TICKS
from tests.browser.conftest import screenshot
from tests.browser.test_play_alone import play_vs_computer
from tests.browser.test_play_in_browser import both_play_now, c4_state

pytestmark = pytest.mark.browser

# Pixel 7 as Playwright's device list describes it: upright, and the same phone on its side.
PORTRAIT = {"width": 412, "height": 839}
LANDSCAPE = {"width": 863, "height": 360}
SMALL = {"width": 375, "height": 667}  # an iPhone SE's screen, upright
PHONE = {
    "viewport": PORTRAIT,
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
    ),
}
QUICK_TAP_MS = 80  # the taps: shorter than this fired nothing
TAP_MS = 30  # the taps made here: quicker than the 50 ms between two inputs

# On the other player's page, every bullet the server's states carry (by id, with the tick
# it was first seen at); on the own page, when each tap went down and up, and how many
# inputs it sent with the trigger pulled.
COUNT_BULLETS = """() => {
    window.__bullets = new Map();
    window.__arcade.connection.addEventListener("frame", (e) => {
        const frame = e.detail;
        if (frame.type !== "state") return;
        for (const b of frame.state.bullets) {
            if (!window.__bullets.has(b[0])) window.__bullets.set(b[0], frame.tick);
        }
    });
}"""
TIME_TAPS = """(selector) => {
    window.__taps = [];
    window.__fired = [];
    if (window.__spying) return;  // once a page: the counters above start again
    window.__spying = true;
    const connection = window.__arcade.connection;
    const send = connection.sendInput.bind(connection);
    connection.sendInput = (input) => {
        if (input.fire) window.__fired.push([Math.round(performance.now()), input.seq]);
        return send(input);
    };
    const target = document.querySelector(selector);
    target.addEventListener("pointerdown", (e) => window.__taps.push([e.timeStamp, null]));
    target.addEventListener("pointerup", (e) => (window.__taps.at(-1)[1] = e.timeStamp));
}"""


@pytest.fixture
def new_phone(browser, tls_site) -> Iterator[object]:
    """Open a page in a fresh context emulating a phone held upright (touch, its screen)."""
    contexts = []

    def make(path: str = "/"):
        context = browser.new_context(ignore_https_errors=True, **PHONE)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(tls_site + path)
        return page

    yield make
    for context in contexts:
        context.close()


class Finger:
    """Touches on a page through Chromium's input (trusted touch and pointer events)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)

    def _send(self, kind: str, points: list[tuple[float, float]]) -> None:
        touches = [{"x": x, "y": y, "id": n} for n, (x, y) in enumerate(points)]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touches})

    def down(self, x: float, y: float) -> None:
        self._send("touchStart", [(x, y)])

    def move(self, x: float, y: float) -> None:
        self._send("touchMove", [(x, y)])

    def up(self) -> None:
        self._send("touchEnd", [])

    def tap(self, x: float, y: float, source: str = "touch") -> None:
        """A tap (or a click, `source` "mouse") of TAP_MS, timed by the browser itself: a
        down and an up sent one after the other from here can be far apart on a busy
        machine, and a long press is not a quick tap."""
        self.cdp.send(
            "Input.synthesizeTapGesture",
            {"x": x, "y": y, "duration": TAP_MS, "tapCount": 1, "gestureSourceType": source},
        )


def centre(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def boxes_overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def ship(page, seat: int) -> dict:
    return page.evaluate(f"window.__arcade.view.debug().ships[{seat}]")


def steer(phone, other, seat: int, dx: float, dy: float) -> None:
    """Hold the phone's stick towards (dx, dy) until the other player's page, drawing the
    server's states, shows the ship 100 units further that way; then let go."""
    x, y = centre(phone, "#stick")
    reach = phone.locator("#stick").bounding_box()["width"] / 2
    start = ship(other, seat)
    finger = Finger(phone)
    finger.down(x, y)
    finger.move(x + dx * reach * 0.9, y + dy * reach * 0.9)
    # The knob follows the thumb (inside the pad).
    phone.wait_for_function(f"""() => {{
        const k = document.querySelector(".stick-knob").getBoundingClientRect();
        const along = (k.x + k.width / 2 - {x}) * {dx} + (k.y + k.height / 2 - {y}) * {dy};
        return along > {reach / 3};
    }}""")
    other.wait_for_function(
        f"""() => {{
          const s = window.__arcade.view.debug().ships[{seat}];
          return (s.x - {start["x"]}) * {dx} + (s.y - {start["y"]}) * {dy} > 100;
        }}""",
        timeout=10_000,
    )
    finger.up()
    moved = ship(other, seat)
    # Along the drag, not across it.
    across = abs((moved["x"] - start["x"]) * dy - (moved["y"] - start["y"]) * dx)
    assert across < 30, (start, moved)
    phone.wait_for_function(f"""() => {{  // back in the middle once let go
        const k = document.querySelector(".stick-knob").getBoundingClientRect();
        return Math.hypot(k.x + k.width / 2 - {x}, k.y + k.height / 2 - {y}) < 2;
    }}""")


def tap_five_times(phone, other, selector: str = "#fire", source: str = "touch") -> list[float]:
    """Five quick taps on Fire (or clicks on the field), each after the last one's shot and
    the gun's cooldown: every tap's bullet must show in the server's states, once. The
    taps' durations (ms) as the page saw them."""
    phone.evaluate(TIME_TAPS, selector)
    shots = other.evaluate("window.__bullets.size")
    finger = Finger(phone)
    x, y = centre(phone, selector)
    for n in range(1, 6):
        finger.tap(x, y, source)
        other.wait_for_function(f"() => window.__bullets.size >= {shots + n}", timeout=5_000)
        fired_at = other.evaluate("Math.max(...window.__bullets.values())")
        # The next tap once the gun can fire again, as the page sees the server's ticks.
        phone.wait_for_function(
            f"() => window.__arcade.view.buffer.latest().tick > {fired_at + FIRE_COOLDOWN_TICKS}"
        )
    # One input with the trigger pulled a tap, however the page's timers ran (late ones send
    # several inputs at once), and one shot: the server does not hold a tap's trigger over
    # ticks without an input, and the last tap's gun has cooled down by now.
    fired = phone.evaluate("window.__fired")
    assert len(fired) == 5, (fired, phone.evaluate("window.__taps"))
    assert other.evaluate("window.__bullets.size") == shots + 5
    taps = phone.evaluate("window.__taps")
    assert len(taps) == 5
    return [up - down for down, up in taps]


def test_a_phone_plays_the_arena_with_the_stick_and_quick_taps_upright_and_sideways(
    new_phone, new_page
):
    phone = new_phone("/")
    desktop = new_page("/")
    both_play_now(phone, desktop, "arena")
    for page in (phone, desktop):
        page.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    desktop.evaluate(COUNT_BULLETS)
    seat = phone.evaluate("window.__arcade.view.debug().mySeat")
    inwards = 1 if ship(desktop, seat)["x"] < 480 else -1  # towards the middle: no wall

    # Upright: the board, the stick and Fire all on screen, the pads below the field.
    viewport = phone.viewport_size
    field = phone.locator("#board").bounding_box()
    for pad in ("#stick", "#fire"):
        box = phone.locator(pad).bounding_box()
        assert not boxes_overlap(box, field), pad
        assert box["y"] >= field["y"] + field["height"]  # below the field
        assert box["y"] + box["height"] <= viewport["height"]  # and in view
    assert phone.locator(".hint-touch").first.is_visible()
    assert not phone.locator(".hint-keys").first.is_visible()
    steer(phone, desktop, seat, inwards, 0)
    durations = tap_five_times(phone, desktop)
    assert max(durations) < QUICK_TAP_MS, durations

    # On its side: the field takes the screen's height, the stick and Fire at its sides.
    phone.set_viewport_size(LANDSCAPE)
    # The page scrolls the header away once the phone has turned: the whole field in view.
    phone.wait_for_function(
        """(tall) => {
          const box = document.getElementById("board").getBoundingClientRect();
          return box.height >= tall && box.top >= 0 && box.bottom <= innerHeight;
        }""",
        arg=0.8 * LANDSCAPE["height"],
    )
    field = phone.locator("#board").bounding_box()
    stick, fire = phone.locator("#stick").bounding_box(), phone.locator("#fire").bounding_box()
    assert stick["x"] + stick["width"] <= field["x"]  # left of the field
    assert fire["x"] >= field["x"] + field["width"]  # right of it
    for box in (stick, fire):
        assert box["y"] >= 0 and box["y"] + box["height"] <= LANDSCAPE["height"]
    steer(phone, desktop, seat, 0, -1 if ship(desktop, seat)["y"] > 320 else 1)
    steer(phone, desktop, seat, -inwards, 0)
    durations += tap_five_times(phone, desktop)
    assert max(durations) < QUICK_TAP_MS, durations
    screenshot(phone, "phone-arena")


def test_quick_clicks_fire_on_a_desktop_too_and_it_shows_keyboard_hints(new_page):
    alice = new_page("/")
    bob = new_page("/")
    both_play_now(alice, bob, "arena")
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    bob.evaluate(COUNT_BULLETS)
    assert alice.locator(".hint-keys").first.is_visible()
    assert not alice.locator(".hint-touch").first.is_visible()
    assert not alice.locator("#stick").is_visible() and not alice.locator("#fire").is_visible()
    durations = tap_five_times(alice, bob, "#board", "mouse")
    assert max(durations) < QUICK_TAP_MS, durations


def in_first_row(page, selector: str) -> bool:
    """Whether `selector` is shown in the header's first row (beside the brand)."""
    return page.evaluate(
        """(selector) => {
          const brand = document.querySelector(".brand").getBoundingClientRect();
          const box = document.querySelector(selector).getBoundingClientRect();
          return box.height > 0 && box.top < brand.bottom && box.bottom > brand.top;
        }""",
        selector,
    )


@pytest.mark.parametrize(
    "viewport", [PORTRAIT, SMALL, LANDSCAPE], ids=["upright", "small-upright", "sideways"]
)
def test_on_a_phone_the_nav_is_one_row_and_play_now_is_above_the_fold(new_phone, viewport):
    page = new_phone("/")
    page.set_viewport_size(viewport)
    header = page.locator(".topbar").bounding_box()
    brand = page.locator(".brand").bounding_box()
    assert header["height"] < brand["height"] * 2 + 24  # one row, with its padding
    assert page.get_by_role("button", name="Play as guest").is_visible()
    page.get_by_role("button", name="Play as guest").click()
    page.get_by_role("button", name="Play as guest").wait_for(state="detached")
    play = page.locator("[data-play-now]").first.bounding_box()
    assert play["y"] + play["height"] <= viewport["height"], play
    header = page.locator(".topbar").bounding_box()
    assert header["height"] < brand["height"] * 2 + 24
    # Every link is still there: in the row itself, or behind "Menu".
    leaderboard = page.locator("#site-nav").get_by_role("link", name="Leaderboard", exact=True)
    if viewport["width"] <= 640:
        assert in_first_row(page, ".menu-toggle")
        assert not leaderboard.is_visible()
        page.get_by_role("button", name="Menu").click()
    else:
        assert in_first_row(page, "#site-nav")
    leaderboard.click()
    page.wait_for_url("**/leaderboard/")


def test_tapping_a_column_drops_a_disc_on_a_phone(new_phone):
    page = new_phone("/")
    play_vs_computer(page, "connect_four", "easy")
    page.wait_for_function(
        """() => { const { state, mySeat } = window.__arcade.view.debug();
                   return state && state.to_move === mySeat; }""",
        timeout=10_000,
    )
    me = c4_state(page)["mySeat"]
    board = page.locator("#board").bounding_box()
    viewport = page.viewport_size
    assert board["y"] + board["height"] <= viewport["height"]  # the whole board in view
    assert page.locator(".hint-touch").first.is_visible()
    moves = c4_state(page)["state"]["moves"]
    Finger(page).tap(board["x"] + 3.5 * board["width"] / 7, board["y"] + board["height"] * 0.6)
    page.wait_for_function(f"() => window.__arcade.view.debug().state.moves > {moves}")
    assert me in c4_state(page)["state"]["board"][3]


def chat(page, text: str) -> None:
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")


@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["upright", "sideways"])
def test_on_a_phone_players_and_chat_open_over_the_page_without_losing_the_board(
    new_phone, new_page, viewport
):
    phone = new_phone("/")
    desktop = new_page("/")
    both_play_now(phone, desktop, "arena")
    phone.set_viewport_size(viewport)
    phone.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    desktop.locator("#chat-log").wait_for()
    # Folded away: the page is the game alone, nothing to scroll to for the chat.
    assert not phone.locator("#players").is_visible()
    assert not phone.locator("#chat-log").is_visible()
    toggle = phone.get_by_role("button", name="Chat")
    assert toggle.is_visible()
    chat(desktop, "glhf")
    # A line arrives while folded: counted on the button in the HUD.
    phone.locator("#chat-unread").filter(has_text="1").wait_for()

    scrolled, field = phone.evaluate("scrollY"), phone.locator("#board").bounding_box()
    toggle.click()
    panel = phone.locator("#side").bounding_box()
    assert phone.locator("#chat-log").filter(has_text="glhf").is_visible()
    assert phone.locator("#players li").first.is_visible()
    assert phone.locator("#players").filter(has_text="(you)").is_visible()
    assert not phone.locator("#chat-unread").is_visible()
    # Over the page, not in it: the board has not moved and most of it is still in view
    # beside the panel (above it upright, left of it on its side).
    assert phone.evaluate("scrollY") == scrolled
    assert phone.locator("#board").bounding_box() == field
    if viewport is PORTRAIT:
        assert panel["y"] >= field["y"] + field["height"] / 2, (panel, field)
        assert panel["y"] + panel["height"] <= viewport["height"] + 1
    else:
        assert panel["x"] >= field["x"] + field["width"] / 2, (panel, field)
        assert panel["height"] <= viewport["height"] + 1

    screenshot(phone, f"phone-chat-{'upright' if viewport is PORTRAIT else 'sideways'}")

    # Chat from the panel; the other player reads it. The match ran on meanwhile.
    tick = phone.evaluate("window.__arcade.view.buffer.latest().tick")
    chat(phone, "you too")
    desktop.locator("#chat-log").filter(has_text="you too").wait_for()
    phone.wait_for_function(f"() => window.__arcade.view.buffer.latest().tick > {tick + 5}")
    phone.get_by_role("button", name="Back to the game").click()
    assert not phone.locator("#chat-log").is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    # Escape closes it too.
    toggle.click()
    phone.locator("#chat-log").wait_for(state="visible")
    phone.keyboard.press("Escape")
    phone.locator("#chat-log").wait_for(state="hidden")


def test_on_a_desktop_players_and_chat_stay_beside_the_board(new_page):
    alice = new_page("/")
    bob = new_page("/")
    both_play_now(alice, bob, "arena")
    assert alice.locator("#players").is_visible() and alice.locator("#chat-log").is_visible()
    assert not alice.locator("#side-toggle").is_visible()
    chat(bob, "hi")
    alice.locator("#chat-log").filter(has_text="hi").wait_for()
    assert not alice.locator("#chat-unread").is_visible()
