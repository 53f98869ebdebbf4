// Reporting another player of a match (POST /api/matches/<id>/report/, docs/api.md
// "Reports"): who may be reported, and the dialog that sends it.
import { api } from "./api.js";

/**
 * Whether the viewer may report `other` (a `players` entry or a result seat): only a
 * seated player, never themselves, never a computer player. `you` is the welcome's.
 */
export function canReport(you, other) {
  if (!you || you.role !== "player" || !other) return false;
  return other.player_id !== you.player_id && !other.bot;
}

/** The outcome of a report sent, in words. */
export function reportSent(name) {
  return `Thank you: your report of ${name} was sent to the moderators.`;
}

/**
 * The report dialog (a `<dialog>` holding the form of match.html): `open(player)` shows
 * it for one player ({player_id, name}); "Send report" posts, and the dialog says what
 * came of it, the API's refusals in its words (reported already, too many reports).
 * `reported` holds the ids reported from this page, so their buttons can say so.
 */
export class ReportDialog extends EventTarget {
  constructor(dialog, matchId, { post = api } = {}) {
    super();
    this.dialog = dialog;
    this.matchId = matchId;
    this.post = post;
    this.player = null;
    this.reported = new Set();
    this.form = dialog.querySelector("form");
    this.field = (name) => this.form.querySelector(`[data-report="${name}"]`);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    this.field("close").addEventListener("click", () => this.dialog.close());
    this.field("text").addEventListener("input", () => this._count());
  }

  open(player) {
    this.player = player;
    this.field("name").textContent = player.name;
    this.field("reason").value = "";
    this.field("text").value = "";
    this.field("outcome").textContent = "";
    this.field("fields").disabled = false;
    this.field("send").hidden = false;
    this.field("close").textContent = "Cancel";
    this._count();
    this.dialog.showModal();
    this.field("reason").focus();
  }

  async send() {
    const player = this.player;
    const reason = this.field("reason").value;
    if (!player || !reason) {
      this.field("outcome").textContent = "Choose a reason.";
      return;
    }
    this.field("send").disabled = true;
    this.field("outcome").textContent = "Sending…";
    try {
      await this.post(`/api/matches/${this.matchId}/report/`, {
        method: "POST",
        body: { player: player.player_id, reason, text: this.field("text").value.trim() },
      });
      this._done(player, reportSent(player.name));
    } catch (error) {
      // "You have reported this player for this match." is an outcome too: nothing more to send.
      if (/reported this player/.test(error.message)) this._done(player, error.message);
      else this.field("outcome").textContent = error.message;
    } finally {
      this.field("send").disabled = false;
    }
  }

  _done(player, words) {
    this.reported.add(player.player_id);
    this.field("outcome").textContent = words;
    this.field("fields").disabled = true;
    this.field("send").hidden = true;
    this.field("close").textContent = "Close";
    this.field("close").focus();
    this.dispatchEvent(new CustomEvent("reported", { detail: player }));
  }

  _count() {
    this.field("count").textContent = `${this.field("text").value.length}/500`;
  }
}

/** A "Report" button for `player`, labelled with their name; it opens `dialog`. */
export function reportButton(dialog, player) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link report";
  button.dataset.reportPlayer = String(player.player_id);
  button.addEventListener("click", () => dialog.open({ player_id: player.player_id, name: button.dataset.name }));
  labelReport(button, player, dialog.reported.has(player.player_id));
  return button;
}

/** Keep a report button's words up to date: "Report", or "Reported" once sent. */
export function labelReport(button, player, reported) {
  button.dataset.name = player.name;
  const text = reported ? "Reported" : "Report";
  if (button.textContent !== text) button.textContent = text;
  button.disabled = reported;
  button.setAttribute("aria-label", `${text} ${player.name}`);
}
