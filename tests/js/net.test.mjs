// Unit tests of the client library (frontend/static/frontend/js), run by `node --test`.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import {
  BACKED_UP_BYTES, CONNECT_TIMEOUT_MS, ClockSync, ReconnectingSocket, backoffDelay, matchSocketUrl,
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
  close(code) { this.closedWith = code; }
}

function openConnection() {
  const connection = new ReconnectingSocket("ws://test/ws/match/x/", { WebSocketImpl: FakeSocket, pingMs: 60_000 });
  connection.connect();
  FakeSocket.last.onopen();
  FakeSocket.last.onmessage({ data: JSON.stringify({ type: "welcome", match: { game: "arena", tick_rate: 20 } }) });
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

// Connections the silence tests open: closed after each test, passed or failed, so that
// no timer of theirs keeps the test process alive.
const watched = [];
afterEach(() => watched.splice(0).forEach((connection) => connection.close()));

/**
 * A connection on a fake socket that counts a link silent after 2 s, and what it
 * reported; t0 is when it last heard the server (the times below count from it).
 */
function watchedConnection(options = {}) {
  const connection = new ReconnectingSocket("ws://test/ws/match/x/", {
    WebSocketImpl: FakeSocket, pingMs: 60_000, silenceMs: 2000, network: null, ...options,
  });
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail));
  connection.connect();
  const socket = FakeSocket.last;
  socket.onopen();
  socket.onmessage({ data: JSON.stringify({ type: "welcome", match: { game: "arena", tick_rate: 20 } }) });
  socket.sent = [];
  watched.push(connection);
  return { connection, socket, statuses, t0: connection.lastHeardAt };
}

const pong = (socket) => socket.onmessage({ data: JSON.stringify({ type: "pong", id: 1, t: 0, server_time: 0 }) });

test("a silent link is probed, its inputs are held and coalesced, and a word from the server sends the newest", () => {
  const { connection, socket, statuses, t0 } = watchedConnection();
  connection._watch(t0 + 1000);
  assert.deepEqual(socket.sent, [], "a second of quiet is normal");
  connection._watch(t0 + 1300);
  assert.deepEqual(socket.sent.map((m) => m.type), ["ping"], "the probe");
  assert.equal(connection.live, false);
  for (let seq = 1; seq <= 30; seq++) assert.equal(connection.sendInput({ seq }), false);
  assert.equal(socket.sent.length, 1, "nothing piles up behind a silent link");
  pong(socket);
  assert.deepEqual(socket.sent.slice(1).map((m) => m.data.seq), [30], "only the newest input");
  assert.equal(connection.live, true);
  assert.equal(connection.sendInput({ seq: 31 }), true);
  assert.equal(statuses.at(-1).state, "open");
  connection.close();
});

test("a link silent for 2 s with its probe unanswered is lost and replaced by a fresh socket", async () => {
  const { connection, socket, statuses, t0 } = watchedConnection();
  connection._watch(t0 + 1300);
  connection.sendInput({ seq: 7 });
  connection._watch(t0 + 1900);
  assert.equal(statuses.at(-1).state, "open", "not before 2 s");
  connection._watch(t0 + 2120);
  const lost = statuses.at(-1);
  assert.equal(lost.state, "reconnecting");
  assert.equal(lost.lost, true);
  assert.match(lost.text, /Nothing heard from the server for 2\.1 s/);
  assert.ok(lost.delay < 1000, "the first attempt comes soon");
  assert.equal(socket.closedWith, 1000);
  assert.equal(socket.onclose, null, "the dead socket's late close schedules nothing");
  assert.equal(connection.lostLinks, 1);
  await new Promise((resolve) => setTimeout(resolve, lost.delay + 20));
  const fresh = FakeSocket.last;
  assert.notEqual(fresh, socket);
  fresh.onopen();
  fresh.sent = [];
  assert.equal(connection.sendInput({ seq: 8 }), false, "no inputs before the welcome");
  fresh.onmessage({ data: JSON.stringify({ type: "welcome", match: { game: "arena", tick_rate: 20 } }) });
  assert.deepEqual(fresh.sent, [], "what was held for the dead socket is stale: the view starts afresh");
  connection.quiet = true; // a short silence, then a resync's welcome on the same socket
  connection.sendInput({ seq: 9 });
  fresh.onmessage({ data: JSON.stringify({ type: "welcome", match: { game: "arena", tick_rate: 20 } }) });
  assert.deepEqual(fresh.sent.map((m) => m.data.seq), [9], "a resync on the same socket keeps it");
  fresh.sent = [];
  assert.equal(connection.sendInput({ seq: 10 }), true);
  assert.equal(fresh.sent[0].ack, undefined, "no ack of a state the new socket was never sent");
  connection.close();
});

test("a slow link gets three round trips to answer the probe", () => {
  const { connection, statuses, t0 } = watchedConnection();
  connection.clock.samples = [{ rtt: 900, offset: 0 }, { rtt: 5000, offset: 0 }]; // at best 900 ms
  connection._watch(t0 + 1300);
  connection._watch(t0 + 3000);
  assert.equal(statuses.at(-1).state, "open");
  connection._watch(t0 + 4050);
  assert.equal(statuses.at(-1).state, "reconnecting");
  connection.close();
});

test("a handshake that never completes is given up", () => {
  const connection = new ReconnectingSocket("ws://test/ws/match/x/", { WebSocketImpl: FakeSocket, network: null });
  watched.push(connection);
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail));
  connection.connect();
  const socket = FakeSocket.last;
  socket.readyState = 0;
  connection._watch(connection.connectingSince + CONNECT_TIMEOUT_MS - 100);
  assert.equal(statuses.at(-1).state, "connecting");
  connection._watch(connection.connectingSince + CONNECT_TIMEOUT_MS + 100);
  assert.equal(statuses.at(-1).state, "reconnecting");
  assert.equal(statuses.at(-1).text, "The server did not answer.");
  assert.equal(socket.onclose, null);
  connection.close();
});

test("going offline drops the socket at once; coming back online retries without waiting", () => {
  const network = new EventTarget();
  const { connection, socket, statuses } = watchedConnection({ network });
  connection.attempt = 5; // waiting out a long backoff when the network returns
  network.dispatchEvent(new Event("offline"));
  assert.equal(statuses.at(-1).state, "reconnecting");
  assert.equal(statuses.at(-1).text, "Your device is offline.");
  assert.equal(socket.closedWith, 1000);
  network.dispatchEvent(new Event("online"));
  assert.notEqual(FakeSocket.last, socket, "a fresh socket at once");
  assert.equal(statuses.at(-1).state, "connecting");
  connection.close();
  network.dispatchEvent(new Event("online"));
  assert.equal(statuses.at(-1).state, "closing", "a closed connection stays closed");
});

test("a quiet lobby socket (long pings) is probed and judged on its own, longer limit", () => {
  const connection = new ReconnectingSocket("ws://test/ws/lobby/", { WebSocketImpl: FakeSocket, pingMs: 15000, network: null });
  watched.push(connection);
  connection.connect();
  const socket = FakeSocket.last;
  socket.onopen();
  socket.sent = [];
  const t0 = connection.lastHeardAt;
  connection._watch(t0 + 5000);
  assert.deepEqual(socket.sent, []);
  assert.equal(connection.quiet, false);
  connection._watch(t0 + 9100);
  assert.deepEqual(socket.sent.map((m) => m.type), ["ping"]);
  connection.close();
});
