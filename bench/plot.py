"""Plot capacity runs: p99 latency and server CPU against players, one line per run.

    .venv/bin/python bench/plot.py --out docs/images/capacity.png \\
        "daphne=/tmp/daphne.json" "daphne floor=/tmp/floor.json" ...

Each argument is LABEL=PATH, PATH a JSON file `bench/load.py --out` wrote (or the
folder it wrote into: its newest file). The chart is drawn as SVG and, for a
.png output, rendered by Debian's Chromium (Playwright, as the browser tests run
it), so the benchmark needs no plotting library.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
COLOURS = ["#1f5fbf", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#555555", "#b8860b"]
WIDTH, HEIGHT = 960, 440
PANEL = {"left": 60, "top": 40, "width": 380, "height": 300}


def load(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = max(path.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return dict(json.loads(path.read_text()))


def series(run: dict[str, Any]) -> list[tuple[int, float, float]]:
    """(players, p99 ms, server CPU % summed over processes) per step."""
    rows = []
    for step in run["steps"]:
        cpu = sum(s["cpu_percent"] for s in step["servers"])
        rows.append((int(step["players"]), float(step["p99_ms"]), cpu))
    return rows


def nice(value: float) -> float:
    """The round number at or above `value` that five grid steps divide evenly."""
    for step in (1, 2, 4, 5, 10, 20, 25, 40, 50, 100, 200, 250, 500, 1000):
        if value <= 5 * step:
            return 5.0 * step
    return float(value)


def svg(runs: list[tuple[str, list[tuple[int, float, float]]]], title: str) -> str:
    players = [p for _, rows in runs for p, _, _ in rows] or [0]
    x_max = nice(max(players))
    p99_max = nice(min(max((r[1] for _, rows in runs for r in rows), default=100.0), 400.0))
    cpu_max = nice(max(100.0, max((r[2] for _, rows in runs for r in rows), default=100.0)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
    ]
    panels = [
        (f"p99 latency, ms (drawn at most {p99_max:.0f})", 1, p99_max, 100.0, 0),
        ("server CPU, % of a core", 2, cpu_max, None, 470),
    ]
    for label, column, y_max, limit, offset in panels:
        left, top = PANEL["left"] + offset, PANEL["top"]
        w, h = PANEL["width"], PANEL["height"]

        # Bound now: each panel's own origin and scale.
        def x(v: float, left: float = left, w: float = w) -> float:
            return left + w * v / x_max

        def y(v: float, top: float = top, h: float = h, y_max: float = y_max) -> float:
            return top + h - h * min(v, y_max) / y_max

        parts.append(
            f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>'
        )
        parts.append(f'<text x="{left + w / 2}" y="{top - 6}" text-anchor="middle">{label}</text>')
        parts.append(
            f'<text x="{left + w / 2}" y="{top + h + 32}" text-anchor="middle">players</text>'
        )
        for i in range(6):
            xv, yv = x_max * i / 5, y_max * i / 5
            parts.append(
                f'<text x="{x(xv)}" y="{top + h + 16}" text-anchor="middle">{xv:.0f}</text>'
            )
            parts.append(f'<text x="{left - 6}" y="{y(yv) + 4}" text-anchor="end">{yv:.0f}</text>')
        if limit is not None:
            parts.append(
                f'<line x1="{left}" x2="{left + w}" y1="{y(limit)}" y2="{y(limit)}" '
                'stroke="#999" stroke-dasharray="4 4"/>'
            )
        for index, (_name, rows) in enumerate(runs):
            colour = COLOURS[index % len(COLOURS)]
            points = " ".join(f"{x(r[0]):.1f},{y(r[column]):.1f}" for r in rows)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}"/>')
            for r in rows:
                parts.append(
                    f'<circle cx="{x(r[0]):.1f}" cy="{y(r[column]):.1f}" r="2.5" fill="{colour}"/>'
                )
    for index, (name, _rows) in enumerate(runs):
        colour = COLOURS[index % len(COLOURS)]
        lx, ly = PANEL["left"] + 10 + 290 * (index % 3), HEIGHT - 22 + 16 * (index // 3)
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16}" y="{ly - 4}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_png(markup: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.set_content(f'<body style="margin:0">{markup}</body>')
            page.locator("svg").screenshot(path=str(out))
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="LABEL=PATH of a bench/load.py JSON output")
    parser.add_argument("--out", type=Path, required=True, help="an .svg or .png file")
    parser.add_argument("--title", default="Capacity: 8-player arena at 20 Hz, one server core")
    args = parser.parse_args()
    runs = []
    for item in args.runs:
        label, _, path = item.partition("=")
        if not path:
            parser.error(f"{item!r}: expected LABEL=PATH")
        runs.append((label, series(load(Path(path)))))
    markup = svg(runs, args.title)
    if args.out.suffix == ".svg":
        args.out.write_text(markup)
    else:
        write_png(markup, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
