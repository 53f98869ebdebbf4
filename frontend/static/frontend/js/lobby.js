// The lobby: "Play now", private matches, join by code, and a list that refreshes itself.
import { api, ensureSession } from "./api.js";
import { showNotice } from "./banner.js";
import { Matchmaker, lobbySocket, playNow } from "./matchmaking.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 3000;

async function go(promise) {
  try {
    const match = await promise;
    window.location.href = `/play/${match.id}/`;
  } catch (error) {
    $("lobby-error").textContent = error.message;
  }
}

// "Play now" queues on the lobby socket (below) to be matched by rating; only while the
// socket cannot open does the JSON API's quick join seat the player in an open match
// (which the queue fills too) or open one.
document.querySelectorAll("[data-play-now]").forEach((button) =>
  button.addEventListener("click", async () => {
    button.disabled = true;
    $("lobby-error").textContent = "";
    try {
      const match = await playNow(matchmaker, button.dataset.playNow);
      if (match) window.location.href = `/play/${match.id}/`;
    } catch (error) {
      $("lobby-error").textContent = error.message;
      button.disabled = false;
    }
  }),
);

// "Play vs computer": no queue and no wait; a new private match with bots at the level
// chosen (a guest session first if nobody is logged in), straight to its page.
document.querySelectorAll("[data-play-computer]").forEach((button) =>
  button.addEventListener("click", async () => {
    const game = button.dataset.playComputer;
    const level = document.querySelector(`[data-bot-level="${game}"]`)?.value || "normal";
    button.disabled = true;
    $("lobby-error").textContent = "";
    try {
      await ensureSession();
      const match = await api("/api/matches/computer/", { method: "POST", body: { game, level } });
      window.location.href = `/play/${match.id}/`;
    } catch (error) {
      $("lobby-error").textContent = error.message;
      button.disabled = false;
    }
  }),
);

document.querySelectorAll("[data-cancel-queue]").forEach((button) =>
  button.addEventListener("click", () => matchmaker.cancel()),
);

function renderSearch({ state, game, match, message }) {
  const searching = (key) => state === "searching" && key === game;
  document.querySelectorAll("[data-play-now]").forEach((button) => {
    button.textContent = searching(button.dataset.playNow) ? "Searching…" : "Play now";
    button.disabled = state !== "idle";
  });
  document.querySelectorAll("[data-cancel-queue]").forEach((button) => {
    button.hidden = !searching(button.dataset.cancelQueue);
  });
  const error = $("lobby-error");
  error.textContent = message;
  if (state === "matched") window.location.href = match.url;
  if (state === "idle" && match) {
    const rejoin = document.createElement("a");
    rejoin.href = match.url;
    rejoin.textContent = "Back to your match";
    error.append(" ", rejoin);
  }
}

document.querySelectorAll("[data-create-private]").forEach((button) =>
  button.addEventListener("click", async () => {
    await ensureSession();
    await go(api("/api/matches/", { method: "POST", body: { game: button.dataset.createPrivate, private: true } }));
  }),
);

// An invite link ("Copy invite link" on a private match's page) brings its code.
const invited = new URLSearchParams(window.location.search).get("code");
if (invited && $("join-code")) {
  $("join-code").value = invited;
  $("invite-note").hidden = false;
}

$("join-code-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  await ensureSession();
  await go(api("/api/matches/join/", { method: "POST", body: { code: $("join-code").value } }));
});

/** The players of a match, `separator` between them, each bot with a "bot" badge. */
function nameList(participants, separator) {
  const span = document.createElement("span");
  participants.forEach((p, index) => {
    if (index) span.append(separator);
    span.append(p.player.display_name);
    if (p.player.is_bot) {
      const badge = document.createElement("span");
      badge.className = "badge bot";
      badge.textContent = "bot";
      span.append(" ", badge);
    }
  });
  return span;
}

function renderOpen(list, matches) {
  if (!matches.length) {
    const p = document.createElement("li");
    p.className = "muted";
    p.textContent = "No open matches. Start one!";
    list.replaceChildren(p);
    return;
  }
  list.replaceChildren(
    ...matches.map((m) => {
      const li = document.createElement("li");
      const names = nameList(m.participants, ", ");
      const join = document.createElement("a");
      join.href = `/play/${m.id}/`;
      join.textContent = `Join ${m.participants.length}/${m.max_players}`;
      join.addEventListener("click", async (e) => {
        e.preventDefault();
        await ensureSession();
        await go(api(`/api/matches/${m.id}/join/`, { method: "POST" }).catch((error) => {
          if (/already have a seat/.test(error.message)) return m;
          throw error;
        }));
      });
      li.append(names, join);
      return li;
    }),
  );
}

// How long a match has run, from its start (the client's clock; a skew of a few seconds
// does not matter here): "0:42", "12:05".
function runningFor(startedAt) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(startedAt)) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function tickRunning() {
  document.querySelectorAll("[data-started]").forEach((span) => {
    span.textContent = runningFor(span.dataset.started);
  });
}

// Public matches in progress: who plays, for how long, and "Watch" (the match page,
// where a visitor without a seat is a spectator).
function renderLive(list, matches) {
  if (!matches.length) {
    const p = document.createElement("li");
    p.className = "muted";
    p.textContent = "Nobody is playing right now.";
    list.replaceChildren(p);
    return;
  }
  list.replaceChildren(
    ...matches.map((m) => {
      const li = document.createElement("li");
      li.dataset.match = m.id;
      const names = nameList(m.participants, " vs ");
      const running = document.createElement("span");
      running.className = "muted";
      running.dataset.started = m.started_at;
      running.title = "Running for";
      running.textContent = runningFor(m.started_at);
      const watch = document.createElement("a");
      watch.href = `/play/${m.id}/`;
      watch.textContent = "Watch";
      li.append(names, running, watch);
      return li;
    }),
  );
}

function render(lobby) {
  $("online").textContent = `${lobby.online} online`;
  for (const game of lobby.games) {
    const open = document.querySelector(`[data-open="${game.key}"]`);
    if (open) renderOpen(open, game.open);
    const live = document.querySelector(`[data-live="${game.key}"]`);
    if (live) renderLive(live, game.live || []);
  }
}

// Every lobby frame the socket pushed so far. A poll's answer is drawn only if no push
// arrived while it was on its way: that push is at least as new, and drawing the answer
// over it would show a match that has started since as still open.
let pushes = 0;

async function poll() {
  const before = pushes;
  try {
    const lobby = await api("/api/lobby/");
    if (pushes === before) render(lobby);
  } catch {
    // A failed refresh keeps the last list; the next one tries again.
  }
}

// The lobby socket pushes changes; while it is down, poll instead.
const socket = lobbySocket();
let live = false;
socket.addEventListener("frame", (e) => {
  if (e.detail.type === "notice") showNotice(e.detail); // an operator's broadcast: a banner
  if (e.detail.type !== "lobby") return;
  pushes += 1;
  render(e.detail);
});
socket.addEventListener("status", (e) => (live = e.detail.state === "open"));
const matchmaker = new Matchmaker(socket);
matchmaker.addEventListener("change", (e) => renderSearch(e.detail));
socket.connect();
poll();
setInterval(() => {
  if (!live && !document.hidden) poll();
}, REFRESH_MS);
setInterval(tickRunning, 1000);
window.__lobby = socket;
window.__matchmaker = matchmaker;
