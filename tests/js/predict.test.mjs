import assert from "node:assert/strict";
import { test } from "node:test";

import { moveShip, SHIP_RADIUS, WIDTH, shotLag } from "../../frontend/static/frontend/js/games/arena.js";
import {
  ControlIntegrator,
  Correction,
  InputHistory,
  PLAYOUT,
  SnapshotBuffer,
  lerpAngle,
} from "../../frontend/static/frontend/js/predict.js";

test("reconciliation replays only the inputs the server has not acknowledged", () => {
  const history = new InputHistory();
  for (let i = 0; i < 4; i++) history.next({ mx: 1, my: 0, aim: 0, fire: false });
  const server = { x: 100, y: 100, aim: 0 };
  const predicted = history.reconcile(server, 2, (s, input) => moveShip(s, input, 0.05));
  assert.equal(history.pending.length, 2);
  assert.equal(predicted.x, 100 + 2 * 11); // two ticks of 220 units/s at 20 Hz
});

test("after the server numbered inputs of its own (the seat was away), the next input comes after them", () => {
  const history = new InputHistory();
  for (let i = 0; i < 3; i++) history.next({ mx: 1, my: 0, aim: 0, fire: false });
  const server = { x: 100, y: 100, aim: 0 };
  // Reconnected: the server applied a neutral input per tick while the socket was gone.
  assert.deepEqual(history.reconcile(server, 140, (s) => ({ ...s, x: s.x + 1 })), server);
  assert.equal(history.pending.length, 0);
  assert.equal(history.next({ mx: 0, my: 0, aim: 0, fire: false }).seq, 141);
});

test("prediction matches the server's movement: diagonals normalised, walls respected", () => {
  const diagonal = moveShip({ x: 500, y: 300, aim: 0 }, { mx: 1, my: 1, aim: 0 }, 0.05);
  assert.ok(Math.abs(Math.hypot(diagonal.x - 500, diagonal.y - 300) - 11) < 1e-9);
  const wall = moveShip({ x: WIDTH - SHIP_RADIUS - 1, y: 300, aim: 0 }, { mx: 1, my: 0, aim: 0 }, 0.05);
  assert.equal(wall.x, WIDTH - SHIP_RADIUS);
});

test("the snapshot buffer interpolates between the snapshots around render time", () => {
  const buffer = new SnapshotBuffer(50);
  buffer.push(10, { x: 0 }, 0);
  buffer.push(11, { x: 10 }, 50);
  buffer.push(9, { x: 99 }, 60); // late: ignored
  const pair = buffer.around(10.5);
  assert.equal(pair.from.tick, 10);
  assert.equal(pair.to.tick, 11);
  assert.equal(pair.alpha, 0.5);
  // On time, render time trails the newest snapshot by one tick and the least margin.
  assert.ok(Math.abs(buffer.renderTick(50) - (11 - (50 + PLAYOUT.minMs) / 50)) < 1e-9);
});

/** States every 50 ms, each arriving `late(tick)` ms after its place; render every 16 ms. */
function playOut(late, ticks = 400) {
  const buffer = new SnapshotBuffer(50);
  const arrivals = [];
  for (let tick = 1; tick <= ticks; tick++) arrivals.push([tick * 50 + late(tick), tick]);
  arrivals.sort((a, b) => a[0] - b[0]);
  const rendered = [];
  let next = 0;
  for (let now = 50; now < ticks * 50; now += 16) {
    while (next < arrivals.length && arrivals[next][0] <= now) {
      const [at, tick] = arrivals[next++];
      buffer.push(tick, { x: tick * 11 }, at);
    }
    if (!buffer.latest()) continue;
    const t = buffer.renderTick(now);
    const { from, to, alpha } = buffer.around(t);
    rendered.push({ now, t, x: from.state.x + (to.state.x - from.state.x) * alpha, newest: buffer.latest().tick });
  }
  return { buffer, rendered };
}

test("the playout delay follows the measured jitter and stays within its bounds", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const steady = playOut(() => 5);
  assert.ok(steady.buffer.delayMs() <= 50 + PLAYOUT.minMs + 1e-9);
  const jittery = playOut(() => random() * 60);
  const delay = jittery.buffer.delayMs();
  assert.ok(delay > 50 + 40 && delay <= 50 + 60, `delay ${delay}`);
  // Render time keeps behind what has arrived, moving steadily.
  const late = jittery.rendered.slice(100);
  const starved = late.filter((r) => r.t > r.newest).length;
  assert.ok(starved < late.length * 0.1, `starved on ${starved} of ${late.length} frames`);
});

test("the lag an input claims is how far behind the server the other ships are drawn", () => {
  // 40 ms each way (an 80 ms round trip), then the same with jitter on top.
  let seed = 11;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (const late of [() => 40, () => 40 + random() * 60]) {
    const { buffer, rendered } = playOut(late);
    const last = rendered[rendered.length - 1];
    const behind = last.now - last.t * 50; // the server is at tick now / 50
    const claimed = shotLag(buffer, 80, last.now);
    assert.ok(Math.abs(claimed - behind) <= 2, `claimed ${claimed} ms, drawn ${behind} ms behind`);
  }
  assert.equal(shotLag(new SnapshotBuffer(50), null), 60); // no state yet: the target delay
});

