// The match page: connects, draws the game, HUD, chat, overlays, result.
import { api } from "./api.js";
import { showNotice } from "./banner.js";
import { COMPACT, VIEWS } from "./games/index.js";
import { PlayAgain } from "./matchmaking.js";
import { ReconnectingSocket, matchSocketUrl } from "./net.js";
import { COLOUR_NAMES } from "./render.js";
import { ReportDialog, canReport, labelReport, reportButton } from "./report.js";
import { Rematch, outcomeWords, ratingWords, titleFor, withNames } from "./result.js";
import { SidePanel } from "./sidepanel.js";
import { Sounds, effectFor, muteToggle } from "./sounds.js";

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
let rematch = null; // the result's "Rematch", once the match is over (players only)
let resultTimer = null;
const sounds = new Sounds();
window.__sounds = sounds;

/**
 * A beat between the last move and the result's overlay, to see the winning line (or
 * the last hit) first. Not when the page opens on a match that is over already.
 */
const RESULT_BEAT_MS = 1000;

/**
 * When each other seat's player must be back by (docs/protocol.md, "Reconnecting"), on
 * this page's clock: seat -> performance.now() + the `grace_left` of the newest players
 * list. The server says how long is left, not when it ends, so the page's clock never
 * has to agree with the server's, and a reload (or a failover, which starts the grace
 * period again) shows what the server counts.
 */
const awayUntil = new Map();

/**
 * The start's countdown on this page's clock: when it should end by the server's
 * `starts_in` (null: none ran), and when the server's GO reached the page (its
 * first state past tick 0). The page holds until the server's GO, so it is never
 * ahead of the server; it gives up waiting GO_SLACK_MS after its own estimate
 * (a state lost on the way).
 */
let goAt = null;
let wentAt = null;
const GO_SLACK_MS = 1000;
/** How long "GO" stays up after the countdown. */
const GO_MS = 700;

function show(id, visible) {
  $(id).hidden = !visible;
}

// Reporting another player: a button next to them in the players list and the result.
const reports = new ReportDialog($("report-dialog"), matchId);
const sidePanel = new SidePanel(root, $("side"), $("side-toggle"), $("side-close"), $("chat-unread"));
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
    const mine = you?.role === "player" && p.player_id === you.player_id;
    const note = p.abandoned ? " (left)" : p.ready || status !== "waiting" ? "" : " (not ready)";
    setText(li.querySelector(".name"), p.name + (mine ? " (you)" : "") + note);
    setText(li.querySelector(".score"), String(scores[p.seat] ?? ""));
    const toMove = status === "active" && view?.turnSeat?.() === p.seat;
    setText(li.querySelector(".turn"), toMove ? "to move" : "");
    li.className = [p.connected ? "online" : "offline", toMove ? "to-move" : "", mine ? "me" : ""].filter(Boolean).join(" ");
    const button = li.querySelector("[data-report-player]");
    if (button) labelReport(button, p, reports.reported.has(p.player_id));
  });
}

function playerItem(p) {
  const li = document.createElement("li");
  li.dataset.player = String(p.player_id);
  li.innerHTML = `<span class="dot seat-${p.seat}"></span><span class="name"></span><span class="turn"></span><span class="score"></span>`;
  // Bots are shown as bots: a badge beside the name.
  if (p.bot) li.querySelector(".name").after(badge("bot"));
  if (canReport(you, p)) li.append(reportButton(reports, p));
  return li;
}

function badge(text) {
  const span = document.createElement("span");
  span.className = "badge bot";
  span.textContent = text;
  return span;
}

/** A seat's player's name, for the game views' words ("Bob to move"). */
function nameOf(seat) {
  return players.find((p) => p.seat === seat)?.name ?? null;
}

