"""Netcode benchmark: how the arena feels in a browser on a slow, jittery network.

Starts daphne (HTTPS and WSS through its TLS endpoint, a certificate made for
the run, a SQLite database and a Redis key prefix of the run's own), opens two
guests in Debian's headless Chromium and matches them in an arena. Alice's page
goes through a proxy that delays each chunk per direction (bench/jitterproxy.py);
Bob's page is direct. For each network condition the proxy is set, the pages
settle for a few seconds, then both play a scripted sequence of key presses
(about 20 s) while Alice's page records, on every animation frame, where
`window.__arcade.view.debug()` draws her ship and Bob's.

    .venv/bin/python bench/netcode.py                       # all conditions, seed 1
    .venv/bin/python bench/netcode.py --seed 2 --json out.json

The metrics are defined in docs/performance.md ("Netcode").
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.jitterproxy import Delay, JitterProxy  # noqa: E402
from tests.e2e.servers import daphne, prepare, production_env  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TICK_MS = 50.0
SPEED = 220.0  # units per second (games/engine/arena.py)
TICK_TRAVEL = SPEED * TICK_MS / 1000  # 11 units
WIDTH, HEIGHT, RADIUS = 960.0, 640.0, 16.0
DIRECTIONS = {"KeyD": (1, 0), "KeyA": (-1, 0), "KeyS": (0, 1), "KeyW": (0, -1)}

CONDITIONS = {
    "direct": Delay(),
    "100ms": Delay(base=0.050),
    "150+-30": Delay(base=0.075, jitter=0.030),
    "250+-50": Delay(base=0.125, jitter=0.050),
    "150+-30+spikes": Delay(base=0.075, jitter=0.030, spike_rate=0.02, spike=0.200),
}
DEFAULT_CONDITIONS = "direct,150+-30,250+-50,150+-30+spikes"

# Installed in a page: records key events, state arrivals and, on every animation
# frame after the page has drawn, both ships as the view drew them.
RECORDER = """(pages) => {
  window.__bench = { frames: [], keys: [], states: [] };
  const view = window.__arcade.view;
  for (const type of ["keydown", "keyup"]) {
    window.addEventListener(type, (e) => {
      const down = type === "keydown" ? 1 : 0;
      if (!e.repeat) window.__bench.keys.push([down, e.code, performance.now()]);
    }, true);
  }
  window.__arcade.connection.addEventListener("frame", (e) => {
    if (e.detail.type === "state") window.__bench.states.push([performance.now(), e.detail.tick]);
  });
  // `frameAt` is the animation frame's own time, the one the page draws for: a frame
  // the browser skipped shows there, not in when this callback happened to run.
  const sample = (frameAt) => {
    const d = view.debug();
    const own = d.ships.find((s) => s.seat === d.mySeat);
    const other = d.ships.find((s) => s.seat !== d.mySeat);
    if (own && other) {
      window.__bench.frames.push(
        [performance.now(), own.x, own.y, other.x, other.y, d.renderTick, d.jitterMs, frameAt],
      );
    }
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
  return performance.timeOrigin;
}"""
OWN_SHIP = "() => { const d = window.__arcade.view.debug(); return d.ships[d.mySeat]; }"
TAKE = """() => {
  const taken = window.__bench;
  window.__bench = { frames: [], keys: [], states: [] };
  const view = window.__arcade.view;
  taken.corrections = view.corrections.splice(0);
  return taken;
}"""


@dataclass
class Result:
    condition: str
    rtt_ms: float
    fps: float
    late_frames: int
    presses: int
    next_frame: int
    response_p50_ms: float
    response_max_ms: float
    held_frames: int
    barely_moving_pct: float
    still_frames: int
    backward_steps: int
    largest_backward: float
    largest_correction: float
    correction_p99: float
    slide_max: float
    remote_snaps: int
    remote_largest_step: float
    remote_freezes: int
    remote_longest_freeze_ms: float
    remote_delay_p50_ms: float
    remote_delay_p95_ms: float
    jitter_p50_ms: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conditions", default=DEFAULT_CONDITIONS, help=",".join(CONDITIONS))
    parser.add_argument("--seconds", type=float, default=20.0, help="scripted play per condition")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before each condition")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--plot", type=Path, help="write one SVG per condition into this folder")
    parser.add_argument(
        "--raw", type=Path, help="write what both pages recorded, per condition, into this folder"
    )
    parser.add_argument(
        "--from-raw",
        type=Path,
        help="measure again what an earlier run wrote with --raw (this seed), without a browser",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.conditions.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        parser.error(f"unknown conditions: {unknown}")
    results = remeasure(names, args) if args.from_raw else run(names, args)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")


def run(names: list[str], args: argparse.Namespace) -> list[Result]:
    import redis
    import trustme
    from playwright.sync_api import sync_playwright

    prefix = f"arcade-netbench-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="netbench-") as tmp_name:
        tmp = Path(tmp_name)
        authority = trustme.CA()
        cert = authority.issue_cert("127.0.0.1", "localhost")
        key_file, cert_file = tmp / "key.pem", tmp / "cert.pem"
        cert.private_key_pem.write_to_path(key_file)
        cert.cert_chain_pems[0].write_to_path(cert_file)
        env = production_env(
            tmp,
            REDIS_URL=args.redis_url,
            REDIS_PREFIX=prefix,
            CHANNEL_LAYER_PREFIX=prefix,
            MATCHMAKING_FILL_SECONDS="1",
        )
        prepare(env)
        try:
            with daphne(env, tls=(key_file, cert_file)) as port, sync_playwright() as pw:
                proxy = JitterProxy(port, seed=args.seed)
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    return play(browser, port, proxy, names, args)
                finally:
                    browser.close()
                    proxy.close()
        finally:
            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)


def open_page(browser: Any, base: str) -> Any:
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(base + "/")
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    return page


def play(
    browser: Any, port: int, proxy: JitterProxy, names: list[str], args: argparse.Namespace
) -> list[Result]:
    alice = open_page(browser, f"https://127.0.0.1:{proxy.port}")
    bob = open_page(browser, f"https://127.0.0.1:{port}")
    alice.locator('[data-play-now="arena"]').click()
    alice.get_by_role("button", name="Cancel").wait_for()
    bob.locator('[data-play-now="arena"]').click()
    for page in (alice, bob):
        page.wait_for_url("**/play/*/")
        page.wait_for_function("() => window.__arcade && window.__arcade.view")
        page.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    origins = {"alice": alice.evaluate(RECORDER, None), "bob": bob.evaluate(RECORDER, None)}
    rng = random.Random(args.seed)
    results = []
    for name in names:
        proxy.delay = CONDITIONS[name]
        time.sleep(args.settle)  # the pages adapt to the new network first
        alice.evaluate(TAKE)
        bob.evaluate(TAKE)
        own, other = alice.evaluate(OWN_SHIP), bob.evaluate(OWN_SHIP)
        script = schedule(rng, own, other, args.seconds)
        perform(script, {"alice": alice, "bob": bob})
        time.sleep(1.0)  # let the last release settle
        rtt = alice.evaluate("() => window.__arcade.connection.clock.rtt") or 0.0
        taken = {"alice": alice.evaluate(TAKE), "bob": bob.evaluate(TAKE)}
        results.append(measure(name, rtt, taken, origins))
        if args.plot:
            args.plot.mkdir(parents=True, exist_ok=True)
            (args.plot / f"netcode-{name}-seed{args.seed}.svg").write_text(
                plot(name, taken["alice"])
            )
        if args.raw:
            args.raw.mkdir(parents=True, exist_ok=True)
            (args.raw / f"netcode-{name}-seed{args.seed}.json").write_text(
                json.dumps({"origins": origins, "taken": taken, "rtt": rtt})
            )
        print(f"{name}: done", file=sys.stderr)
    return results


def remeasure(names: list[str], args: argparse.Namespace) -> list[Result]:
    results = []
    for name in names:
        raw = json.loads((args.from_raw / f"netcode-{name}-seed{args.seed}.json").read_text())
        results.append(measure(name, raw.get("rtt", 0.0), raw["taken"], raw["origins"]))
    return results


def schedule(
    rng: random.Random, own: dict, other: dict, seconds: float
) -> list[tuple[float, str, str, bool]]:
    """Key events (at seconds from now, page, key, down): Alice presses and releases,
    Bob holds one key after another. Each goes there and back, so ships stay clear of walls."""
    events: list[tuple[float, str, str, bool]] = []
    t = 0.3
    horizontal = ["KeyD", "KeyA"] if own["x"] < WIDTH / 2 else ["KeyA", "KeyD"]
    vertical = ["KeyS", "KeyW"] if own["y"] < HEIGHT / 2 else ["KeyW", "KeyS"]
    pair = 0
    while t < seconds - 2.5:
        hold = rng.uniform(0.5, 0.9)
        for key in horizontal if pair % 2 == 0 else vertical:
            events += [(t, "alice", key, True), (t + hold, "alice", key, False)]
            t += hold + rng.uniform(0.55, 0.8)
        pair += 1
    t = 0.1
    keys = ["KeyD", "KeyA"] if other["x"] < WIDTH / 2 else ["KeyA", "KeyD"]
    n = 0
    while t < seconds - 1.0:  # one key after the other, no pause between
        hold = 0.7
        events += [(t, "bob", keys[n % 2], True), (t + hold, "bob", keys[n % 2], False)]
        t += hold
        n += 1
    return sorted(events)  # at the same time: the release (False) first


def perform(script: list[tuple[float, str, str, bool]], pages: dict[str, Any]) -> None:
    start = time.monotonic()
    for at, who, key, down in script:
        wait = start + at - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the player's timing: this is a script of key presses
        keyboard = pages[who].keyboard
        (keyboard.down if down else keyboard.up)(key)


def measure(name: str, rtt: float, taken: dict[str, Any], origins: dict[str, float]) -> Result:
    rec = taken["alice"]
    frames = rec["frames"]
    times = [f[0] for f in frames]
    presses = press_intervals(rec["keys"])
    steps = list(itertools.pairwise(frames))
    fps = (len(frames) - 1) / ((times[-1] - times[0]) / 1000) if len(frames) > 1 else 0.0

    next_frame, responses = 0, []
    for down, up, (ux, uy) in presses:
        before = last_before(frames, down)
        after = [f for f in frames if down < f[0] <= up + 200]
        if before is None or not after:
            continue
        if along(before, after[0], ux, uy) > 0.05:
            next_frame += 1
        moved = next((f for f in after if along(before, f, ux, uy) > 0.5), None)
        if moved is not None:
            responses.append(moved[0] - down)

    held, barely, still, backward, largest_backward = 0, 0, 0, 0, 0.0
    for a, b in steps:
        press = next((p for p in presses if p[0] <= a[0] and b[0] <= p[1]), None)
        if press is None or near_wall(a, press[2]):
            continue
        held += 1
        step = along(a, b, *press[2])
        barely += step < 1.0
        still += abs(step) < 0.05
        backward += step < -0.5
        largest_backward = max(largest_backward, -step)

    slides = []
    for index, (_down, up, _u) in enumerate(presses):
        until = presses[index + 1][0] if index + 1 < len(presses) else up + 1000
        after = [f for f in frames if up < f[0] < until]
        if after:
            first = after[0]
            slides.append(max(math.hypot(f[1] - first[1], f[2] - first[2]) for f in after))

    # A frame the browser drew late (the machine busy) is not a snap of the netcode.
    # Judged by the frames' own times (what the page draws for), not by when the
    # recorder ran: a skipped frame moves the ships two frames' worth at once.
    usual = statistics.median(b[7] - a[7] for a, b in steps) if steps else 16.7
    on_time = [(a, b) for a, b in steps if b[7] - a[7] < 1.5 * usual]
    remote_steps = [math.hypot(b[3] - a[3], b[4] - a[4]) for a, b in on_time]
    snaps = sum(s > TICK_TRAVEL for s in remote_steps)

    # Bob's page is direct: his state arrivals give the server's tick clock.
    bob_origin = origins["bob"]
    server = [
        (bob_origin + at, bob_origin + at - tick * TICK_MS) for at, tick in taken["bob"]["states"]
    ]
    # How far behind the server the remote ship is drawn: at the frame's own time, the
    # moment the page draws it for (the recorder runs a few ms later in the frame).
    delays = sorted(
        origins["alice"] + f[7] - (server_base(server, origins["alice"] + f[7]) + f[5] * TICK_MS)
        for f in frames
        if f[5]
    )
    # Freezes only count while Bob holds keys, as Alice's page draws that time.
    bob_keys = [bob_origin + at for _down, code, at in taken["bob"]["keys"] if code in DIRECTIONS]
    delay = percentile(delays, 50) if delays else 0.0
    playing = [
        f
        for f in frames
        if bob_keys and bob_keys[0] + 300 < origins["alice"] + f[0] - delay < bob_keys[-1]
    ]
    freezes, longest = remote_freezes(playing)
    corrections = sorted(rec["corrections"]) or [0.0]
    return Result(
        condition=name,
        rtt_ms=round(rtt, 1),
        fps=round(fps, 1),
        late_frames=len(steps) - len(on_time),
        presses=len(presses),
        next_frame=next_frame,
        response_p50_ms=round(statistics.median(responses), 1) if responses else float("nan"),
        response_max_ms=round(max(responses), 1) if responses else float("nan"),
        held_frames=held,
        barely_moving_pct=round(100 * barely / held, 1) if held else float("nan"),
        still_frames=still,
        backward_steps=backward,
        largest_backward=round(max(0.0, largest_backward), 2),
        largest_correction=round(corrections[-1], 2),
        correction_p99=round(percentile(corrections, 99), 2),
        slide_max=round(max(slides, default=0.0), 2),
        remote_snaps=snaps,
        remote_largest_step=round(max(remote_steps, default=0.0), 2),
        remote_freezes=freezes,
        remote_longest_freeze_ms=round(longest, 1),
        remote_delay_p50_ms=round(percentile(delays, 50), 1) if delays else float("nan"),
        remote_delay_p95_ms=round(percentile(delays, 95), 1) if delays else float("nan"),
        jitter_p50_ms=round(percentile([f[6] for f in frames], 50), 1) if frames else float("nan"),
    )


def server_base(server: list[tuple[float, float]], at: float) -> float:
    """When tick 0 was on the server's schedule, from the earliest of the direct page's
    state arrivals within 2 s of `at` (the server's ticks drift a little from 50 ms)."""
    near = [base for arrived, base in server if abs(arrived - at) < 2000]
    return min(near or [base for _arrived, base in server])


def press_intervals(keys: list[list]) -> list[tuple[float, float, tuple[int, int]]]:
    downs: dict[str, float] = {}
    presses = []
    for down, code, at in keys:
        if code not in DIRECTIONS:
            continue
        if down:
            downs[code] = at
        elif code in downs:
            presses.append((downs.pop(code), at, DIRECTIONS[code]))
    return sorted(presses)


def last_before(frames: list[list[float]], at: float) -> list[float] | None:
    previous = None
    for f in frames:
        if f[0] > at:
            return previous
        previous = f
    return previous


def along(a: list, b: list, ux: int, uy: int) -> float:
    return (b[1] - a[1]) * ux + (b[2] - a[2]) * uy


def near_wall(frame: list, direction: tuple[int, int]) -> bool:
    x, y = frame[1], frame[2]
    ux, uy = direction
    return (
        (ux > 0 and x > WIDTH - RADIUS - 4)
        or (ux < 0 and x < RADIUS + 4)
        or (uy > 0 and y > HEIGHT - RADIUS - 4)
        or (uy < 0 and y < RADIUS + 4)
    )


def remote_freezes(frames: list[list]) -> tuple[int, float]:
    """Runs of frames of 50 ms or more in which the remote ship stands still although
    it moved more than 20 units over the half second around them (Bob never stops
    for longer than 50 ms)."""
    count, longest, run_start = 0, 0.0, None
    for i in range(1, len(frames)):
        still = math.hypot(frames[i][3] - frames[i - 1][3], frames[i][4] - frames[i - 1][4]) < 0.05
        lo, hi = max(0, i - 15), min(len(frames) - 1, i + 15)
        moving = math.hypot(frames[hi][3] - frames[lo][3], frames[hi][4] - frames[lo][4]) > 20
        if still and moving:
            run_start = frames[i - 1][0] if run_start is None else run_start
            continue
        if run_start is not None:
            length = frames[i - 1][0] - run_start
            if length >= 50:
                count += 1
                longest = max(longest, length)
            run_start = None
    return count, longest


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def plot(name: str, rec: dict[str, Any]) -> str:
    """An SVG of the run: per frame, how far each ship moved (own ship above, remote
    below, 0-12 units), with the time Alice held a key shaded."""
    frames = rec["frames"]
    if len(frames) < 2:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    t0, t1 = frames[0][0], frames[-1][0]
    width, lane = 1600.0, 160.0

    def x(t: float) -> float:
        return (t - t0) / (t1 - t0) * width

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{2 * lane + 40:.0f}'"
        " font-family='sans-serif' font-size='12'>",
        "<rect width='100%' height='100%' fill='white'/>",
    ]
    for down, up, _u in press_intervals(rec["keys"]):
        parts.append(
            f"<rect x='{x(down):.1f}' y='20' width='{x(up) - x(down):.1f}' height='{lane}'"
            " fill='#e8f0ff'/>"
        )
    for row, (ix, iy, colour, label) in enumerate(
        [(1, 2, "#1f5fbf", "own ship"), (3, 4, "#c0392b", "remote ship")]
    ):
        top = 20 + row * (lane + 20)
        points = " ".join(
            f"{x(b[0]):.1f},{top + lane - moved(a, b, ix, iy) / 12 * lane:.1f}"
            for a, b in itertools.pairwise(frames)
        )
        parts.append(
            f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1'/>"
        )
        parts.append(
            f"<text x='4' y='{top + 12}'>{name}: {label}, units moved per frame (0-12)</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def moved(a: list[float], b: list[float], ix: int, iy: int) -> float:
    return min(12.0, math.hypot(b[ix] - a[ix], b[iy] - a[iy]))


ROWS = [
    ("round trip (ms)", lambda r: f"{r.rtt_ms:.0f}"),
    ("frames per second (frames drawn late)", lambda r: f"{r.fps:.0f} ({r.late_frames})"),
    ("key presses answered on the next frame", lambda r: f"{r.next_frame}/{r.presses}"),
    (
        "own-ship response p50 (max), ms",
        lambda r: f"{r.response_p50_ms:.0f} ({r.response_max_ms:.0f})",
    ),
    (
        "held frames where the own ship moves < 1 unit",
        lambda r: f"{r.barely_moving_pct:.0f} % of {r.held_frames}",
    ),
    ("held frames where the own ship stands still (< 0.05 unit)", lambda r: f"{r.still_frames}"),
    ("own ship steps backward > 0.5 unit (held frames)", lambda r: f"{r.backward_steps}"),
    (
        "largest backward step / largest correction",
        lambda r: f"{r.largest_backward:.1f} / {r.largest_correction:.1f}",
    ),
    ("correction p99 (units)", lambda r: f"{r.correction_p99:.1f}"),
    ("own ship sliding after release (max units)", lambda r: f"{r.slide_max:.1f}"),
    (
        "remote: snaps > 11 units in a frame (largest) / freezes (longest ms)",
        lambda r: (
            f"{r.remote_snaps} ({r.remote_largest_step:.1f}) / "
            f"{r.remote_freezes} ({r.remote_longest_freeze_ms:.0f})"
        ),
    ),
    (
        "remote drawn behind the server p50 (p95), ms",
        lambda r: f"{r.remote_delay_p50_ms:.0f} ({r.remote_delay_p95_ms:.0f})",
    ),
    ("arrival jitter the page measured p50, ms", lambda r: f"{r.jitter_p50_ms:.0f}"),
]


def print_table(results: list[Result]) -> None:
    print("| | " + " | ".join(r.condition for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for label, cell in ROWS:
        print(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")


if __name__ == "__main__":
    main()
