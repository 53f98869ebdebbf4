// The end of a match as a player reads it: outcomes in words with names, placements,
// the new rating and its change, and "Rematch" (the same people, once all agree).
// Plain ES module, no build step; the messages are in docs/protocol.md and docs/api.md.
import { api } from "./api.js";
import { lobbySocket } from "./matchmaking.js";
import { displayRating } from "./render.js";

/** "Player 2" in a server summary (seat 1) becomes that seat's name. */
export function withNames(text, seats) {
  const names = new Map(seats.map((s) => [s.seat, s.name]));
  return text.replace(/\b[Pp]layer (\d+)\b/g, (words, n) => names.get(Number(n) - 1) ?? words);
}

/** 1 → "1st", 2 → "2nd", 11 → "11th", 23 → "23rd". */
export function ordinal(n) {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

/**
 * How one seat ended, in words: two players win, lose or draw; more (the arena) are
 * placed ("2nd of 3"); a seat that left says so.
 */
export function outcomeWords(seat, seats) {
  if (seat.outcome === "abandoned") return "Left";
  if (seat.outcome === "draw") return "Draw";
  if (seats.length <= 2 || seat.rank === null) return seat.outcome === "win" ? "Winner" : "Lost";
  return `${ordinal(seat.rank)} of ${seats.length}`;
}

/** The result's title for the player who reads it (or for a spectator: null seat). */
export function titleFor(mine, seats) {
  if (!mine) return "Match over";
  if (mine.outcome === "win") return "You won!";
  if (mine.outcome === "draw") return "Draw";
  if (mine.outcome === "abandoned") return "You left the match";
  if (seats.length > 2 && mine.rank !== null) return `You placed ${ordinal(mine.rank)} of ${seats.length}`;
  return "You lost";
}

/** A rated seat's new shown rating and its change ("1523 (+23)"); "unrated" otherwise. */
export function ratingWords(seat) {
  if (seat.rating_after === null || seat.rating_before === null) return "unrated";
  const after = displayRating(seat.rating_after);
  const change = after - displayRating(seat.rating_before);
  return `${after} (${change >= 0 ? "+" : "\u2212"}${Math.abs(change)})`;
}

function names(people) {
  const list = people.map((p) => p.display_name);
  return list.length <= 1 ? list.join("") : `${list.slice(0, -1).join(", ")} and ${list.at(-1)}`;
}

const WHY = { declined: "declined the rematch", left: "left", unavailable: "cannot play now" };
const YOURS = {
  declined: "You declined the rematch.",
  left: "No rematch: you left.",
  unavailable: "No rematch: you cannot play one now.",
};

/**
 * "Rematch" on a finished match's result: asks through the JSON API, hears the others'
 * answers (`rematch` frames) and the new match (`matched`) on a lobby socket of its own,
 * opened when the result shows. Events: none; it draws `button`, `decline` and `status`.
 */
export class Rematch {
  constructor(matchId, { button, decline, status, me, say, socket = lobbySocket, go = (url) => window.location.assign(url) }) {
    this.matchId = matchId;
    this.button = button;
    this.declineButton = decline;
    this.status = status;
    this.me = me; // this page's player id
    this.say = say;
    // The new match is heard of on several paths at once (the API's answer, `matched` and
    // `rematch` on the socket): a second navigation while its page loads would cancel it.
    this.go = (url) => {
      if (this.gone) return;
      this.gone = true;
      go(url);
    };
    this.gone = false;
    this.state = null;
    this.answered = false; // this page said yes or no: leaving says nothing more
    this.connection = socket();
    this.connection.addEventListener("frame", (e) => this._frame(e.detail));
    this.connection.addEventListener("status", (e) => {
      // Fetched once the socket is open, so no answer given meanwhile is missed.
      if (e.detail.state === "open") this.refresh();
    });
    button.addEventListener("click", () => this.answer("yes"));
    decline.addEventListener("click", () => this.answer("no"));
    this.connection.connect();
  }

  async refresh() {
    try {
      this._render(await api(`/api/matches/${this.matchId}/rematch/`));
    } catch (error) {
      this.say(error.message);
    }
  }

  async answer(answer) {
    this.button.disabled = true;
    this.declineButton.disabled = true;
    try {
      const state = await api(`/api/matches/${this.matchId}/rematch/`, { method: "POST", body: { answer } });
      this.answered = true;
      this._render(state);
    } catch (error) {
      this.status.textContent = error.message;
      this.button.disabled = false;
      this.declineButton.disabled = false;
    }
  }

  /** The page is going: a rematch nobody answered yet is told this player left. */
  leave() {
    this.connection.close();
    if (this.answered || !this.state || this.state.status === "started" || this.state.status === "declined") return;
    const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    fetch(`/api/matches/${this.matchId}/rematch/`, {
      method: "POST",
      keepalive: true, // sent even as the page unloads
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? decodeURIComponent(csrf[1]) : "" },
      body: JSON.stringify({ answer: "leave" }),
    }).catch(() => {});
  }

  _frame(frame) {
    if (frame.type === "matched") return this.go(frame.match.url);
    // Someone else answered: the API's answer says where it stands now, whom it waits for.
    if (frame.type === "rematch" && frame.match === this.matchId) this.refresh();
    return undefined;
  }

  _render(state) {
    this.state = state;
    if (state.status === "started" && state.rematch) {
      this.status.textContent = "Starting the rematch…";
      return this.go(state.rematch.url);
    }
    const iWant = state.wants.some((p) => p.id === this.me);
    const others = state.wants.filter((p) => p.id !== this.me);
    this.declineButton.hidden = true;
    this.button.textContent = "Rematch";
    if (state.status === "declined") {
      const mine = state.declined.find((d) => d.id === this.me);
      this.status.textContent = mine
        ? YOURS[mine.why]
        : state.declined.map((d) => `${d.display_name} ${WHY[d.why]}.`).join(" ");
      this.button.disabled = true;
      return undefined;
    }
    if (iWant) {
      const waiting = (state.waiting_for || []).filter((p) => p.id !== this.me);
      this.status.textContent = waiting.length ? `Waiting for ${names(waiting)} to accept…` : "Rematch requested.";
      this.button.textContent = "Rematch requested";
      this.button.disabled = true;
      return undefined;
    }
    this.button.disabled = false;
    if (others.length) {
      this.status.textContent = `${names(others)} ${others.length > 1 ? "want" : "wants"} a rematch`;
      this.button.textContent = "Accept rematch";
      this.declineButton.hidden = false;
      this.declineButton.disabled = false;
    } else {
      this.status.textContent = "";
    }
    return undefined;
  }
}
