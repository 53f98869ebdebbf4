// Unit tests of the client library (frontend/static/frontend/js), run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BACKED_UP_BYTES, ClockSync, MatchConnection, backoffDelay, matchSocketUrl,
} from "../../frontend/static/frontend/js/net.js";

class FakeSocket {
  static last = null;
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 1;
    this.bufferedAmount = 0;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() {}
}

function openConnection() {
  const connection = new MatchConnection("ws://test/ws/match/x/", { WebSocketImpl: FakeSocket, pingMs: 60_000 });
  connection.connect();
  FakeSocket.last.onopen();
  FakeSocket.last.sent = []; // drop the first ping
  return { connection, socket: FakeSocket.last };
}

test("inputs go straight out while the socket keeps up", () => {
  const { connection, socket } = openConnection();
  assert.equal(connection.sendInput({ seq: 1 }), true);
  assert.equal(connection.sendInput({ seq: 2 }), true);
  assert.deepEqual(socket.sent.map((m) => m.data.seq), [1, 2]);
  connection.close();
});

test("a backed-up socket coalesces inputs: only the newest is sent once it drains", () => {
  const { connection, socket } = openConnection();
  const warnings = [];
  connection.addEventListener("backpressure", (e) => warnings.push(e.detail.backedUp));
  socket.bufferedAmount = BACKED_UP_BYTES + 1;
  for (let seq = 1; seq <= 5; seq++) assert.equal(connection.sendInput({ seq }), false);
  connection.flush(); // still backed up: nothing goes out
  assert.deepEqual(socket.sent, []);
  socket.bufferedAmount = 0;
  connection.flush();
  assert.deepEqual(socket.sent.map((m) => m.data.seq), [5]);
  connection.flush();
  assert.equal(socket.sent.length, 1, "a coalesced input is sent once");
  assert.deepEqual(warnings, [true, false]);
  connection.close();
});

test("close codes the client must not retry end in a final status, others reconnect", () => {
  const { connection, socket } = openConnection();
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail));
  socket.onmessage({ data: JSON.stringify({ type: "closing", code: 4003, reason: "You are banned: cheating" }) });
  socket.onclose({ code: 4003, reason: "" });
  assert.equal(statuses.at(-1).state, "final");
  assert.equal(statuses.at(-1).text, "You are banned: cheating");

  const second = openConnection();
  const seen = [];
  second.connection.addEventListener("status", (e) => seen.push(e.detail));
  second.socket.onclose({ code: 1006, reason: "" });
  assert.equal(seen.at(-1).state, "reconnecting");
  assert.equal(seen.at(-1).text, "The connection was lost.");
  second.connection.close();
});

test("backoff doubles up to a cap, with jitter between half and one and a half times", () => {
  assert.equal(backoffDelay(0, () => 0.5), 500);
  assert.equal(backoffDelay(3, () => 0.5), 4000);
  assert.equal(backoffDelay(20, () => 0.5), 15000);
  assert.equal(backoffDelay(1, () => 0), 500);
  assert.ok(backoffDelay(1, () => 0.999) < 1500);
});

test("states arrive as msgpack binary frames and are decoded like text ones", async () => {
  const { encode } = await import("../../frontend/static/frontend/vendor/msgpack/index.mjs");
  const { connection, socket } = openConnection();
  assert.deepEqual(socket.protocols, ["arcade.v1.msgpack", "arcade.v1.json"]);
  assert.equal(socket.binaryType, "arraybuffer");
  const frames = [];
  connection.addEventListener("frame", (e) => frames.push(e.detail));
  const state = { type: "state", tick: 7, state: { ships: [{ x: 1.5 }] }, events: [] };
  const bytes = encode(state);
  socket.onmessage({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  socket.onmessage({ data: JSON.stringify({ type: "chat", text: "hi" }) });
  assert.deepEqual(frames, [state, { type: "chat", text: "hi" }]);
  assert.equal(connection.binaryFrames, 1);
  connection.close();
});

test("the socket URL follows the page: wss on https, ws on http, same host", () => {
  assert.equal(matchSocketUrl("m1", { protocol: "https:", host: "game.example:8443" }), "wss://game.example:8443/ws/match/m1/");
  assert.equal(matchSocketUrl("m1", { protocol: "http:", host: "127.0.0.1:8000" }), "ws://127.0.0.1:8000/ws/match/m1/");
});

test("clock sync trusts the sample with the lowest round trip", () => {
  const clock = new ClockSync();
  clock.add({ t: 1000, server_time: 5100 }, 1200); // rtt 200: offset 5100 + 100 - 1200 = 4000
  clock.add({ t: 2000, server_time: 6010 }, 2020); // rtt 20: offset 6010 + 10 - 2020 = 4000
  clock.add({ t: 3000, server_time: 9000 }, 3400); // rtt 400, skewed: ignored
  assert.equal(clock.offset, 4000);
  assert.equal(clock.rtt, 400);
  assert.equal(clock.serverNow(10_000), 14_000);
});

test("a socket over the connection cap says why in words and retries slowly", () => {
  const { connection, socket } = openConnection();
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail));
  const reason = "You have 16 connections open already; close another tab first.";
  socket.onmessage({ data: JSON.stringify({ type: "closing", code: 4029, reason }) });
  socket.onclose({ code: 4029, reason: "" });
  const last = statuses.at(-1);
  assert.equal(last.state, "reconnecting");
  assert.equal(last.text, reason);
  assert.ok(last.delay >= 2000, `a refused slot is not retried at once (${last.delay} ms)`);
  connection.close();

  // Without the closing frame (an older server) the code alone is put in words.
  const second = openConnection();
  const seen = [];
  second.connection.addEventListener("status", (e) => seen.push(e.detail));
  second.socket.onclose({ code: 4029, reason: "" });
  assert.equal(seen.at(-1).text, "Too many open connections: close another tab.");
  second.connection.close();
});

test("a socket closed for reading too slowly says so and reconnects with backoff", () => {
  const { connection, socket } = openConnection();
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail));
  socket.onclose({ code: 4011, reason: "" });
  assert.equal(statuses.at(-1).state, "reconnecting");
  assert.equal(statuses.at(-1).text, "Your connection was too slow to keep up with the match.");
  assert.ok(statuses.at(-1).delay < 1000, "the first retry comes soon");
  connection.close();
});

test("an unknown socket path is final; an unavailable server is retried with growing delays", () => {
  const { connection, socket } = openConnection();
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail));
  socket.onclose({ code: 4404, reason: "" });
  assert.equal(statuses.at(-1).state, "final");
  assert.equal(statuses.at(-1).text, "There is nothing to connect to at this address.");

  const second = openConnection();
  const seen = [];
  second.connection.addEventListener("status", (e) => seen.push(e.detail));
  second.connection.attempt = 4; // four failed attempts already
  second.socket.onclose({ code: 4013, reason: "" });
  assert.equal(seen.at(-1).state, "reconnecting");
  assert.equal(seen.at(-1).text, "The server is briefly unavailable.");
  assert.ok(seen.at(-1).delay >= 4000, "backoff grows with each failed attempt");
  second.connection.close();
});
