// The effects on the game canvases (frontend/static/frontend/js/games/effects.js and the
// Connect Four drop): what two consecutive arena states say happened, what the kill feed
// and the HP bars show from it, and where a dropped disc is as it falls.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ConnectFourView,
  DROP_MS,
  cellY,
  fallAt,
  fallMs,
} from "../../frontend/static/frontend/js/games/connect_four.js";
import { ArenaEffects, EFFECT_MS, FEED, deriveEvents } from "../../frontend/static/frontend/js/games/effects.js";

const ship = (seat, extra = {}) => ({ seat, x: 100 + seat * 100, y: 200, hp: 3, score: 0, alive: true, removed: false, ...extra });
const state = (tick, ships) => ({ tick, ships });
const THREE = [ship(0), ship(1), ship(2)];

test("an unchanged state, or a first one, says nothing happened", () => {
  assert.deepEqual(deriveEvents(state(1, THREE), state(2, THREE.map((s) => ({ ...s, x: s.x + 5 })))), []);
  assert.deepEqual(deriveEvents(null, state(1, THREE)), []);
});

test("hp falling on a ship still flying is a hit", () => {
  const after = state(2, [ship(0), ship(1, { hp: 2 }), ship(2)]);
  assert.deepEqual(deriveEvents(state(1, THREE), after), [{ kind: "hit", seat: 1, damage: 1, tick: 2 }]);
  const twice = state(2, [ship(0), ship(1, { hp: 1 }), ship(2)]); // a state between them lost
  assert.equal(deriveEvents(state(1, THREE), twice)[0].damage, 2);
});

test("a ship that stops being alive is destroyed, by the seat whose score rose, where it was", () => {
  const before = state(5, [ship(0), ship(1, { hp: 1 }), ship(2)]);
  const after = state(6, [ship(0), ship(1, { hp: 0, alive: false, x: 321, y: 123 }), ship(2, { score: 1 })]);
  assert.deepEqual(deriveEvents(before, after), [{ kind: "destroyed", seat: 1, by: 2, x: 321, y: 123, tick: 6 }]);
});

test("two ships destroyed in one tick are each given a killer that is not themselves", () => {
  const before = state(5, [ship(0, { hp: 1 }), ship(1, { hp: 1 }), ship(2)]);
  const after = state(6, [
    ship(0, { hp: 0, alive: false, score: 1 }),
    ship(1, { hp: 0, alive: false }),
    ship(2, { score: 1 }),
  ]);
  const events = deriveEvents(before, after);
  assert.deepEqual(events.map((e) => [e.seat, e.by]), [[0, 2], [1, 0]]);
});

test("a ship destroyed while nobody's score rose has no known killer", () => {
  const after = state(6, [ship(0), ship(1, { hp: 0, alive: false }), ship(2)]);
  assert.equal(deriveEvents(state(5, THREE), after)[0].by, null);
});

test("a ship alive again is a respawn, and its full hp is no hit", () => {
  const before = state(40, [ship(0), ship(1, { hp: 0, alive: false }), ship(2)]);
  assert.deepEqual(deriveEvents(before, state(41, THREE)), [{ kind: "respawn", seat: 1, tick: 41 }]);
});

test("a ship that left is neither destroyed nor respawned", () => {
  const after = state(6, [ship(0), ship(1, { alive: false, removed: true }), ship(2)]);
  assert.deepEqual(deriveEvents(state(5, THREE), after), []);
});

test("states far apart (a reconnect) or out of order are not compared", () => {
  const after = (tick) => state(tick, [ship(0), ship(1, { hp: 1 }), ship(2)]);
  assert.deepEqual(deriveEvents(state(5, THREE), after(5 + 21)), []);
  assert.deepEqual(deriveEvents(state(5, THREE), after(4)), []);
  assert.equal(deriveEvents(state(5, THREE), after(5 + 20)).length, 1);
});

function effects(options = {}) {
  const names = ["Alice", "Bob", "Carol"];
  return new ArenaEffects({ mySeat: 0, nameOf: (s) => names[s], maxHp: 3, motion: { reduced: false }, ...options });
}

/** Feed the kill of `seat` by `by` at `tick` into `fx` (its states before and after). */
function kill(fx, seat, by, tick, now) {
  const alive = [ship(0), ship(1), ship(2)];
  fx.onState(tick - 1, state(tick - 1, alive), now);
  const after = alive.map((s) => ({ ...s }));
  after[seat] = ship(seat, { hp: 0, alive: false });
  after[by] = ship(by, { score: 1 });
  fx.onState(tick, state(tick, after), now);
  fx.last = null; // each kill from a fresh pair
}

test("the kill feed names the killer and the victim, you as you", () => {
  const fx = effects();
  kill(fx, 1, 0, 10, 0);
  kill(fx, 0, 2, 20, 0);
  kill(fx, 2, 1, 30, 0);
  assert.deepEqual(fx.debug().feed, ["You destroyed Bob", "Carol destroyed you", "Bob destroyed Carol"]);
  assert.deepEqual(fx.debug().counts, { hit: 0, destroyed: 3, respawn: 0 });
});