test("a held-back burst of states is bridged: no freeze, no snap, then catching up", () => {
  // Ticks 200-203 are held until tick 204's time plus 200 ms (a delayed chunk, order kept).
  const { rendered } = playOut((tick) => (tick >= 200 && tick <= 204 ? 200 + (204 - tick) * 50 : 5));
  const steps = rendered.slice(20).map((r, i, all) => (i ? r.x - all[i - 1].x : 3.5));
  // 11 units a tick is 3.5 a frame; never a jump of a tick's travel, never a standstill.
  assert.ok(Math.max(...steps) < 11, `largest step ${Math.max(...steps)}`);
  assert.ok(Math.min(...steps) >= 0, "never backward");
  let still = 0;
  let longest = 0;
  for (const s of steps) {
    still = s < 0.05 ? still + 1 : 0;
    longest = Math.max(longest, still);
  }
  assert.ok(longest < 3, `stood still for ${longest} frames`);
});

test("movement is integrated between inputs: a short press moves a part of a tick", () => {
  const controls = new ControlIntegrator(50, 0);
  controls.set(1, 0, 30); // pressed 30 ms into the interval
  assert.deepEqual(controls.partial(40), { mx: 0.2, my: 0 });
  const input = controls.take(50);
  assert.deepEqual(input, { mx: 0.4, my: 0 });
  controls.set(0, 0, 60); // released 10 ms into the next
  assert.deepEqual(controls.take(100), { mx: 0.2, my: 0 });
  // A late timer: what did not fit in one input goes into the next.
  controls.set(1, 0, 100);
  const [first, rest] = controls.partials(170);
  assert.deepEqual(first, { mx: 1, my: 0 });
  assert.ok(Math.abs(rest.mx - 0.4) < 1e-9, "predicted as the input and its carry");
  assert.deepEqual(controls.take(170), { mx: 1, my: 0 });
  assert.ok(Math.abs(controls.partial(170).mx - 0.4) < 1e-9);
  // An event stamped before the interval began (handled after the input went) counts from its start.
  controls.set(0, 0, 160);
  assert.ok(Math.abs(controls.take(200).mx - 0.4) < 1e-9);
});

test("a timer 200 ms late loses no movement: what built up goes out as one input a tick", () => {
  const controls = new ControlIntegrator(50, 0);
  controls.set(1, 0, 0);
  const predicted = controls.partials(200);
  assert.deepEqual(predicted.map((p) => p.mx), [1, 1, 1, 1]); // drawn four ticks on, not two
  const sent = [controls.take(200)];
  while (controls.carries()) sent.push(controls.take(200));
  assert.deepEqual(sent.map((p) => p.mx), [1, 1, 1, 1]);
  assert.ok(!controls.carries());
});

test("the predicted path at frame rate ends where the inputs sent take the ship", () => {
  const controls = new ControlIntegrator(50, 0);
  let ship = { x: 100, y: 100, aim: 0 };
  const events = [[12, 1], [137, 0]]; // pressed at 12 ms, released at 137 ms
  for (let t = 10; t <= 200; t += 10) {
    if (events.length && events[0][0] <= t) controls.set(events.shift()[1], 0, t === 20 ? 12 : 137);
    if (t % 50 === 0) ship = moveShip(ship, { ...controls.take(t), aim: 0 }, 0.05);
  }
  assert.ok(Math.abs(ship.x - (100 + 0.125 * 220)) < 1e-6, `${ship.x}`);
});

test("a correction never moves the ship backward while a key is held", () => {
  const correction = new Correction(11, 80);
  const right = { x: 1, y: 0 };
  correction.add(9, 2); // drawn 9 units ahead of the new prediction
  let x = 0;
  for (let frame = 0; frame < 60; frame++) {
    const before = x + correction.x;
    correction.step({ x: 3.7, y: 0 }, right, 16.7);
    x += 3.7;
    const step = x + correction.x - before;
    assert.ok(step >= 0.3 * 3.7 - 1e-9, `frame ${frame}: step ${step}`);
  }
  assert.ok(Math.hypot(correction.x, correction.y) < 0.05);
  // Released: a small error fades within a few frames.
  correction.add(-3, 0);
  for (let frame = 0; frame < 12; frame++) correction.step({ x: 0, y: 0 }, null, 16.7);
  assert.ok(Math.abs(correction.x) < 0.1);
  // Over a tick's travel: what is ahead is absorbed, the rest shown at once.
  correction.add(15, -12);
  correction.step({ x: 3.7, y: 0 }, right, 16.7);
  assert.equal(correction.y, 0);
  assert.ok(correction.x > 0 && correction.x <= 15);
});

test("angles interpolate the short way round", () => {
  const a = lerpAngle(0.1, 2 * Math.PI - 0.1, 0.5);
  assert.ok(Math.abs(Math.sin(a)) < 1e-9 && Math.cos(a) > 0);
});

test("a match's first state, sent before the countdown, does not count as a late arrival", () => {
  // The runner sends tick 0 when the match starts and tick 1 one tick after GO: 3 s of
  // countdown later. Counted, tick 0 made every state after GO look 3 s early, the
  // playout delay its maximum, and the render clock run seconds past the newest state.
  const buffer = new SnapshotBuffer(50);
  const ship = (x) => ({ ships: [{ seat: 0, x, y: 100, angle: 0, alive: true }], bullets: [] });
  buffer.push(0, ship(0), 0);
  for (let now = 0; now < 3000; now += 16) {
    assert.equal(buffer.renderTick(now), 0, "held at the first state through the countdown");
  }
  let now = 3000;
  for (let tick = 1; tick <= 40; tick += 1) {
    now = 3000 + tick * 50;
    buffer.push(tick, ship(tick * 11), now);
    for (let t = now; t < now + 50; t += 16) buffer.renderTick(t);
  }
  const tick = buffer.renderTick(now);
  assert.ok(tick <= 40 && tick >= 40 - 3, `drawn at tick ${tick}, a playout delay behind tick 40`);
  assert.ok(buffer.delayMs() < 100, `delay ${buffer.delayMs()} ms on a steady link`);
});
