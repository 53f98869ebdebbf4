// The lobby: "Play now", private matches, join by code, and a list that refreshes itself.
import { api, ensureSession } from "./api.js";

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

document.querySelectorAll("[data-play-now]").forEach((button) =>
  button.addEventListener("click", async () => {
    button.disabled = true;
    await ensureSession();
    await go(api("/api/play/", { method: "POST", body: { game: button.dataset.playNow } }));
    button.disabled = false;
  }),
);

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

async function refresh() {
  try {
    const lobby = await api("/api/lobby/");
    $("online").textContent = `${lobby.online} online`;
    for (const game of lobby.games) {
      const list = document.querySelector(`[data-open="${game.key}"]`);
      if (list) renderOpen(list, game.open);
    }
  } catch {
    // A failed refresh keeps the last list; the next one tries again.
  }
}

refresh();
setInterval(() => {
  if (!document.hidden) refresh();
}, REFRESH_MS);
