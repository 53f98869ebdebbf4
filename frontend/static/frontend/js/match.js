// The match page: connects, draws the game, HUD, chat, overlays, result.
import { api } from "./api.js";
import { showNotice } from "./banner.js";
import { COMPACT, VIEWS } from "./games/index.js";
import { PlayAgain } from "./matchmaking.js";
import { ReconnectingSocket, matchSocketUrl } from "./net.js";
import { ReportDialog, canReport, labelReport, reportButton } from "./report.js";

const root = document.querySelector("[data-match]");
const matchId = root.dataset.match;
const game = root.dataset.game;
const canvas = document.getElementById("board");
const $ = (id) => document.getElementById(id);

const connection = new ReconnectingSocket(matchSocketUrl(matchId), { compact: COMPACT });
let view = null;
let players = [];
let status = "waiting";
let inputTimer = null;
let result = null;
let mySeat = null;
let you = null; // the welcome's `you`: who this page is (player or spectator)
let lostLink = false; // the link went silent: the overlay says so until the socket is open again

/**
 * How long a seat is kept for a player whose socket dropped (docs/protocol.md,
 * "Reconnecting": 30 s unless the server's MATCH_RECONNECT_GRACE_SECONDS says
 * otherwise). The server sends no deadline, so the countdown starts when this
 * page hears of the drop: at most a second or two late, never early.
 */
const RECONNECT_GRACE_SECONDS = 30;
const awaySince = new Map(); // seat -> performance.now() when this page saw it go

function show(id, visible) {
  $(id).hidden = !visible;
}

// Reporting another player: a button next to them in the players list and the result.
const reports = new ReportDialog($("report-dialog"), matchId);
reports.addEventListener("reported", () => {
  document.querySelectorAll("[data-report-player]").forEach((button) => {
    const id = Number(button.dataset.reportPlayer);
    labelReport(button, { name: button.dataset.name }, reports.reported.has(id));
  });
});

/**
 * The players list, updated in place: it is drawn again on every state (20 a second in
 * the arena), and rebuilding it would take a "Report" button from under the pointer
 * and the keyboard's focus.
 */
function renderPlayers() {
  const scores = view && view.scores ? view.scores() : [];
  const list = $("players");
  while (list.children.length > players.length) list.lastElementChild.remove();
  players.forEach((p, index) => {
    let li = list.children[index];
    if (!li || li.dataset.player !== String(p.player_id)) {
      li = playerItem(p);
      if (list.children[index]) list.children[index].replaceWith(li);
      else list.append(li);
    }
    const name = p.name + (p.abandoned ? " (left)" : p.ready || status !== "waiting" ? "" : " (not ready)");
    setText(li.querySelector(".name"), name);
    setText(li.querySelector(".score"), String(scores[p.seat] ?? ""));
    li.className = p.connected ? "online" : "offline";
    const button = li.querySelector("[data-report-player]");
    if (button) labelReport(button, p, reports.reported.has(p.player_id));
  });
}

