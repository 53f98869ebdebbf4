// Unit tests of reporting a player (frontend/static/frontend/js/report.js): who may be
// reported, and what the dialog says of each answer of POST /api/matches/<id>/report/.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ReportDialog, canReport } from "../../frontend/static/frontend/js/report.js";

const ME = { player_id: 7, seat: 0, role: "player" };

test("a player may report the others of the match, not themselves and not a computer", () => {
  assert.equal(canReport(ME, { player_id: 9, seat: 1, bot: false }), true);
  assert.equal(canReport(ME, { player_id: 9, seat: 1 }), true); // servers before the bot flag
  assert.equal(canReport(ME, { player_id: 7, seat: 0, bot: false }), false);
  assert.equal(canReport(ME, { player_id: 11, seat: 1, bot: true }), false);
});

test("a spectator, or a page before its welcome, reports nobody", () => {
  assert.equal(canReport({ player_id: 5, seat: null, role: "spectator" }, { player_id: 9 }), false);
  assert.equal(canReport(null, { player_id: 9 }), false);
});

/** The dialog's elements, by their data-report name. */
class FakeElement extends EventTarget {
  constructor() {
    super();
    this.textContent = "";
    this.value = "";
    this.hidden = false;
    this.disabled = false;
  }
  focus() {}
}

function dialogWith(post) {
  const fields = new Map();
  const form = Object.assign(new FakeElement(), {
    querySelector(selector) {
      const name = /data-report="(\w+)"/.exec(selector)[1];
      if (!fields.has(name)) fields.set(name, new FakeElement());
      return fields.get(name);
    },
  });
  const element = { open: false, querySelector: () => form, showModal() { this.open = true; }, close() { this.open = false; } };
  const dialog = new ReportDialog(element, "m1", { post });
  const field = (name) => form.querySelector(`[data-report="${name}"]`);
  return { dialog, field, element };
}

function refusal(message) {
  return async () => {
    throw new Error(message);
  };
}

test("a report sent says so, and its player is reported from this page", async () => {
  const posted = [];
  const { dialog, field } = dialogWith(async (path, options) => posted.push({ path, ...options }));
  dialog.open({ player_id: 9, name: "BoldRaven7" });
  field("reason").value = "cheating";
  field("text").value = "  aimbot  ";
  await dialog.send();
  assert.deepEqual(posted, [
    { path: "/api/matches/m1/report/", method: "POST", body: { player: 9, reason: "cheating", text: "aimbot" } },
  ]);
  assert.match(field("outcome").textContent, /your report of BoldRaven7 was sent/);
  assert.equal(field("send").hidden, true);
  assert.equal(field("close").textContent, "Close");
  assert.ok(dialog.reported.has(9));
});

test("without a reason nothing is sent", async () => {
  const { dialog, field } = dialogWith(async () => assert.fail("posted"));
  dialog.open({ player_id: 9, name: "BoldRaven7" });
  await dialog.send();
  assert.equal(field("outcome").textContent, "Choose a reason.");
});

test("a player reported already is an outcome: the dialog says so and offers nothing more", async () => {
  const { dialog, field } = dialogWith(refusal("You have reported this player for this match."));
  dialog.open({ player_id: 9, name: "BoldRaven7" });
  field("reason").value = "other";
  await dialog.send();
  assert.equal(field("outcome").textContent, "You have reported this player for this match.");
  assert.equal(field("send").hidden, true);
  assert.ok(dialog.reported.has(9));
});

test("too many reports: the API's words, and the report can be sent later", async () => {
  const { dialog, field } = dialogWith(refusal("You can send 5 reports an hour; try again later."));
  dialog.open({ player_id: 9, name: "BoldRaven7" });
  field("reason").value = "name";
  await dialog.send();
  assert.equal(field("outcome").textContent, "You can send 5 reports an hour; try again later.");
  assert.equal(field("send").hidden, false);
  assert.equal(field("send").disabled, false);
  assert.equal(dialog.reported.has(9), false);
});
