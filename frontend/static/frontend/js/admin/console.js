// The admin's live console ("Live now"): polls the console's JSON every 2 seconds and
// draws the live matches and processes; the broadcast form posts to it. No framework:
// the tables are rebuilt from each answer (docs/operations.md, "The live console").
const root = document.getElementById("live-console");
const REFRESH_MS = 2000;

/** A POST of JSON with the admin's CSRF token; resolves with the answer, or throws its message. */
export async function post(url, body, token) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    // not JSON: an error page (CSRF, login); the status says enough
  }
  if (!response.ok) throw new Error(answer.error?.message || `Refused (HTTP ${response.status}).`);
  return answer;
}

export function csrfToken(scope = document) {
  return scope.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function code(text) {
  const td = document.createElement("td");
  const c = document.createElement("code");
  c.textContent = text;
  td.append(c);
  return td;
}

const dash = (value, unit = "") => (value === null || value === undefined ? "-" : `${value}${unit}`);

function matchRow(m) {
  const tr = document.createElement("tr");
  tr.dataset.match = m.id;
  const link = document.createElement("td");
  const a = document.createElement("a");
  a.href = `../${m.id}/change/`;
  a.textContent = m.id.slice(0, 8);
  link.append(a);
  const players = document.createElement("td");
  m.players.forEach((p, i) => {
    const span = document.createElement("span");
    span.className = p.kicked ? "kicked" : p.connected ? "connected" : "disconnected";
    span.textContent = p.name;
    span.title = p.kicked ? "removed by an operator" : p.connected ? "connected" : "not connected";
    players.append(span);
    if (i < m.players.length - 1) players.append(", ");
  });
  const act = document.createElement("td");
  const watch = document.createElement("a");
  watch.href = m.console_url;
  watch.textContent = "Watch and act";
  act.append(watch);
  tr.append(
    link,
    cell(m.game),
    cell(m.status),
    players,
    cell(String(m.spectators)),
    cell(dash(m.tick)),
    cell(`${dash(m.ticks_per_second)} (${dash(m.tick_rate)})`),
    cell(dash(m.lateness_p99_ms, " ms")),
    code(m.runner || "-"),
    act,
  );
  return tr;
}

function processRow(p) {
  const tr = document.createElement("tr");
  tr.dataset.process = p.holder;
  if (p.stale) tr.className = "stale";
  tr.append(
    code(p.holder),
    cell(String(p.match_sockets)),
    cell(String(p.lobby_sockets)),
    cell(String(p.matches)),
    cell(dash(p.lateness_p99_ms, " ms")),
    cell(`${p.heartbeat_age} s ago`),
    cell(p.draining ? "draining" : "no"),
  );
  return tr;
}

function empty(columns, text) {
  const tr = document.createElement("tr");
  const td = cell(text);
  td.colSpan = columns;
  tr.append(td);
  return tr;
}

function render(live) {
  document.getElementById("online").textContent = `${live.online} online`;
  document.getElementById("match-count").textContent = String(live.matches.length);
  document.getElementById("process-count").textContent = String(live.processes.length);
  const matches = live.matches.map(matchRow);
  document.getElementById("matches").replaceChildren(...(matches.length ? matches : [empty(10, "No live matches.")]));
  const processes = live.processes.map(processRow);
  document
    .getElementById("processes")
    .replaceChildren(...(processes.length ? processes : [empty(7, "No process has reported yet.")]));
  const shown = document.getElementById("broadcast-current");
  if (live.broadcast) {
    shown.textContent = `Shown now, until ${live.broadcast.until.slice(0, 16).replace("T", " ")} UTC: `;
    const q = document.createElement("q");
    q.textContent = live.broadcast.text;
    shown.append(q);
  } else {
    shown.textContent = "No broadcast is shown.";
  }
  document.getElementById("refreshed").textContent = `as of ${new Date(live.at * 1000).toLocaleTimeString()}`;
}

let polls = 0;
async function refresh() {
  try {
    const response = await fetch(root.dataset.stateUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
    polls += 1;
    root.dataset.polls = String(polls); // for tests: how many answers were drawn
  } catch (error) {
    // The last tables stay; the next poll tries again.
    document.getElementById("refreshed").textContent = `not refreshed (${error.message}); retrying`;
  }
}

const form = document.getElementById("broadcast-form");
form?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const outcome = form.querySelector("[data-outcome]");
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const text = form.elements.text.value;
    const minutes = Number(form.elements.minutes.value);
    await post(root.dataset.broadcastUrl, { text, minutes }, csrfToken(form));
    outcome.textContent = "Sent to every connected player.";
    form.elements.text.value = "";
    refresh();
  } catch (error) {
    outcome.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});

if (root) {
  refresh();
  setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
}
