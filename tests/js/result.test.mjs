// Unit tests of the result screen's words and of "Rematch" (frontend/static/frontend/js/
// result.js): names for seat numbers, placements, ratings, and what each answer shows.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { displayRating } from "../../frontend/static/frontend/js/render.js";
import {
  Rematch,
  ordinal,
  outcomeWords,
  ratingWords,
  titleFor,
  withNames,
} from "../../frontend/static/frontend/js/result.js";

const seat = (n, name, outcome, rank, extra = {}) => ({
  seat: n, player_id: 10 + n, name, outcome, score: 0, rank, rating_before: null, rating_after: null, ...extra,
});
const PAIR = [seat(0, "NimbleKoala752", "loss", 2), seat(1, "BoldRaven7", "win", 1)];
const THREE = [seat(0, "A", "win", 1), seat(1, "B", "loss", 2), seat(2, "C", "loss", 3)];

test("the server's seat numbers read as names", () => {
  assert.equal(withNames("Player 2 wins: four in a row.", PAIR), "BoldRaven7 wins: four in a row.");
  assert.equal(
    withNames("Player 2 wins: player 1 ran out of time.", PAIR),
    "BoldRaven7 wins: NimbleKoala752 ran out of time.",
  );
  assert.equal(withNames("Player 1 and Player 3 won: time is up.", THREE), "A and C won: time is up.");
  assert.equal(withNames("Player 9 wins.", PAIR), "Player 9 wins."); // nobody to name: kept
});

test("two players win or lose; more are placed", () => {
  assert.deepEqual(PAIR.map((s) => outcomeWords(s, PAIR)), ["Lost", "Winner"]);
  assert.deepEqual(THREE.map((s) => outcomeWords(s, THREE)), ["1st of 3", "2nd of 3", "3rd of 3"]);
  assert.equal(outcomeWords(seat(1, "B", "abandoned", 3), THREE), "Left");
  assert.equal(outcomeWords(seat(0, "A", "draw", 1), PAIR), "Draw");
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23].map(ordinal),
    ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd"]);
});

test("the title speaks to the player who reads it", () => {
  assert.equal(titleFor(PAIR[1], PAIR), "You won!");
  assert.equal(titleFor(PAIR[0], PAIR), "You lost");
  assert.equal(titleFor(THREE[1], THREE), "You placed 2nd of 3");
  assert.equal(titleFor(null, PAIR), "Match over");
});

test("ratings show on the display scale, with their change", () => {
  assert.equal(displayRating(0), 1500);
  assert.equal(displayRating(-3.1), 1423); // 1422.5: halves round up
  assert.equal(displayRating(-1000), 0);
  assert.equal(ratingWords(seat(0, "A", "win", 1, { rating_before: 0, rating_after: 2.47 })), "1562 (+62)");
  assert.equal(ratingWords(seat(0, "A", "loss", 2, { rating_before: 0, rating_after: -1.7 })), "1458 (\u221242)");
  assert.equal(ratingWords(PAIR[0]), "unrated");
});

/** A lobby socket the test plays the server of. */
class FakeConnection extends EventTarget {
  connect() {}
  close() {
    this.closed = true;
  }
  frame(detail) {
    this.dispatchEvent(new CustomEvent("frame", { detail }));
  }
  opened() {
    this.dispatchEvent(new CustomEvent("status", { detail: { state: "open" } }));
  }
}

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

const ALICE = { id: 7, display_name: "Alice" };
const BOB = { id: 9, display_name: "Bob" };
let answers;
let posts;
beforeEach(() => {
  posts = [];
  answers = [];
  globalThis.document = { cookie: "csrftoken=t" };
  globalThis.fetch = async (path, { method = "GET", body } = {}) => {
    if (method === "POST") posts.push(JSON.parse(body));
    return { ok: true, status: 200, json: async () => answers.shift() };
  };
});
afterEach(() => {
  delete globalThis.document;
  delete globalThis.fetch;
});

function page(me = ALICE.id) {
  const connection = new FakeConnection();
  const elements = { button: new FakeElement("Rematch"), decline: new FakeElement("Decline"), status: new FakeElement() };
  const went = [];
  const rematch = new Rematch("m1", { ...elements, me, say: () => {}, socket: () => connection, go: (url) => went.push(url) });
  return { connection, rematch, went, ...elements };
}

const state = (status, wants, waiting, declined = [], rematch = null) => ({
  match: "m1", status, wants, waiting_for: waiting, declined, rematch,
});
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("asking waits for the others, by name", async () => {
  const { button, status } = page();
  answers.push(state("waiting", [ALICE], [BOB]));
  button.click();
  await settle();
  assert.deepEqual(posts, [{ answer: "yes" }]);
  assert.equal(status.textContent, "Waiting for Bob to accept…");
  assert.equal(button.disabled, true);
});

test("the other side reads who wants a rematch, and may accept or decline", async () => {
  const { connection, button, decline, status, went } = page(BOB.id);
  answers.push(state("waiting", [ALICE], [BOB]));
  connection.frame({ type: "rematch", match: "m1", status: "waiting", wants: [], declined: [] });
  await settle();
  assert.equal(status.textContent, "Alice wants a rematch");
  assert.equal(button.textContent, "Accept rematch");
  assert.equal(decline.hidden, false);
  answers.push(state("started", [ALICE, BOB], [], [], { id: "m2", game: "connect_four", url: "/play/m2/" }));
  button.click();
  await settle();
  assert.deepEqual(went, ["/play/m2/"]);
});

test("the rematch opens once, however many ways it is heard of", async () => {
  // Against the computer the answer says "started" while the lobby socket says `matched`
  // and `rematch`: a second navigation while the first page loads would cancel it.
  const { connection, button, went } = page();
  const started = state("started", [ALICE], [], [], { id: "m2", game: "connect_four", url: "/play/m2/" });
  answers.push(started, started);
  button.click();
  connection.frame({ type: "matched", match: { id: "m2", game: "connect_four", url: "/play/m2/" } });
  connection.frame({ type: "rematch", match: "m1", status: "started", wants: [], declined: [] });
  await settle();
  assert.deepEqual(went, ["/play/m2/"]);
});

test("a decline or a departure is said, and the rematch is off", async () => {
  const { connection, button, status } = page();
  answers.push(state("declined", [], [], [{ ...BOB, why: "left" }]));
  connection.opened();
  await settle();
  assert.equal(status.textContent, "Bob left.");
  assert.equal(button.disabled, true);
  connection.frame({ type: "matched", match: { id: "m3", game: "arena", url: "/play/m3/" } });
});

test("leaving a rematch nobody answered tells the server, once", async () => {
  const { connection, rematch } = page();
  answers.push(state("none", [], [BOB, ALICE]));
  connection.opened();
  await settle();
  rematch.leave();
  assert.deepEqual(posts, [{ answer: "leave" }]);
  assert.equal(connection.closed, true);
});
