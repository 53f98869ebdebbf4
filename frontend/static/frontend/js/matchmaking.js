// "Play now" through the matchmaking queue on the lobby socket: search, cancel, matched.
// Plain ES module, no build step. The messages are in docs/protocol.md ("The lobby socket").

/**
 * The player's place in a matchmaking queue, kept over a lobby socket (a MatchConnection).
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
