// Connect Four on a canvas: a player clicks or taps a column to drop a disc.
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
  constructor(canvas, { mySeat, tickRate, sendInput }) {
    this.canvas = canvas;
    this.mySeat = mySeat;
    this.tickRate = tickRate;
    this.sendInput = sendInput;
    this.state = null;
    this.stateAt = 0;
    this.hover = null;
    this.resize();
    canvas.addEventListener("pointermove", (e) => (this.hover = this.columnAt(e)));
    canvas.addEventListener("pointerleave", () => (this.hover = null));
    canvas.addEventListener("pointerdown", (e) => this.drop(this.columnAt(e)));
    canvas.tabIndex = 0;
    canvas.addEventListener("keydown", (e) => {
      const n = Number(e.key);
      if (n >= 1 && n <= COLUMNS) this.drop(n - 1);
    });
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
    if (!this.state || this.state.finished || this.state.to_move !== this.mySeat) return;
    this.sendInput({ column });
  }

  onState(tick, state) {
    this.state = state;
    this.stateAt = performance.now();
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
    // "Player 2", as the server's summaries say ("Player 2 wins: four in a row.").
    const turn = this.state.to_move === this.mySeat ? "Your turn" : `Player ${this.state.to_move + 1} to move`;
    return `${turn} · ${Math.ceil(this.turnSecondsLeft(now))} s`;
  }

  draw() {
    drawConnectFour(this.ctx, this.state, { hoverColumn: this.hover, mySeat: this.mySeat });
  }

  debug() {
    return { state: this.state, mySeat: this.mySeat };
  }
}
