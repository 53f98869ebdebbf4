// Unit tests of "Play now" with its JSON fallback, and "Play again" on the match page
// (frontend/static/frontend/js/matchmaking.js): both search in the queue when they can.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { Matchmaker, PlayAgain, playNow } from "../../frontend/static/frontend/js/matchmaking.js";

/** A lobby socket the test opens, closes and plays the server of. */
class FakeConnection extends EventTarget {
  constructor({ open = true } = {}) {
    super();
    this.ws = { readyState: open ? 1 : 0 };
    this.sent = [];
    this.connects = 0;
  }
  connect() {
    this.connects += 1;
  }
  send(message) {
    if (this.ws.readyState !== 1) return false;
    this.sent.push(message);
    return true;
  }
  opened() {
    this.ws.readyState = 1;
    this.dispatchEvent(new CustomEvent("status", { detail: { state: "open" } }));
  }
  frame(detail) {
    this.dispatchEvent(new CustomEvent("frame", { detail }));
  }
}

/** A button-like element: text, disabled, hidden, and click listeners. */
class FakeElement extends EventTarget {
  constructor(text = "") {
    super();
    this.textContent = text;
    this.disabled = false;
    this.hidden = false;
  }
  click() {
    this.dispatchEvent(new Event("click"));
  }
}

let posts;
beforeEach(() => {
  // The JSON API: a session exists; POST /api/play/ (the quick join) answers a match.
  posts = [];
  globalThis.document = { cookie: "csrftoken=t" };
  globalThis.fetch = async (path, { method = "GET", body } = {}) => {
    if (method === "POST") posts.push({ path, body: JSON.parse(body) });
    const data = path === "/api/play/" ? { id: "quick" } : { player: { id: 1 } };
    return { ok: true, status: 200, json: async () => data };
  };
});
afterEach(() => {
  delete globalThis.document;
  delete globalThis.fetch;
});

test("play now searches in the queue when the socket is open", async () => {
  const connection = new FakeConnection();
  const matchmaker = new Matchmaker(connection);
  assert.equal(await playNow(matchmaker, "connect_four"), null);
  assert.deepEqual(connection.sent, [{ type: "queue", game: "connect_four" }]);
  assert.equal(matchmaker.state, "searching");
  assert.deepEqual(posts, []);
});

test("play now waits for a socket that is opening, then searches", async () => {
  const connection = new FakeConnection({ open: false });
  const matchmaker = new Matchmaker(connection);
  const pressed = playNow(matchmaker, "arena", { wait: 5000 });
  setTimeout(() => connection.opened(), 10);
  assert.equal(await pressed, null);
  assert.deepEqual(connection.sent, [{ type: "queue", game: "arena" }]);
  assert.deepEqual(posts, []);
});

test("play now quick-joins through the JSON API when the socket does not open", async () => {
  const matchmaker = new Matchmaker(new FakeConnection({ open: false }));
  assert.deepEqual(await playNow(matchmaker, "arena", { wait: 10 }), { id: "quick" });
  assert.deepEqual(posts, [{ path: "/api/play/", body: { game: "arena" } }]);
  assert.equal(matchmaker.state, "idle");
});

function playAgainPage({ open = true } = {}) {
  const connection = new FakeConnection({ open });
  const button = new FakeElement("Play again");
  const cancel = new FakeElement("Cancel");
  cancel.hidden = true;
  const said = [];
  const visited = [];
  const playAgain = new PlayAgain("connect_four", {
    button,
    cancel,
    say: (text) => said.push(text),
    socket: () => connection,
    go: (url) => visited.push(url),
    wait: 10,
  });
  return { playAgain, connection, button, cancel, said, visited };
}

async function settled() {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
}

test("play again queues for the same game, shows the search, and opens the match found", async () => {
  const { connection, button, cancel, visited } = playAgainPage();
  button.click();
  await settled();
  assert.equal(connection.connects, 1);
  assert.deepEqual(connection.sent, [{ type: "queue", game: "connect_four" }]);
  assert.deepEqual(posts, [], "no match is opened outside the queue");
  assert.equal(button.textContent, "Searching…");
  assert.equal(button.disabled, true);
  assert.equal(cancel.hidden, false);
  connection.frame({ type: "matched", match: { id: "m2", game: "connect_four", url: "/play/m2/" } });
  assert.deepEqual(visited, ["/play/m2/"]);
});

test("cancelling play again leaves the queue and offers the button again", async () => {
  const { connection, button, cancel } = playAgainPage();
  button.click();
  await settled();
  cancel.click();
  assert.deepEqual(connection.sent.at(-1), { type: "unqueue" });
  connection.frame({ type: "unqueued", game: "connect_four", reason: null });
  assert.equal(button.textContent, "Play again");
  assert.equal(button.disabled, false);
  assert.equal(cancel.hidden, true);
});

test("a refused play again says why", async () => {
  const { connection, button, said } = playAgainPage();
  button.click();
  await settled();
  connection.frame({ type: "unqueued", game: "connect_four", reason: "You are banned: griefing" });
  assert.deepEqual(said, ["You are banned: griefing"]);
  assert.equal(button.disabled, false);
});

test("play again reuses its socket, and falls back to the quick join without one", async () => {
  const { playAgain, connection, visited } = playAgainPage({ open: false });
  await playAgain.press(); // what a click does, awaited here
  assert.deepEqual(posts, [{ path: "/api/play/", body: { game: "connect_four" } }]);
  assert.deepEqual(visited, ["/play/quick/"]);
  connection.opened();
  await playAgain.press();
  assert.equal(connection.connects, 1);
  assert.deepEqual(connection.sent, [{ type: "queue", game: "connect_four" }]);
});
