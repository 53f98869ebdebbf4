// The arena's stick on touch screens: how far a thumb on the pad deflects it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { deflection } from "../../frontend/static/frontend/js/touch.js";

const origin = { x: 100, y: 200 };

test("a thumb near the centre steers nothing (a tap or a resting thumb never drifts)", () => {
  assert.deepEqual(deflection(origin, 60, 105, 203), { dx: 0, dy: 0 });
});

test("the deflection grows with the distance from the centre, full at the reach", () => {
  assert.deepEqual(deflection(origin, 60, 130, 200), { dx: 0.5, dy: 0 });
  assert.deepEqual(deflection(origin, 60, 100, 140), { dx: 0, dy: -1 });
});

test("past the rim it stays full in the thumb's direction, inside the unit circle", () => {
  const { dx, dy } = deflection(origin, 60, 400, 500);
  assert.ok(Math.abs(Math.hypot(dx, dy) - 1) < 1e-12);
  assert.ok(Math.abs(dx - dy) < 1e-12);
});