function playerItem(p) {
  const li = document.createElement("li");
  li.dataset.player = String(p.player_id);
  li.innerHTML = `<span class="dot seat-${p.seat}"></span><span class="name"></span><span class="score"></span>`;
  if (canReport(you, p)) li.append(reportButton(reports, p));
  return li;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** Note who has gone (and who came back) from a players list, for the countdown. */
function trackAway(now = performance.now()) {
  for (const p of players) {
    const away = status === "active" && p.seat !== mySeat && !p.connected && !p.abandoned;
    if (!away) awaySince.delete(p.seat);
    else if (!awaySince.has(p.seat)) awaySince.set(p.seat, now);
  }
}

/** "BoldRaven7 disconnected — 27 s to come back", for every other seat that is gone. */
function awayText(now) {
  if (status !== "active") return "";
  return players
    .filter((p) => awaySince.has(p.seat))
    .map((p) => {
      const left = Math.max(0, Math.ceil(RECONNECT_GRACE_SECONDS - (now - awaySince.get(p.seat)) / 1000));
      return `${p.name} disconnected — ${left} s to come back`;
    })
    .join(" · ");
}

function onWelcome(frame) {
  status = frame.match.status;
  players = frame.players;
  mySeat = frame.you.seat;
  const wasSpectator = you?.role === "spectator";
  you = frame.you;
  if (wasSpectator !== (you.role === "spectator")) $("players").replaceChildren(); // buttons by role
  showRole();
  trackAway();
  if (frame.result) return showResult(frame.result);
  if (status === "aborted") return showAborted(frame.result?.summary || "This match was aborted.");
  const View = VIEWS[game];
  if (!view) {
    view = new View(canvas, {
      mySeat: frame.you.seat,
      tickRate: frame.match.tick_rate,
      sendInput: (data) => connection.sendInput(data),
      roundTrip: () => connection.clock.rtt,
      fireButton: $("fire"),
    });
    window.__arcade = { view, connection };
    window.addEventListener("resize", () => view.resize());
    requestAnimationFrame(frameLoop);
    // Inputs go out at the simulation rate, not per key event or per animation frame.
    if (view.tick) {
      inputTimer = setInterval(() => {
        connection.flush();
        // Not while the link is down or silent: inputs nobody hears would only pile up
        // as predictions to take back. The connection holds the newest anyway.
        if (connection.live) view.tick();
      }, 1000 / frame.match.tick_rate);
    }
  }
  if (frame.state) view.onState(frame.tick, frame.state);
  if (status === "waiting" && frame.you.role === "player") connection.send({ type: "ready" });
  show("waiting", status === "waiting");
  renderPlayers();
}

function onFrame(event) {
  const frame = event.detail;
  switch (frame.type) {
    case "welcome":
      return onWelcome(frame);
    case "players":
      players = frame.players;
      trackAway();
      return renderPlayers();
    case "state":
      if (status === "waiting") {
        status = "active";
        show("waiting", false);
        trackAway();
      }
      view?.onState(frame.tick, frame.state);
      return renderPlayers();
    case "result":
      return showResult(frame);
    case "aborted":
      return showAborted(frame.summary);
    case "chat":
      return addChat(frame.from.name, frame.text);
    case "notice":
      return showNotice(frame); // an operator's message: a banner
    case "error":
      return toast(frame.message);
    case "pong":
      $("rtt").textContent = `${Math.round(connection.clock.rtt)} ms`;
      return undefined;
    default:
      return undefined;
  }
}

function showResult(frame) {
  result = frame;
  status = "finished";
  clearInterval(inputTimer);
  const mine = you?.role === "player" ? frame.seats.find((s) => s.player_id === you.player_id) : null;
  $("result-title").textContent = mine ? OUTCOME_TITLE[mine.outcome] : "Match over";
  $("result-summary").textContent = frame.summary;
  $("result-seats").replaceChildren(
    ...frame.seats.map((s) => {
      const tr = document.createElement("tr");
      const change = s.rating_after !== null && s.rating_before !== null ? s.rating_after - s.rating_before : null;
      for (const text of [s.name, s.outcome, s.score, change === null ? "unrated" : `${change >= 0 ? "+" : ""}${change.toFixed(1)}`]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const report = document.createElement("td");
      if (canReport(you, s)) report.append(reportButton(reports, s));
      tr.append(report);
      return tr;
    }),
  );
  $("replay-link").href = `/replay/${matchId}/`;
  showEndActions();
  show("result", true);
  show("waiting", false);
}

/** A player is offered "Play again"; a spectator, another match to watch. */
function showEndActions() {
  const watching = you?.role === "spectator";
  show("play-again", !watching);
  show("watch-another", watching);
}

/** Who this page is, in the HUD and under the board. */
function showRole() {
  const watching = you.role === "spectator";
  $("role").textContent = watching ? "Watching" : `You are player ${you.seat + 1}`;
  show("controls", !watching);
  show("watching-note", watching);
  if (watching) $("fire").hidden = true; // nothing to fire
}

function showAborted(summary) {
  status = "aborted";
  clearInterval(inputTimer);
  $("result-title").textContent = "Match aborted";
  $("result-summary").textContent = summary;
  $("result-seats").replaceChildren();
  showEndActions();
  show("result", true);
}

const OUTCOME_TITLE = { win: "You won!", loss: "You lost", draw: "Draw", abandoned: "You left the match" };

function frameLoop(now) {
  if (view) {
    view.draw(now);
    const hud = view.hud(now);
    if ($("hud-status").textContent !== hud) $("hud-status").textContent = hud;
  }
  const away = awayText(performance.now());
  if ($("away").textContent !== away) {
    $("away").textContent = away;
    $("away").hidden = !away;
  }
  requestAnimationFrame(frameLoop);
}

function onStatus(event) {
  const { state, text, delay, lost } = event.detail;
  $("connection").textContent = state;
  $("connection").dataset.state = state;
  if (state !== "open") $("rtt").textContent = "–"; // no round trip to show: none is measured
  if (lost) lostLink = true;
  if (state === "reconnecting") {
    const again = delay >= 1000 ? `Trying again in ${Math.ceil(delay / 1000)} s.` : "Trying again now.";
    // Once a link was found silent, the retries that fail while it is down say so too.
    const words = lostLink ? ["Connection lost — reconnecting…", lost ? text : ""] : ["Reconnecting…", text];
    $("overlay-text").textContent = [...words, again].filter(Boolean).join(" ");
    show("overlay", true);
  } else if (state === "open") {
    lostLink = false;
    show("overlay", false);
  } else if (state === "final") {
    $("overlay-text").textContent = text;
    show("overlay", true);
  }
}

function addChat(name, text) {
  const li = document.createElement("li");
  const who = document.createElement("strong");
  who.textContent = `${name}: `;
  li.append(who, document.createTextNode(text));
  $("chat-log").append(li);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}

let toastTimer;
function toast(message) {
  $("toast").textContent = message;
  show("toast", true);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => show("toast", false), 3000);
}

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-input").value.trim();
  if (text && connection.send({ type: "chat", text })) $("chat-input").value = "";
});

// "Play again" queues for the same game, as the lobby's "Play now" does.
new PlayAgain(game, { button: $("play-again"), cancel: $("play-again-cancel"), say: toast });

connection.addEventListener("backpressure", (e) => show("poor-connection", e.detail.backedUp));
connection.addEventListener("frame", onFrame);
connection.addEventListener("status", onStatus);
window.addEventListener("pagehide", () => connection.close());
connection.connect();
