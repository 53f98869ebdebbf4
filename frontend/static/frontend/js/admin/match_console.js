// One live match in the admin: the players' canvas viewer, read-only (a spectator's
// socket that sends no input, no chat, no "ready"), the seats with their connection
// state, and the actions on it: kick a player, message the match, abort it.
import { COMPACT, VIEWS } from "../games/index.js";
import { ReconnectingSocket, matchSocketUrl } from "../net.js";
import { csrfToken, post } from "./console.js";

const root = document.getElementById("match-console");
const matchId = root.dataset.match;
const game = root.dataset.game;
const $ = (id) => document.getElementById(id);
const token = csrfToken(root);

const connection = new ReconnectingSocket(matchSocketUrl(matchId), { compact: COMPACT });
let view = null;
let players = [];

function say(text) {
  $("outcome").textContent = text;
}

function renderPlayers() {
  const kickForm = $("kick-form");
  $("players").replaceChildren(
    ...players.map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.player = String(p.player_id);
      const state = p.abandoned ? "left" : p.connected ? "connected" : "not connected";
      for (const text of [String(p.seat + 1), p.name + (p.bot ? " (bot)" : ""), state]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const act = document.createElement("td");
      if (kickForm && !p.bot && !p.abandoned) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button";
        button.textContent = "Kick";
        button.setAttribute("aria-label", `Kick ${p.name}`);
        button.addEventListener("click", () => {
          kickForm.elements.player.value = String(p.player_id);
          kickForm.querySelector("[data-kick-name]").textContent = p.name;
          kickForm.hidden = false;
          kickForm.elements.reason.focus();
        });
        act.append(button);
      }
      tr.append(act);
      return tr;
    }),
  );
}

function over(text) {
  $("over").textContent = text;
  $("over").hidden = false;
}

function onFrame(event) {
  const frame = event.detail;
  switch (frame.type) {
    case "welcome":
      players = frame.players;
      $("match-status").textContent = frame.match.status;
      if (frame.result) over(`Over: ${frame.result.summary}`);
      if (!view && VIEWS[game]) {
        view = new VIEWS[game]($("board"), {
          mySeat: null, // watched: no seat
          tickRate: frame.match.tick_rate,
          sendInput: () => {}, // read-only: nothing the viewer does is sent
          roundTrip: () => connection.clock.rtt,
          fireButton: document.createElement("span"),
        });
        window.__console = { view, connection };
        requestAnimationFrame(draw);
      }
      if (frame.state) view?.onState(frame.tick, frame.state);
      return renderPlayers();
    case "players":
      players = frame.players;
      return renderPlayers();
    case "state":
      $("match-status").textContent = "active";
      return view?.onState(frame.tick, frame.state);
    case "result":
      $("match-status").textContent = frame.status;
      return over(`Over: ${frame.summary}`);
    case "aborted":
      $("match-status").textContent = "aborted";
      return over(frame.summary);
    default:
      return undefined;
  }
}

function draw(now) {
  view.draw(now);
  const hud = view.hud(now);
  if ($("hud-status").textContent !== hud) $("hud-status").textContent = hud;
  requestAnimationFrame(draw);
}

/** Send `form` as JSON to `url`; `done` words the answer. */
function action(form, url, body, done) {
  form?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      say(done(await post(url, body(form), token)));
      form.reset();
      if (form.id === "kick-form") form.hidden = true;
    } catch (error) {
      say(error.message);
    } finally {
      button.disabled = false;
    }
  });
}

action(
  $("kick-form"),
  root.dataset.kickUrl,
  (f) => ({ player: Number(f.elements.player.value), reason: f.elements.reason.value }),
  () => "Kicked: their socket is closed with the reason.",
);
$("kick-form")?.querySelector("[data-cancel]").addEventListener("click", () => ($("kick-form").hidden = true));
action($("message-form"), root.dataset.messageUrl, (f) => ({ text: f.elements.text.value }), () => "Sent to the match.");
action($("abort-form"), root.dataset.abortUrl, (f) => ({ reason: f.elements.reason.value }), () => "Aborted.");

connection.addEventListener("frame", onFrame);
connection.addEventListener("status", (e) => {
  $("connection").textContent = e.detail.state === "final" ? e.detail.text : e.detail.state;
});
window.addEventListener("pagehide", () => connection.close());
connection.connect();
