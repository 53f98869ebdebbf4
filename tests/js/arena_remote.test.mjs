// Other ships in the arena view: a tick in which a ship held still because its
// player's input missed the tick is glided across, not drawn as a stop.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ArenaView } from "../../frontend/static/frontend/js/games/arena.js";
import { SnapshotBuffer } from "../../frontend/static/frontend/js/predict.js";

/** The view's remote-ship part alone (no canvas): states of ship 1 at 100 + x (clear of
 *  the walls), seat 0 is ours. */
function remote(xs, repeated) {
  const buffer = new SnapshotBuffer(50);
  xs.forEach((x, i) => {
    const ship = { seat: 1, x: 100 + x, y: 300, aim: 0, alive: true, repeated: repeated.includes(i + 1) };
    buffer.push(i + 1, { ships: [{ seat: 0, x: 0, y: 0, aim: 0, alive: true }, ship] }, (i + 1) * 50);
  });
  const view = { buffer, mySeat: 0, bridged: ArenaView.prototype.bridged };
  return (tick) => ArenaView.prototype.remoteAt.call(view, tick).get(1).x - 100;
}

test("a ship whose input missed a tick glides across it instead of stopping", () => {
  const at = remote([0, 11, 11, 22, 33], [3]); // tick 3: held still, the input came at 4
  const drawn = [2, 2.25, 2.5, 2.75, 3, 3.25, 3.5, 3.75, 4].map(at);
  for (let i = 1; i < drawn.length; i++) assert.ok(drawn[i] > drawn[i - 1], `${drawn}`);
  assert.equal(at(3), 16.5); // halfway across the two ticks
  assert.equal(at(4), 22);
});

test("a ship that stopped (its inputs said so) is drawn stopped", () => {
  const at = remote([0, 11, 11, 22], []);
  assert.equal(at(2.5), 11);
});

test("held controls repeated over several ticks are not taken for a missed input", () => {
  const at = remote([0, 11, 22, 33, 44], [2, 3, 4]); // a computer player between looks
  assert.equal(at(2.5), 16.5);
  assert.equal(at(3.5), 27.5);
});
