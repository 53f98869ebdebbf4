// "Play now" through the matchmaking queue on the lobby socket: search, cancel, matched;
// the same for "Play again" on a match page. Without a socket, the JSON API's quick join.
// Plain ES module, no build step. The messages are in docs/protocol.md ("The lobby socket").
import { api, ensureSession } from "./api.js";
import { ReconnectingSocket } from "./net.js";

// How long "Play now" waits for the lobby socket to open before it uses the JSON API.
const OPEN_WAIT_MS = 2000;

/**
 * The player's place in a matchmaking queue, kept over a lobby socket (a ReconnectingSocket).
 *
 * Events (EventTarget): "change" (detail: {state: "idle"|"searching"|"matched",
 * game, match, message}). `match` is {id, game, url} once matched, or when idle
 * because the player is still seated in a match in progress (to rejoin);
 * `message` is something to show the player (why the search ended, or that a
 * match is coming).
 */
export class Matchmaker extends EventTarget {
  constructor(connection) {
    super();
    this.connection = connection;
    this.state = "idle";
    this.game = null;
    this.match = null;
    this.retriedSession = false;
    connection.addEventListener("frame", (e) => this._frame(e.detail));
    connection.addEventListener("status", (e) => {
      // The server takes a player out of the queue when the socket that queued them
      // closes, so a socket that comes back queues again (the wait starts over).
      if (e.detail.state === "open" && this.state === "searching") this._queue();
    });
  }

  /** Start searching for a match of `game`; false if the socket is down (use the JSON API). */
  search(game) {
    if (!this.connection.send({ type: "queue", game })) return false;
    this.game = game;
    this.match = null;
    this._set("searching");
    return true;
  }

  /** Leave the queue; the search ends when the server confirms ("unqueued"). */
  cancel() {
    if (this.state !== "searching") return;
    // A closed socket has already taken us out of the queue on the server.
    if (!this.connection.send({ type: "unqueue" })) this._set("idle");
  }

  _queue() {
    this.connection.send({ type: "queue", game: this.game });
  }

  _frame(frame) {
    if (frame.type === "matched") {
      // Sent to every lobby socket of the player: another tab may have searched.
      this.match = frame.match;
      this.game = frame.match.game;
      this._set("matched");
      return;
    }
    if (this.state !== "searching") return;
    if (frame.type === "queued") {
      this.retriedSession = false;
    } else if (frame.type === "unqueued") {
      this._set("idle", frame.reason || "");
    } else if (frame.type === "error") {
      this._error(frame);
    }
  }

  _error(frame) {
    if (frame.code === "not_authenticated" && !this.retriedSession) {
      // The socket opened before this page got a session (a new guest): open it again,
      // with the session cookie; it queues again once open.
      this.retriedSession = true;
      this.connection.reconnect();
    } else if (frame.code === "in_match") {
      // Seated in a match in progress: the search ends, and the page can offer it.
      this.match = frame.match;
      this._set("idle", frame.message);
    } else if (frame.code === "matching") {
      this._set("searching", "A match is being made for you…");
    } else if (frame.code === "not_queued") {
      this._set("idle");
    } else if (frame.code !== "rate_limited") {
      this._set("idle", frame.message);
    }
  }

  _set(state, message = "") {
    this.state = state;
    this.dispatchEvent(
      new CustomEvent("change", { detail: { state, game: this.game, match: this.match, message } }),
    );
  }
}

/** A lobby socket for this page's site (JSON frames; a ping now and then keeps it open). */
export function lobbySocket() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return new ReconnectingSocket(`${scheme}://${window.location.host}/ws/lobby/`, { binary: false, pingMs: 15000 });
}

/** Whether `connection` is open, waiting up to `ms` while it connects. */
export function whenOpen(connection, ms = OPEN_WAIT_MS) {
  if (connection.ws && connection.ws.readyState === 1) return Promise.resolve(true);
  return new Promise((resolve) => {
    const opened = (e) => {
      if (e.detail.state !== "open") return;
      clearTimeout(timer);
      connection.removeEventListener("status", opened);
      resolve(true);
    };
    const timer = setTimeout(() => {
      connection.removeEventListener("status", opened);
      resolve(false);
    }, ms);
    connection.addEventListener("status", opened);
  });
}

/**
 * "Play now" for `game`: search in the queue on the matchmaker's lobby socket, or, if
 * it does not open in time, the JSON API's quick join (POST /api/play/), whose open
 * matches the queue fills too. Resolves with null while searching (the matchmaker's
 * "change" events tell the rest), or with the match the quick join seated the player in.
 */
export async function playNow(matchmaker, game, { wait = OPEN_WAIT_MS } = {}) {
  await ensureSession();
  if ((await whenOpen(matchmaker.connection, wait)) && matchmaker.search(game)) return null;
  return api("/api/play/", { method: "POST", body: { game } });
}

/**
 * "Play again" on a match page: the lobby's "Play now" for the same game, on a lobby
 * socket opened at the first press. `button` shows "Searching…" meanwhile, `cancel`
 * leaves the queue, `say(text)` shows why a search ended; a match found opens its page.
 */
export class PlayAgain {
  constructor(game, { button, cancel, say, socket = lobbySocket, go = (url) => window.location.assign(url), wait = OPEN_WAIT_MS }) {
    this.game = game;
    this.wait = wait;
    this.button = button;
    this.cancel = cancel;
    this.say = say;
    this.socket = socket;
    this.go = go;
    this.matchmaker = null;
    this.label = button.textContent;
    button.addEventListener("click", () => this.press());
    cancel.addEventListener("click", () => this.matchmaker?.cancel());
  }

  async press() {
    this.button.disabled = true;
    try {
      if (!this.matchmaker) {
        await ensureSession(); // first, so the socket opens with the session
        this.matchmaker = new Matchmaker(this.socket());
        this.matchmaker.addEventListener("change", (e) => this._render(e.detail));
        this.matchmaker.connection.connect();
      }
      const match = await playNow(this.matchmaker, this.game, { wait: this.wait });
      if (match) this.go(`/play/${match.id}/`);
    } catch (error) {
      this.say(error.message);
      this.button.disabled = false;
    }
  }

  _render({ state, match, message }) {
    if (state === "matched") return this.go(match.url);
    const searching = state === "searching";
    this.button.textContent = searching ? "Searching…" : this.label;
    this.button.disabled = searching;
    this.cancel.hidden = !searching;
    if (message) this.say(message);
  }
}
