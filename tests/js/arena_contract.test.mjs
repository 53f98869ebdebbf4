// The determinism contract between the client's prediction and the server: the
// arena's `moveShip` must land where games/engine/arena.py puts the ship, for the
// same inputs, to within 1e-9 units (Math.hypot and Python's math.hypot may round the
// last bit of a diagonal's length differently). tests/test_client_js.py generates the engine's cases and runs this
// file with ARENA_CONTRACT_CASES pointing at them (without it the test is skipped).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { moveShip } from "../../frontend/static/frontend/js/games/arena.js";

const path = process.env.ARENA_CONTRACT_CASES;

test("moveShip steps ships exactly as the engine does", { skip: !path && "run through pytest" }, () => {
  const cases = JSON.parse(readFileSync(path, "utf8"));
  let steps = 0;
  for (const [index, c] of cases.entries()) {
    let ship = { ...c.start };
    let last = { mx: 0, my: 0, aim: 0, fire: false }; // the engine's controls before any input
    for (const [tick, step] of c.steps.entries()) {
      // No input this tick: held controls repeat; an input of ticks of movement does not.
      if (step.input) last = step.input;
      if (step.input || !last.ticks) ship = moveShip(ship, last, c.dt);
      else ship = { ...ship, aim: last.aim };
      const [x, y, aim] = step.expected;
      const off = Math.max(Math.abs(ship.x - x), Math.abs(ship.y - y));
      assert.ok(off <= 1e-9, `case ${index}, tick ${tick + 1}: ${ship.x}, ${ship.y} != ${x}, ${y}`);
      assert.equal(ship.aim, aim, `case ${index}, tick ${tick + 1}: aim`);
      steps += 1;
    }
  }
  assert.ok(steps > 1000, `only ${steps} steps`);
});
