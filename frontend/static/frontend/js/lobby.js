// The lobby: "Play now", private matches, join by code, and a list that refreshes itself.
import { api, ensureSession } from "./api.js";
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

$("join-code-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  await ensureSession();
  await go(api("/api/matches/join/", { method: "POST", body: { code: $("join-code").value } }));
});

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
      const names = document.createElement("span");
      names.textContent = m.participants.map((p) => p.player.display_name).join(", ");
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

function render(lobby) {
  $("online").textContent = `${lobby.online} online`;
  for (const game of lobby.games) {
    const list = document.querySelector(`[data-open="${game.key}"]`);
    if (list) renderOpen(list, game.open);
  }
}

async function poll() {
  try {
    render(await api("/api/lobby/"));
  } catch {
    // A failed refresh keeps the last list; the next one tries again.
  }
}

// The lobby socket pushes changes; while it is down, poll instead.
const socket = lobbySocket();
let live = false;
socket.addEventListener("frame", (e) => {
  if (e.detail.type === "lobby") render(e.detail);
});
socket.addEventListener("status", (e) => (live = e.detail.state === "open"));
const matchmaker = new Matchmaker(socket);
matchmaker.addEventListener("change", (e) => renderSearch(e.detail));
socket.connect();
poll();
setInterval(() => {
  if (!live && !document.hidden) poll();
}, REFRESH_MS);
window.__lobby = socket;
window.__matchmaker = matchmaker;
