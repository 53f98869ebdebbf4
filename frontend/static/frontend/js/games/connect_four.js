// Connect Four on a canvas: a player clicks or taps a column to drop a disc, or plays
// with the keyboard (arrows choose a column, Enter or Space drops); every move is told
// in words to an ARIA live region, for a screen reader.
import { fitCanvas, SEAT_COLOURS } from "../render.js";

const COLUMNS = 7;
const ROWS = 6;
const CELL = 100;
const WIDTH = COLUMNS * CELL;
const HEIGHT = (ROWS + 1) * CELL; // one row on top for the disc about to drop

/** Draw a Connect Four view (`state` from the server) on a world-scaled context. */
export function drawConnectFour(ctx, state, { hoverColumn = null, mySeat = null } = {}) {
  ctx.clearRect(0, 0, WIDTH, HEIGHT);
  if (hoverColumn !== null && state && !state.finished && state.to_move === mySeat) {
    ctx.fillStyle = SEAT_COLOURS[mySeat];
    ctx.globalAlpha = 0.6;
    disc(ctx, hoverColumn * CELL + CELL / 2, CELL / 2);
    ctx.globalAlpha = 1;
  }
  ctx.fillStyle = "#243070";
  roundRect(ctx, 0, CELL, WIDTH, ROWS * CELL, 24);
  ctx.fill();
  const winning = new Set((state?.line || []).map(([c, r]) => `${c},${r}`));
  for (let c = 0; c < COLUMNS; c++) {
    for (let r = 0; r < ROWS; r++) {
      const seat = state?.board?.[c]?.[r];
      const x = c * CELL + CELL / 2;
      const y = CELL + (ROWS - 1 - r) * CELL + CELL / 2;
      ctx.fillStyle = seat === undefined ? "#0f1221" : SEAT_COLOURS[seat];
      disc(ctx, x, y);
      if (winning.has(`${c},${r}`)) {
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 8;
        ctx.stroke();
      }
    }
  }
}

function disc(ctx, x, y) {
  ctx.beginPath();
  ctx.arc(x, y, CELL * 0.4, 0, Math.PI * 2);
  ctx.fill();
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

export class ConnectFourView {
  static world = { width: WIDTH, height: HEIGHT };

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{mySeat: number|null, tickRate: number, sendInput: (data: object) => void}} options
   */
  constructor(canvas, { mySeat, tickRate, sendInput, nameOf = () => null, announce = () => {} }) {
    this.canvas = canvas;
    this.mySeat = mySeat;
    this.tickRate = tickRate;
    this.sendInput = sendInput;
    this.nameOf = nameOf; // a seat's player's name, or null
    this.announce = announce; // words for the live region
    this.state = null;
    this.stateAt = 0;
    this.hover = null;
    this.cursor = 3; // the column the keyboard chose: the middle to start
    this.resize();
    canvas.addEventListener("pointermove", (e) => (this.hover = this.columnAt(e)));
    canvas.addEventListener("pointerleave", () => (this.hover = null));
    canvas.addEventListener("pointerdown", (e) => this.drop(this.columnAt(e)));
    canvas.tabIndex = 0;
    canvas.addEventListener("keydown", (e) => this.key(e));
    canvas.addEventListener("focus", () => (this.hover = this.cursor));
    canvas.addEventListener("blur", () => (this.hover = null));
  }

  /** Arrows choose a column (shown as the disc above it), Enter or Space drops; 1-7 drop at once. */
  key(e) {
    const n = Number(e.key);
    if (n >= 1 && n <= COLUMNS) {
      this.drop(n - 1);
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      this.cursor = Math.max(0, Math.min(COLUMNS - 1, this.cursor + (e.key === "ArrowLeft" ? -1 : 1)));
      this.hover = this.cursor;
      this.announce(`Column ${this.cursor + 1}`);
    } else if (e.key === "Enter" || e.key === " ") {
      this.drop(this.cursor);
    } else {
      return;
    }
    e.preventDefault(); // no page scroll, no button press
  }

  /** The seat to move, for the players list; null when nobody is. */
  turnSeat() {
    return this.state && !this.state.finished ? this.state.to_move : null;
  }

  /** "You", or the seat's player's name ("Player 2" if the page does not know it). */
  who(seat) {
    if (seat === this.mySeat) return "You";
    return this.nameOf(seat) ?? (this.mySeat === null ? `Player ${seat + 1}` : "Opponent");
  }

  resize() {
    this.ctx = fitCanvas(this.canvas, WIDTH, HEIGHT).ctx;
  }

  columnAt(event) {
    const rect = this.canvas.getBoundingClientRect();
    const column = Math.floor(((event.clientX - rect.left) / rect.width) * COLUMNS);
    return Math.max(0, Math.min(COLUMNS - 1, column));
  }

  drop(column) {
    if (!this.state || this.state.finished) return;
    if (this.state.to_move !== this.mySeat) {
      if (this.mySeat !== null) this.announce("Not your turn");
      return;
    }
    if (this.state.board[column].length >= ROWS) {
      this.announce(`Column ${column + 1} is full`);
      return;
    }
    this.sendInput({ column });
  }

  onState(tick, state) {
    const before = this.state;
    this.state = state;
    this.stateAt = performance.now();
    if (before && state.moves > before.moves) this.announce(this.moveWords(before, state));
  }

  /** What the last move was, in words: "You dropped in column 4", "Bob wins: four in a row". */
  moveWords(before, state) {
    const column = state.board.findIndex((discs, c) => discs.length > before.board[c].length);
    const seat = column >= 0 ? state.board[column].at(-1) : null;
    const words = [];
    if (seat !== null) {
      const who = this.who(seat);
      words.push(`${who} dropped in column ${column + 1}.`);
    }
    if (state.finished) words.push(this.endWords(state));
    else if (state.to_move === this.mySeat) words.push("Your turn.");
    return words.join(" ");
  }

  endWords(state) {
    if (state.winner === null) return "Draw: the board is full.";
    const who = this.who(state.winner);
    const wins = who === "You" ? "You win" : `${who} wins`;
    return state.line.length ? `${wins}: four in a row.` : `${wins}.`;
  }

  /** Seconds left on the turn clock, counted down locally between states. */
  turnSecondsLeft(now = performance.now()) {
    if (!this.state) return null;
    const left = this.state.turn_ticks_left / this.tickRate - (now - this.stateAt) / 1000;
    return Math.max(0, left);
  }

  hud(now) {
    if (!this.state) return "";
    if (this.state.finished) return "Game over";
    const turn = this.state.to_move === this.mySeat ? "Your turn" : `${this.who(this.state.to_move)} to move`;
    return `${turn} · ${Math.ceil(this.turnSecondsLeft(now))} s`;
  }

  draw() {
    drawConnectFour(this.ctx, this.state, { hoverColumn: this.hover, mySeat: this.mySeat });
  }

  debug() {
    return { state: this.state, mySeat: this.mySeat, cursor: this.cursor };
  }
}
