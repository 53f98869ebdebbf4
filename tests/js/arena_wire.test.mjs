// The browser's decoder of compact arena states against frames the server encoded
// (tests/js/fixtures/arena_frames.json, kept current by tests/test_client_js.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { decodeSnapshot, snapshotView } from "../../frontend/static/frontend/js/games/arena_wire.js";
import { ReconnectingSocket } from "../../frontend/static/frontend/js/net.js";
import { COMPACT } from "../../frontend/static/frontend/js/games/index.js";

const FRAMES = JSON.parse(readFileSync(new URL("./fixtures/arena_frames.json", import.meta.url)));
const RATE = 20;
const bytesOf = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));

function assertSameView(mine, theirs) {
  assert.deepEqual({ ...mine, bullets: [] }, { ...theirs, bullets: [] });
  assert.deepEqual(mine.bullets.map((b) => b[0]), theirs.bullets.map((b) => b[0]));
  mine.bullets.forEach((b, i) => b.forEach((v, j) => assert.ok(Math.abs(v - theirs.bullets[i][j]) < 0.11)));
}

test("full and delta frames decode to the views the server meant", () => {
  const bases = new Map();
  let deltas = 0;
  for (const { hex, view } of FRAMES) {
    const bytes = bytesOf(hex);
    if (bytes[0] === 2) deltas += 1;
    const { snapshot } = decodeSnapshot(bytes, bases);
    bases.set(snapshot.tick, snapshot);
    assertSameView(snapshotView(snapshot, RATE), view);
  }
  assert.ok(deltas > 20);
});

test("a delta whose base the client lacks decodes to nothing", () => {
  const delta = FRAMES.find(({ hex }) => hex.startsWith("02"));
  assert.equal(decodeSnapshot(bytesOf(delta.hex), new Map()), null);
});

class FakeSocket {
  static last = null;
  constructor(url, protocols) { this.protocols = protocols; this.readyState = 1; this.bufferedAmount = 0; this.sent = []; FakeSocket.last = this; }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() {}
}

function arenaConnection() {
  const connection = new ReconnectingSocket("ws://test/ws/match/x/", { WebSocketImpl: FakeSocket, pingMs: 60_000, compact: COMPACT });
  connection.connect();
  const socket = FakeSocket.last;
  socket.onopen();
  socket.onmessage({ data: JSON.stringify({ type: "welcome", match: { game: "arena", tick_rate: RATE }, state: null }) });
  socket.sent = [];
  const frames = [];
  connection.addEventListener("frame", (e) => frames.push(e.detail));
  const deliver = (hex) => { const b = bytesOf(hex); socket.onmessage({ data: b.buffer }); };
  return { connection, socket, frames, deliver };
}

test("a compact connection offers compact first, acknowledges states and rebuilds them", () => {
  const { connection, socket, frames, deliver } = arenaConnection();
  assert.deepEqual(socket.protocols, ["arcade.v1.compact", "arcade.v1.msgpack", "arcade.v1.json"]);
  for (const { hex } of FRAMES.slice(0, 5)) deliver(hex);
  assert.deepEqual(frames.map((f) => f.type), ["state", "state", "state", "state", "state"]);
  assertSameView(frames[4].state, FRAMES[4].view);
  // No inputs flowing (a spectator): each state is acknowledged on its own.
  assert.deepEqual(socket.sent.map((m) => m.type), ["ack", "ack", "ack", "ack", "ack"]);
  assert.equal(socket.sent[4].tick, frames[4].tick);
  // A player's inputs carry the acknowledgement instead.
  connection.sendInput({ seq: 1 });
  assert.equal(socket.sent.at(-1).ack, frames[4].tick);
  connection.close();
});

test("a delta from a forgotten state asks the server for a resync", () => {
  const { connection, socket, frames, deliver } = arenaConnection();
  deliver(FRAMES.find(({ hex }) => hex.startsWith("02")).hex);
  assert.equal(frames.length, 0);
  assert.deepEqual(socket.sent, [{ type: "resync" }]);
  connection.close();
});
