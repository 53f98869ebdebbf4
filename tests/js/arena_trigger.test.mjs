// The arena's trigger: the server fires once per input that carries `fire` (after the
// gun's cooldown), so a quick tap must be one such input however the page's timers run.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ArenaView } from "../../frontend/static/frontend/js/games/arena.js";

/** The view's input part alone (no canvas, no socket): `carry` ticks of movement waiting
 *  at each timer (a late timer), every input sent recorded as whether it fired. */
function page(carry = 0) {
  const sent = [];
  let carries = 0;
  const view = Object.create(ArenaView.prototype);
  Object.assign(view, {
    dt: 1 / 20,
    keys: new Set(),
    fireLatched: false,
    triggerDownAt: null,
    mySeat: 0,
    integrator: {
      take: () => ({ mx: 0, my: 0 }),
      carries: () => (carries-- > 0),
    },
    buffer: { latest: () => ({ state: { finished: false, ships: [{ alive: true }] } }) },
    sendMove: (move, fire) => sent.push(fire),
  });
  const timer = (now) => {
    carries = carry;
    view.tick(now);
  };
  return { view, sent, timer };
}

test("a 30 ms tap during a late timer's carried ticks fires one input", () => {
  const { view, sent, timer } = page(3);
  view.pullTrigger(1000);
  view.touchFire = true;
  timer(1010); // the tap is down while four inputs go out at once
  view.touchFire = false;
  timer(1060);
  assert.equal(sent.filter(Boolean).length, 1, `${sent}`);
});

test("a tap across two bunched timers fires one input", () => {
  const { view, sent, timer } = page();
  view.pullTrigger(1000);
  view.mouseFire = true;
  timer(1005);
  timer(1015); // the next timer right behind a late one, the button still down
  view.mouseFire = false;
  timer(1065);
  assert.deepEqual(sent, [true, false, false]);
});

test("a tap between two timers fires the next input", () => {
  const { view, sent, timer } = page();
  timer(1000);
  view.pullTrigger(1010);
  view.touchFire = true;
  view.touchFire = false; // up before the next timer
  timer(1050);
  timer(1100);
  assert.deepEqual(sent, [false, true, false]);
});

test("a held trigger fires every input once held for a tick, and a new press starts again", () => {
  const { view, sent, timer } = page();
  view.keys.add("Space");
  view.triggerDownAt = 1000; // as pullTrigger on the key's press
  view.fireLatched = true;
  for (const now of [1010, 1060, 1110]) timer(now);
  assert.deepEqual(sent, [true, true, true]);
  view.keys.delete("Space");
  timer(1160);
  view.pullTrigger(1170);
  view.keys.add("Space");
  timer(1180);
  timer(1200); // 30 ms into the new press: not yet held
  assert.deepEqual(sent.slice(3), [false, true, false]);
});
