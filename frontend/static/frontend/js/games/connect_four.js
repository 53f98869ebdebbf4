// Connect Four on a canvas: a player clicks or taps a column to drop a disc, or plays
// with the keyboard (arrows choose a column, Enter or Space drops); every move is told
// in words to an ARIA live region, for a screen reader. A new disc falls into its cell
// (not with `prefers-reduced-motion`), and the winning line lights up once it has landed.
import { fitCanvas, SEAT_COLOURS } from "../render.js";
import { motion } from "./effects.js";

const COLUMNS = 7;
const ROWS = 6;
const CELL = 100;
const WIDTH = COLUMNS * CELL;
const HEIGHT = (ROWS + 1) * CELL; // one row on top for the disc about to drop
const RADIUS = CELL * 0.4;
/** A disc dropped from the top row to the bottom falls in this long (ms); a shorter fall,
 *  as under gravity, in less (the square root of the distance). */
export const DROP_MS = 260;

/** The centre of a cell on the canvas: x of its column, y of its row (row 0 the bottom). */
export const cellX = (column) => column * CELL + CELL / 2;
export const cellY = (row) => CELL + (ROWS - 1 - row) * CELL + CELL / 2;

/** Where a disc dropped `ms` ago into `row` is (y), falling from the top row with gravity's
 *  ease (slow, then faster), and whether it has landed. */
export function fallAt(row, ms, total = fallMs(row)) {
  const end = cellY(row);
  if (total <= 0 || ms >= total) return { y: end, landed: true };
  const t = Math.max(0, ms) / total;
  return { y: CELL / 2 + (end - CELL / 2) * t * t, landed: false };
}

export function fallMs(row) {
  return Math.round(DROP_MS * Math.sqrt((ROWS - row) / ROWS));
}

/**
 * Draw a Connect Four view (`state` from the server) on a world-scaled context. With
 * `falling` ({column, row, y}), that cell's disc is drawn at `y` instead, behind the
 * board's face (seen through the holes); the winning line is lit once nothing falls,
 * pulsing gently by `now` unless motion is reduced.
 */
export function drawConnectFour(ctx, state, { hoverColumn = null, mySeat = null, falling = null, now = 0, reduced = true } = {}) {
  ctx.clearRect(0, 0, WIDTH, HEIGHT);
  if (hoverColumn !== null && state && !state.finished && state.to_move === mySeat) {
    ctx.fillStyle = SEAT_COLOURS[mySeat];
    ctx.globalAlpha = 0.6;
    disc(ctx, cellX(hoverColumn), CELL / 2);
    ctx.globalAlpha = 1;
  }
  ctx.fillStyle = "#0f1221"; // the empty holes
  roundRect(ctx, 0, CELL, WIDTH, ROWS * CELL, 24);
  ctx.fill();
  if (falling) {
    ctx.fillStyle = SEAT_COLOURS[state.board[falling.column][falling.row]];
    disc(ctx, cellX(falling.column), falling.y);
  }
  boardFace(ctx);
  for (let c = 0; c < COLUMNS; c++) {
    const discs = state?.board?.[c] || [];
    for (let r = 0; r < discs.length; r++) {
      if (falling && falling.column === c && falling.row === r) continue;
      ctx.fillStyle = SEAT_COLOURS[discs[r]];
      disc(ctx, cellX(c), cellY(r));
    }
  }
  if (!falling && state?.line?.length) winningLine(ctx, state.line, reduced ? 1 : 0.75 + 0.25 * Math.sin(now / 180));
}

/** The board: a blue face with a hole in every cell, the holes left unpainted. */
function boardFace(ctx) {
  ctx.fillStyle = "#243070";
  roundRect(ctx, 0, CELL, WIDTH, ROWS * CELL, 24);
  for (let c = 0; c < COLUMNS; c++) {
    for (let r = 0; r < ROWS; r++) {
      ctx.moveTo(cellX(c) + RADIUS, cellY(r));
      ctx.arc(cellX(c), cellY(r), RADIUS, 0, Math.PI * 2);
    }
  }
  ctx.fill("evenodd");
}

