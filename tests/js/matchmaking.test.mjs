// Unit tests of "Play now" over the lobby socket (frontend/static/frontend/js/matchmaking.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Matchmaker } from "../../frontend/static/frontend/js/matchmaking.js";
import { ReconnectingSocket } from "../../frontend/static/frontend/js/net.js";

/** A lobby socket that records what is sent and lets the test play the server. */
class FakeConnection extends EventTarget {
  constructor() {
    super();
    this.open = true;
    this.sent = [];
    this.reconnects = 0;
  }
  send(message) {
    if (!this.open) return false;
    this.sent.push(message);
    return true;
  }
  reconnect() {
    this.reconnects += 1;
  }
  frame(detail) {
    this.dispatchEvent(new CustomEvent("frame", { detail }));
  }
  status(state) {
    this.dispatchEvent(new CustomEvent("status", { detail: { state } }));
  }
}

function searching(game = "connect_four") {
  const connection = new FakeConnection();
  const matchmaker = new Matchmaker(connection);
  const changes = [];
  matchmaker.addEventListener("change", (e) => changes.push(e.detail));
  assert.equal(matchmaker.search(game), true);
  connection.frame({ type: "queued", game, window: 2 });
  return { connection, matchmaker, changes };
}

test("searching sends queue, and matched hands over the match", () => {
  const { connection, matchmaker, changes } = searching();
  assert.deepEqual(connection.sent, [{ type: "queue", game: "connect_four" }]);
  const match = { id: "m1", game: "connect_four", url: "/play/m1/" };
  connection.frame({ type: "matched", match });
  assert.equal(matchmaker.state, "matched");
  assert.deepEqual(changes.at(-1), { state: "matched", game: "connect_four", match, message: "" });
});

test("a socket that is down cannot search: the caller uses the JSON API", () => {
  const connection = new FakeConnection();
  connection.open = false;
  const matchmaker = new Matchmaker(connection);
  assert.equal(matchmaker.search("arena"), false);
  assert.equal(matchmaker.state, "idle");
});

test("cancel asks to leave, and the search ends when the server confirms", () => {
  const { connection, matchmaker } = searching();
  matchmaker.cancel();
  assert.deepEqual(connection.sent.at(-1), { type: "unqueue" });
  assert.equal(matchmaker.state, "searching");
  connection.frame({ type: "unqueued", game: "connect_four", reason: null });
  assert.equal(matchmaker.state, "idle");
});

test("too late to cancel: the search goes on and says a match is coming", () => {
  const { connection, matchmaker, changes } = searching();
  matchmaker.cancel();
  connection.frame({ type: "error", code: "matching", message: "Too late to leave" });
  assert.equal(matchmaker.state, "searching");
  assert.match(changes.at(-1).message, /match is being made/);
});

test("a socket that comes back queues again", () => {
  const { connection } = searching("arena");
  connection.status("reconnecting");
  connection.status("open");
  assert.deepEqual(connection.sent, [
    { type: "queue", game: "arena" },
    { type: "queue", game: "arena" },
  ]);
});

test("a socket opened before the session reconnects once, then queues again", () => {
  const { connection, matchmaker } = searching();
  connection.frame({ type: "error", code: "not_authenticated", message: "Log in" });
  assert.equal(connection.reconnects, 1);
  assert.equal(matchmaker.state, "searching");
  connection.frame({ type: "error", code: "not_authenticated", message: "Log in" });
  assert.equal(connection.reconnects, 1, "only once");
  assert.equal(matchmaker.state, "idle");
});

test("a refusal ends the search with the server's reason", () => {
  const { connection, matchmaker, changes } = searching();
  connection.frame({ type: "unqueued", game: "connect_four", reason: "You are banned: griefing" });
  assert.equal(matchmaker.state, "idle");
  assert.equal(changes.at(-1).message, "You are banned: griefing");
});

test("playing a match already ends the search and offers that match", () => {
  const { matchmaker, changes } = searching("arena");
  const match = { id: "m1", game: "arena", url: "/play/m1/" };
  matchmaker.connection.frame({ type: "error", code: "in_match", message: "You are playing a match already.", match });
  assert.deepEqual(changes.at(-1), {
    state: "idle",
    game: "arena",
    match,
    message: "You are playing a match already.",
  });
  assert.equal(matchmaker.search("arena"), true);
  assert.equal(changes.at(-1).match, null);
});

test("reconnect opens a fresh socket, and the old one's close schedules nothing", () => {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 1;
      this.closedWith = null;
      sockets.push(this);
    }
    send() {}
    close(code) {
      this.closedWith = code;
    }
  }
  const connection = new ReconnectingSocket("ws://test/ws/lobby/", { WebSocketImpl: FakeSocket, pingMs: 60_000 });
  const statuses = [];
  connection.addEventListener("status", (e) => statuses.push(e.detail.state));
  connection.connect();
  const first = sockets[0];
  first.onopen();
  connection.reconnect();
  assert.equal(sockets.length, 2);
  assert.equal(first.closedWith, 1000);
  assert.equal(first.onclose, null, "the old socket is detached");
  sockets[1].onopen();
  assert.deepEqual(statuses, ["connecting", "open", "connecting", "open"]);
  connection.close();
});
