// The Connect Four page's turn clock stops while the server holds it (the player to move
// waits for one who is away within the grace period) and goes on from there.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConnectFourView, clockHeld } from "../../frontend/static/frontend/js/games/connect_four.js";

const here = (seat) => ({ seat, connected: true, abandoned: false, grace_left: null });
const away = (seat, left = 20) => ({ seat, connected: false, abandoned: false, grace_left: left });

function view(state, at) {
  // The clock's arithmetic only: no canvas.
  const v = Object.create(ConnectFourView.prototype);
  Object.assign(v, { tickRate: 20, players: [], heldLeft: null, state, stateAt: at });
  return v;
}

const state = { to_move: 0, turn_ticks_left: 600, finished: false, moves: 3 };

test("the clock is held while the player to move waits for one who is away", () => {
  assert.equal(clockHeld(state, [here(0), away(1)]), true);
  assert.equal(clockHeld(state, [here(0), here(1)]), false);
  assert.equal(clockHeld(state, [away(0), here(1)]), false, "the mover's own clock runs");
  assert.equal(clockHeld(state, [here(0), { ...away(1), abandoned: true }]), false);
  assert.equal(clockHeld({ ...state, finished: true }, [here(0), away(1)]), false);
});

test("the count stops when the other player goes and resumes from there when they return", () => {
  const v = view(state, 0);
  assert.equal(v.turnSecondsLeft(5000), 25);
  v.onPlayers([here(0), away(1)], 5000);
  assert.equal(v.turnSecondsLeft(5000), 25);
  assert.equal(v.turnSecondsLeft(29000), 25, "held: no count while the other is away");
  v.onPlayers([here(0), here(1)], 29000);
  assert.equal(v.turnSecondsLeft(29000), 25);
  assert.equal(v.turnSecondsLeft(31000), 23, "counting again from where it stood");
});

test("the player to move being away does not stop their own clock", () => {
  const v = view(state, 0);
  v.onPlayers([away(0), here(1)], 5000);
  assert.equal(v.turnSecondsLeft(10000), 20);
});