test("the kill feed keeps its newest lines and lets each go after a while", () => {
  const fx = effects();
  for (let n = 0; n < FEED.lines + 2; n++) kill(fx, 1, 2, 10 * (n + 1), n * 1000);
  assert.equal(fx.feed.length, FEED.lines);
  fx.update(FEED.lines * 1000 + 1 + FEED.ms, 0);
  assert.equal(fx.feed.length, 1); // the last one, added at (lines + 1) s
  fx.update((FEED.lines + 1) * 1000 + FEED.ms + 1, 0);
  assert.equal(fx.feed.length, 0);
});

test("another ship's effects start when it is drawn at their tick, ours at once, and end", () => {
  const fx = effects();
  fx.onState(9, state(9, THREE), 0);
  fx.onState(10, state(10, [ship(0, { hp: 2 }), ship(1, { hp: 2 }), ship(2)]), 0);
  fx.update(10, 9.5); // the other ships are drawn half a tick earlier
  assert.deepEqual(fx.debug().active, [{ kind: "hit", seat: 0 }]);
  assert.ok(fx.flash(0) > 0.8 && fx.flash(1) === 0);
  fx.update(30, 10);
  assert.deepEqual(fx.debug().active.map((e) => e.seat), [0, 1]);
  assert.ok(fx.flash(0) < fx.flash(1));
  fx.update(30 + EFFECT_MS.hit, 11);
  assert.deepEqual(fx.debug().active, []);
  assert.equal(fx.flash(1), 0);
});

test("a respawned ship fades in; with reduced motion it is simply there", () => {
  const dead = [ship(0), ship(1, { hp: 0, alive: false }), ship(2)];
  for (const reduced of [false, true]) {
    const fx = effects({ motion: { reduced } });
    fx.onState(40, state(40, dead), 0);
    fx.onState(41, state(41, THREE), 0);
    fx.update(0, 41);
    assert.equal(fx.opacity(1) < 0.5, !reduced);
    assert.equal(fx.debug().counts.respawn, 1);
  }
});

test("an HP bar shrinks at once and shows what was lost, draining", () => {
  const fx = effects();
  fx.update(0, 0);
  assert.deepEqual([fx.bar(1, 3).shown, fx.bar(1, 3).lost], [1, 1]);
  fx.update(100, 1);
  const hit = fx.bar(1, 2);
  assert.equal(hit.shown, 2 / 3);
  assert.equal(hit.lost, 1);
  fx.update(300, 2);
  const draining = fx.bar(1, 2).lost;
  assert.ok(draining < 1 && draining > 2 / 3, String(draining));
  fx.update(2000, 3);
  assert.equal(fx.bar(1, 2).lost, 2 / 3);
  assert.equal(fx.debug().bars[1], 2 / 3);
});

test("a dropped disc falls downward, faster and faster, and ends in its cell", () => {
  for (const row of [0, 3, 5]) {
    const ms = fallMs(row);
    const ys = [0, 0.25, 0.5, 0.75].map((t) => fallAt(row, t * ms, ms).y);
    for (let i = 1; i < ys.length; i++) assert.ok(ys[i] > ys[i - 1]);
    assert.ok(ys[3] - ys[2] > ys[1] - ys[0]); // gravity's ease
    assert.deepEqual(fallAt(row, ms, ms), { y: cellY(row), landed: true });
  }
  assert.equal(fallMs(0), DROP_MS);
  assert.ok(fallMs(5) < fallMs(0));
  assert.deepEqual(fallAt(2, 10, 0), { y: cellY(2), landed: true }); // reduced motion
});

test("the Connect Four view drops the disc of one new move, not of a page's first state", () => {
  const view = Object.assign(Object.create(ConnectFourView.prototype), {
    mySeat: 0, nameOf: () => "Bob", announce: () => {}, state: null, falling: null,
  });
  const board = (...columns) => Array.from({ length: 7 }, (_, c) => columns[c] || []);
  view.onState(1, { moves: 2, board: board([0, 1]), to_move: 0, finished: false, line: [] });
  assert.equal(view.falling, null);
  view.onState(2, { moves: 3, board: board([0, 1], [], [], [0]), to_move: 1, finished: false, line: [] });
  assert.deepEqual([view.falling.move, view.falling.column, view.falling.row], [3, 3, 0]);
  view.onState(3, { moves: 5, board: board([0, 1, 1], [], [], [0, 0]), to_move: 1, finished: false, line: [] });
  assert.equal(view.falling, null); // two moves at once (a reconnect): shown where they are
});

test("effects whose moment passed unseen (a hidden tab) are dropped, not played at once", () => {
  const fx = effects();
  fx.onState(9, state(9, THREE), 0);
  fx.onState(10, state(10, [ship(0), ship(1, { hp: 2 }), ship(2)]), 0);
  fx.update(5000, 10 + 21); // the first frame drawn since, the render clock far on
  assert.deepEqual(fx.debug().active, []);
  assert.equal(fx.flash(1), 0);
  assert.equal(fx.debug().counts.hit, 1); // it happened, all the same
});