function playEffect(events) {
  const effect = effectFor(events);
  if (effect) sounds.play(effect);
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** Note who has gone (and who came back) from a players list: the server's grace left. */
function trackAway(now = performance.now()) {
  awayUntil.clear();
  for (const p of players) {
    const away = p.seat !== mySeat && !p.connected && !p.abandoned && p.grace_left != null;
    if (away) awayUntil.set(p.seat, now + p.grace_left * 1000);
  }
}

/** "BoldRaven7 disconnected — 27 s to come back", for every other seat that is gone. */
function awayText(now) {
  if (status !== "active") return "";
  return players
    .filter((p) => awayUntil.has(p.seat))
    .map((p) => {
      const left = Math.max(0, Math.ceil((awayUntil.get(p.seat) - now) / 1000));
      return `${p.name} disconnected — ${left} s to come back`;
    })
    .join(" · ");
}

/** The start's countdown from a welcome or players frame (`starts_in`, seconds left). */
function trackCountdown(startsIn, now = performance.now()) {
  if (startsIn != null && startsIn > 0) {
    goAt = now + startsIn * 1000;
    wentAt = null;
  } else if (goAt !== null && wentAt === null) {
    wentAt = now; // the server's countdown is over
  }
}

/** A state of `tick` arrived: past tick 0, the server has said GO. */
function sawTick(tick, now = performance.now()) {
  if (tick > 0 && goAt !== null && wentAt === null) wentAt = now;
}

/** Whether the countdown still holds the game: nothing is sent before GO. */
function countingDown(now = performance.now()) {
  return goAt !== null && wentAt === null && now < goAt + GO_SLACK_MS;
}

let held = false; // the own ship's controls are held by the countdown

/**
 * Before GO the own ship stays put on this page too: what the keys did is dropped as it
 * happens (the view's movement is emptied and stopped), so the ship neither drifts
 * here nor jumps at GO. At GO the view reads the keys held then, so a key held
 * through the countdown moves the ship at once.
 */
function holdControls(now = performance.now()) {
  if (!view?.holdControls) return; // a turn-based view has nothing to hold
  view.holdControls(now);
  held = true;
}

function releaseControls(now = performance.now()) {
  if (!held) return;
  held = false;
  view?.releaseControls?.(now);
}

/** "3", "2", "1", then "GO" for a moment; "" otherwise. */
function countdownText(now) {
  if (goAt === null || status !== "active") return "";
  if (countingDown(now)) return String(Math.max(1, Math.ceil((goAt - now) / 1000)));
  return now - (wentAt ?? goAt + GO_SLACK_MS) < GO_MS ? "GO" : "";
}

/** The countdown, over the board in the waiting panel (its words otherwise). */
function showCountdown(now) {
  const text = countdownText(now);
  const panel = $("waiting");
  const words = panel.querySelector("p");
  if (!text) {
    if (panel.dataset.countdown === undefined) return;
    delete panel.dataset.countdown;
    setText(words, words.dataset.words);
    show("waiting", status === "waiting");
    return;
  }
  words.dataset.words ??= words.textContent; // the panel's own words, for afterwards
  panel.dataset.countdown = text;
  setText(words, text);
  show("waiting", true);
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
  trackCountdown(frame.starts_in);
  if (frame.result) return showResult(frame.result, { beat: false });
  if (status === "aborted") return showAborted(frame.result?.summary || "This match was aborted.");
  const View = VIEWS[game];
  if (!view) {
    view = new View(canvas, {
      mySeat: frame.you.seat,
      tickRate: frame.match.tick_rate,
      sendInput: (data) => connection.sendInput(data),
      roundTrip: () => connection.clock.rtt,
      fireButton: $("fire"),
      nameOf,
      announce: (text) => setText($("announce"), text),
    });
    window.__arcade = { view, connection, sounds };
    window.addEventListener("resize", () => view.resize());
    requestAnimationFrame(frameLoop);
    // Inputs go out at the simulation rate, not per key event or per animation frame.
    if (view.tick) {
      inputTimer = setInterval(() => {
        connection.flush();
        // Not while the link is down or silent: inputs nobody hears would only pile up
        // as predictions to take back. The connection holds the newest anyway.
        // Nor before GO: the server ignores them (see holdControls).
        if (countingDown()) holdControls();
        else if (connection.live) view.tick();
      }, 1000 / frame.match.tick_rate);
    }
  }
  if (frame.state) view.onState(frame.tick, frame.state);
  view.onPlayers?.(players);
  if (status === "waiting" && frame.you.role === "player") connection.send({ type: "ready" });
  show("waiting", status === "waiting" || countingDown());
  renderPlayers();
}

function onFrame(event) {
  const frame = event.detail;
  switch (frame.type) {
    case "welcome":
      return onWelcome(frame);
    case "players":
      players = frame.players;
      view?.onPlayers?.(players);
      trackAway();
      trackCountdown(frame.starts_in);
      return renderPlayers();
    case "state":
      if (status === "waiting") {
        status = "active";
        show("waiting", countingDown());
        trackAway();
      }
      sawTick(frame.tick);
      view?.onState(frame.tick, frame.state);
      playEffect(frame.events);
      return renderPlayers();
    case "result":
      return showResult(frame, { beat: true });
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

function showResult(frame, { beat }) {
  result = frame;
  status = "finished";
  clearInterval(inputTimer);
  renderPlayers();
  const mine = you?.role === "player" ? frame.seats.find((s) => s.player_id === you.player_id) : null;
  $("result-title").textContent = titleFor(mine, frame.seats);
  $("result-summary").textContent = withNames(frame.summary, frame.seats);
  $("result-seats").replaceChildren(...frame.seats.map((s) => resultRow(s, frame.seats)));
  $("replay-link").href = `/replay/${matchId}/`;
  showEndActions();
  show("waiting", false);
  if (mine && !rematch) {
    rematch = new Rematch(matchId, {
      button: $("rematch"),
      decline: $("rematch-decline"),
      status: $("rematch-status"),
      me: you.player_id,
      say: toast,
    });
  }
  clearTimeout(resultTimer);
  if (!beat) return show("result", true);
  if (mine) sounds.play(mine.outcome === "win" ? "win" : mine.outcome === "draw" ? "drop" : "lose");
  resultTimer = setTimeout(() => show("result", true), RESULT_BEAT_MS);
  return undefined;
}

/** One seat of the result: name (and whether it is you or a bot), outcome, score, rating. */
function resultRow(s, seats) {
  const tr = document.createElement("tr");
  const name = document.createElement("td");
  const me = you?.role === "player" && s.player_id === you.player_id;
  name.append(`${s.name}${me ? " (you)" : ""}`);
  if (s.bot) name.append(" ", badge("bot"));
  tr.append(name);
  for (const text of [outcomeWords(s, seats), s.score, ratingWords(s)]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const report = document.createElement("td");
  if (canReport(you, s)) report.append(reportButton(reports, s));
  tr.append(report);
  return tr;
}

/** A player is offered "Rematch" and "New opponent"; a spectator, another match to watch. */
function showEndActions() {
  const watching = you?.role === "spectator";
  const over = status === "finished";
  show("rematch", !watching && over);
  show("new-opponent", !watching);
  show("watch-another", watching);
}

/** Who this page is, in the HUD and under the board. */
function showRole() {
  const watching = you.role === "spectator";
  $("role").textContent = watching ? "Watching" : `You are ${COLOUR_NAMES[you.seat % COLOUR_NAMES.length]}`;
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

function frameLoop(now) {
  if (countingDown()) holdControls();
  else releaseControls();
  if (view) {
    view.draw(now);
    const hud = view.hud(now);
    if ($("hud-status").textContent !== hud) $("hud-status").textContent = hud;
  }
  showCountdown(performance.now());
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
  sidePanel.sawChat();
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

// "New opponent" queues for the same game, as the lobby's "Play now" does; a rematch
// asked for is declined then.
new PlayAgain(game, { button: $("new-opponent"), cancel: $("new-opponent-cancel"), say: toast });
$("new-opponent").addEventListener("click", () => {
  const status = rematch?.state?.status;
  if (!status || rematch.answered || status === "started" || status === "declined") return;
  // Asked for: a "no"; nobody asked yet: this player has left, as if the page closed.
  rematch.answer(status === "waiting" ? "no" : "leave");
});

// A private match's invite: the page's own address, for the friend to open.
$("copy-invite")?.addEventListener("click", async () => {
  const link = $("copy-invite").dataset.invite;
  try {
    await navigator.clipboard.writeText(link);
    $("copy-invite-done").textContent = "Copied: send it to a friend.";
  } catch {
    // No clipboard (an old browser, or permission refused): show the link to copy by hand.
    $("copy-invite-done").textContent = link;
  }
});

muteToggle($("mute"), sounds);

connection.addEventListener("backpressure", (e) => show("poor-connection", e.detail.backedUp));
connection.addEventListener("frame", onFrame);
connection.addEventListener("status", onStatus);
window.addEventListener("pagehide", () => {
  connection.close();
  rematch?.leave();
});
connection.connect();
