import assert from "node:assert/strict";
import { test } from "node:test";

import { moveShip, SHIP_RADIUS, WIDTH } from "../../frontend/static/frontend/js/games/arena.js";
import { InputHistory, SnapshotBuffer, lerpAngle } from "../../frontend/static/frontend/js/netcode.js";

test("reconciliation replays only the inputs the server has not acknowledged", () => {
  const history = new InputHistory();
  for (let i = 0; i < 4; i++) history.next({ mx: 1, my: 0, aim: 0, fire: false });
  const server = { x: 100, y: 100, aim: 0 };
  const predicted = history.reconcile(server, 2, (s, input) => moveShip(s, input, 0.05));
  assert.equal(history.pending.length, 2);
  assert.equal(predicted.x, 100 + 2 * 11); // two ticks of 220 units/s at 20 Hz
});

test("prediction matches the server's movement: diagonals normalised, walls respected", () => {
  const diagonal = moveShip({ x: 500, y: 300, aim: 0 }, { mx: 1, my: 1, aim: 0 }, 0.05);
  assert.ok(Math.abs(Math.hypot(diagonal.x - 500, diagonal.y - 300) - 11) < 1e-9);
  const wall = moveShip({ x: WIDTH - SHIP_RADIUS - 1, y: 300, aim: 0 }, { mx: 1, my: 0, aim: 0 }, 0.05);
  assert.equal(wall.x, WIDTH - SHIP_RADIUS);
});

test("the snapshot buffer interpolates between the snapshots around render time", () => {
  const buffer = new SnapshotBuffer(50, 2);
  buffer.push(10, { x: 0 }, 0);
  buffer.push(11, { x: 10 }, 50);
  buffer.push(9, { x: 99 }, 60); // late: ignored
  const pair = buffer.around(10.5);
  assert.equal(pair.from.tick, 10);
  assert.equal(pair.to.tick, 11);
  assert.equal(pair.alpha, 0.5);
  // Render time trails the newest snapshot by two ticks.
  assert.ok(Math.abs(buffer.renderTick(50) - 9) < 1e-9);
});

test("angles interpolate the short way round", () => {
  const a = lerpAngle(0.1, 2 * Math.PI - 0.1, 0.5);
  assert.ok(Math.abs(Math.sin(a)) < 1e-9 && Math.cos(a) > 0);
});