/** The four (or more) in a row: each disc ringed and a bar through their centres. */
function winningLine(ctx, cells, strength) {
  const [first, last] = [cells[0], cells[cells.length - 1]];
  ctx.globalAlpha = strength;
  ctx.strokeStyle = "#ffffff";
  ctx.lineWidth = 8;
  for (const [c, r] of cells) {
    ctx.beginPath();
    ctx.arc(cellX(c), cellY(r), RADIUS, 0, Math.PI * 2);
    ctx.stroke();
  }
  ctx.globalAlpha = 0.55 * strength;
  ctx.lineCap = "round";
  ctx.lineWidth = 14;
  ctx.beginPath();
  ctx.moveTo(cellX(first[0]), cellY(first[1]));
  ctx.lineTo(cellX(last[0]), cellY(last[1]));
  ctx.stroke();
  ctx.lineCap = "butt";
  ctx.globalAlpha = 1;
}

function disc(ctx, x, y) {
  ctx.beginPath();
  ctx.arc(x, y, RADIUS, 0, Math.PI * 2);
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

/** Whether the server holds the turn clock (games/runtime/match/runner.py, `_clock_held`). */
export function clockHeld(state, players) {
  if (!state || state.finished) return false;
  const mover = players.find((p) => p.seat === state.to_move);
  if (!mover || !mover.connected) return false;
  return players.some((p) => !p.connected && !p.abandoned);
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
    this.players = [];
    this.heldLeft = null; // seconds the turn clock stands at while the server holds it
    this.hover = null;
    this.cursor = 3; // the column the keyboard chose: the middle to start
    this.falling = null; // the disc of the last move while it falls: {move, column, row, at, ms}
    // (`at`: when the fall was first drawn)
    this.shown = null; // the falling disc as last drawn, for tests: {move, column, row, y, landed}
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
    if (this.heldLeft !== null) this.heldLeft = state.turn_ticks_left / this.tickRate;
    if (before && state.moves > before.moves) this.announce(this.moveWords(before, state));
    // One new move: its disc falls. Several at once (a reconnect) are shown where they are.
    if (before && state.moves === before.moves + 1) {
      const column = state.board.findIndex((discs, c) => discs.length > before.board[c].length);
      const row = state.board[column].length - 1;
      this.falling = { move: state.moves, column, row, at: null, ms: motion.reduced ? 0 : fallMs(row) };
    } else if (!before || state.moves !== before.moves) {
      this.falling = null;
    }
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
    if (this.heldLeft !== null) return this.heldLeft;
    const left = this.state.turn_ticks_left / this.tickRate - (now - this.stateAt) / 1000;
    return Math.max(0, left);
  }

  /**
   * The players list changed. The server holds the turn clock while the player to move
   * is there and another is away within the grace period (nobody loses on time to a
   * player who is gone), so the page's count stops then too, and goes on from there.
   */
  onPlayers(players, now = performance.now()) {
    const left = this.turnSecondsLeft(now);
    this.players = players;
    const held = clockHeld(this.state, players);
    if (held && this.heldLeft === null) {
      this.heldLeft = left;
    } else if (!held && this.heldLeft !== null) {
      this.heldLeft = null;
      if (this.state) {
        this.state = { ...this.state, turn_ticks_left: left * this.tickRate };
        this.stateAt = now;
      }
    }
  }

  hud(now) {
    if (!this.state) return "";
    if (this.state.finished) return "Game over";
    const turn = this.state.to_move === this.mySeat ? "Your turn" : `${this.who(this.state.to_move)} to move`;
    return `${turn} · ${Math.ceil(this.turnSecondsLeft(now))} s`;
  }

  draw(now = performance.now()) {
    const f = this.falling;
    let falling = null;
    if (f) {
      // The fall starts on the first frame that shows it, timed when it is drawn (a frame's
      // own timestamp can be from before a busy moment): a page busy as the state came in
      // (the first sound starting the audio, say) still shows the whole fall.
      const drawnAt = Math.max(now, performance.now());
      f.at ??= drawnAt;
      const { y, landed } = fallAt(f.row, drawnAt - f.at, f.ms);
      this.shown = { move: f.move, column: f.column, row: f.row, y, landed, animated: f.ms > 0 };
      if (landed) this.falling = null;
      else falling = { column: f.column, row: f.row, y };
    }
    const reduced = motion.reduced;
    drawConnectFour(this.ctx, this.state, { hoverColumn: this.hover, mySeat: this.mySeat, falling, now, reduced });
  }

  debug() {
    return { state: this.state, mySeat: this.mySeat, cursor: this.cursor, falling: this.shown };
  }
}
