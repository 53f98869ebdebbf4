// Arena on a canvas: predicted local ship, interpolated others, keyboard, mouse and touch.
import { InputHistory, SnapshotBuffer, lerp, lerpAngle } from "../netcode.js";
import { fitCanvas, SEAT_COLOURS } from "../render.js";

// Must match games/engine/arena.py (a test compares them).
export const WIDTH = 960;
export const HEIGHT = 640;
export const SHIP_RADIUS = 16;
export const SHIP_SPEED = 220;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
/** A correction of the own ship fades with this time constant (ms): slower than a
 *  frame, so the ship never visibly steps back, fast enough to stay true. */
const CORRECTION_MS = 100;
/** Corrections larger than this (a respawn, a long stall) are shown at once. */
const SNAP_DISTANCE = 80;

/** One tick of the server's ship movement, for prediction. */
export function moveShip(ship, input, dt) {
  let mx = clamp(input.mx, -1, 1);
  let my = clamp(input.my, -1, 1);
  const length = Math.hypot(mx, my);
  if (length > 1) {
    mx /= length;
    my /= length;
  }
  return {
    ...ship,
    x: clamp(ship.x + mx * SHIP_SPEED * dt, SHIP_RADIUS, WIDTH - SHIP_RADIUS),
    y: clamp(ship.y + my * SHIP_SPEED * dt, SHIP_RADIUS, HEIGHT - SHIP_RADIUS),
    aim: input.aim,
  };
}

/** Draw ships and bullets (already positioned for this frame) on a world-scaled context. */
export function drawArena(ctx, ships, bullets, mySeat = null) {
  ctx.fillStyle = "#0b0e1a";
  ctx.fillRect(0, 0, WIDTH, HEIGHT);
  ctx.strokeStyle = "#ffffff10";
  ctx.lineWidth = 1;
  for (let x = 80; x < WIDTH; x += 80) line(ctx, x, 0, x, HEIGHT);
  for (let y = 80; y < HEIGHT; y += 80) line(ctx, 0, y, WIDTH, y);
  ctx.strokeStyle = "#4fd1c5";
  ctx.lineWidth = 4;
  ctx.strokeRect(2, 2, WIDTH - 4, HEIGHT - 4);
  ctx.fillStyle = "#ffe9a8";
  for (const b of bullets) {
    ctx.beginPath();
    ctx.arc(b.x, b.y, 4, 0, Math.PI * 2);
    ctx.fill();
  }
  for (const s of ships) {
    if (s.removed || !s.alive) continue;
    ctx.save();
    ctx.translate(s.x, s.y);
    ctx.rotate(s.aim);
    ctx.fillStyle = SEAT_COLOURS[s.seat % SEAT_COLOURS.length];
    ctx.beginPath();
    ctx.moveTo(SHIP_RADIUS + 6, 0);
    ctx.lineTo(-SHIP_RADIUS, SHIP_RADIUS * 0.8);
    ctx.lineTo(-SHIP_RADIUS * 0.5, 0);
    ctx.lineTo(-SHIP_RADIUS, -SHIP_RADIUS * 0.8);
    ctx.closePath();
    ctx.fill();
    if (s.seat === mySeat) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    ctx.restore();
    ctx.fillStyle = "#ffffffcc";
    for (let i = 0; i < s.hp; i++) ctx.fillRect(s.x - 12 + i * 9, s.y + SHIP_RADIUS + 6, 7, 3);
  }
}

function line(ctx, x1, y1, x2, y2) {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}

export class ArenaView {
  static world = { width: WIDTH, height: HEIGHT };

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{mySeat: number|null, tickRate: number, sendInput: (data: object) => void,
   *          fireButton?: HTMLElement}} options
   */
  constructor(canvas, { mySeat, tickRate, sendInput, fireButton }) {
    this.canvas = canvas;
    this.mySeat = mySeat;
    this.tickRate = tickRate;
    this.dt = 1 / tickRate;
    this.sendInput = sendInput;
    this.buffer = new SnapshotBuffer(1000 / tickRate, 2);
    this.history = new InputHistory();
    this.controls = { mx: 0, my: 0, aim: 0, fire: false };
    this.keys = new Set();
    this.predicted = null; // our ship as we predict it
    // Our ship is drawn at the prediction plus a correction offset that fades out:
    // when the server's state moves the prediction (it ticked differently from our
    // inputs, say two inputs landed in one tick), the ship glides instead of jumping.
    this.correction = { x: 0, y: 0 };
    this.lastDraw = null;
    this.rendered = [];
    this.renderedTick = 0; // the server tick the other ships are drawn at
    this.corrections = []; // sizes of the recent reconciliation corrections (units)
    this.resize();
    this.bindInputs(fireButton);
  }

  resize() {
    const { ctx, scale } = fitCanvas(this.canvas, WIDTH, HEIGHT);
    this.ctx = ctx;
    this.scale = scale;
  }

  bindInputs(fireButton) {
    const keyFire = new Set(["Space"]);
    window.addEventListener("keydown", (e) => {
      if (MOVE_KEYS[e.code] || keyFire.has(e.code)) e.preventDefault();
      this.keys.add(e.code);
    });
    window.addEventListener("keyup", (e) => this.keys.delete(e.code));
    window.addEventListener("blur", () => this.keys.clear());
    this.canvas.addEventListener("pointermove", (e) => {
      if (e.pointerType === "mouse") this.mouse = this.toWorld(e);
      else if (this.stick) this.moveStick(e);
    });
    this.canvas.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse") {
        this.mouseFire = true;
      } else {
        this.stick = { id: e.pointerId, x: e.clientX, y: e.clientY, dx: 0, dy: 0 };
        this.canvas.setPointerCapture(e.pointerId);
      }
    });
    const release = (e) => {
      if (e.pointerType === "mouse") this.mouseFire = false;
      else if (this.stick && this.stick.id === e.pointerId) this.stick = null;
    };
    this.canvas.addEventListener("pointerup", release);
    this.canvas.addEventListener("pointercancel", release);
    if (fireButton) {
      fireButton.addEventListener("pointerdown", (e) => {
        e.preventDefault();
        this.touchFire = true;
      });
      for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
        fireButton.addEventListener(type, () => (this.touchFire = false));
      }
    }
  }

  moveStick(e) {
    const reach = 60; // CSS pixels for a full deflection
    this.stick.dx = clamp((e.clientX - this.stick.x) / reach, -1, 1);
    this.stick.dy = clamp((e.clientY - this.stick.y) / reach, -1, 1);
  }

  toWorld(e) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - rect.left) / this.scale, y: (e.clientY - rect.top) / this.scale };
  }

  /** Read the devices into the controls of this tick. */
  sample() {
    let mx = 0;
    let my = 0;
    for (const code of this.keys) {
      const move = MOVE_KEYS[code];
      if (move) {
        mx += move[0];
        my += move[1];
      }
    }
    if (this.stick) {
      mx = this.stick.dx;
      my = this.stick.dy;
    }
    const ship = this.predicted;
    let aim = this.controls.aim;
    if (this.mouse && ship) aim = Math.atan2(this.mouse.y - ship.y, this.mouse.x - ship.x);
    else if (mx || my) aim = Math.atan2(my, mx); // keyboard or stick only: aim where you go
    aim = (aim + 2 * Math.PI) % (2 * Math.PI);
    const fire = this.keys.has("Space") || !!this.mouseFire || !!this.touchFire;
    this.controls = { mx: clamp(mx, -1, 1), my: clamp(my, -1, 1), aim, fire };
  }

  /** Called at the simulation rate: sample, predict locally at once, send. */
  tick() {
    if (this.mySeat === null) return;
    const latest = this.buffer.latest();
    const me = latest?.state.ships[this.mySeat];
    if (!me || me.removed || latest.state.finished) return;
    this.sample();
    const input = this.history.next(this.controls);
    if (this.predicted && me.alive) this.predicted = moveShip(this.predicted, input, this.dt);
    this.sendInput(input);
  }

  onState(tick, state) {
    this.buffer.push(tick, state);
    if (this.mySeat === null) return;
    const me = state.ships[this.mySeat];
    if (!me) return;
    // Reconciliation: start from the server's ship, replay what it has not seen yet.
    const before = this.predicted;
    this.predicted = me.alive
      ? this.history.reconcile({ ...me }, me.ack, (s, input) => moveShip(s, input, this.dt))
      : { ...me };
    const dx = before ? before.x - this.predicted.x : 0;
    const dy = before ? before.y - this.predicted.y : 0;
    if (Math.hypot(dx, dy) > 0.01) this.corrections.push(Math.hypot(dx, dy));
    if (this.corrections.length > 4096) this.corrections.shift();
    if (Math.hypot(this.correction.x + dx, this.correction.y + dy) > SNAP_DISTANCE) {
      this.correction = { x: 0, y: 0 }; // respawned or far off: show the truth at once
    } else {
      this.correction = { x: this.correction.x + dx, y: this.correction.y + dy };
    }
  }

  hud() {
    const latest = this.buffer.latest();
    if (!latest) return "";
    const seconds = Math.ceil(latest.state.ticks_left / this.tickRate);
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")} left`;
  }

  scores() {
    const latest = this.buffer.latest();
    return latest ? latest.state.ships.map((s) => s.score) : [];
  }

  draw(now = performance.now()) {
    this.renderedTick = this.buffer.renderTick(now);
    const pair = this.buffer.around(this.renderedTick);
    if (!pair) {
      drawArena(this.ctx, [], [], this.mySeat);
      return;
    }
    const { from, to, alpha } = pair;
    const ships = to.state.ships.map((b, i) => {
      const a = from.state.ships[i] || b;
      if (b.seat === this.mySeat && this.predicted && b.alive) return this.ease(b, now);
      if (!a.alive && b.alive) return b; // respawned: no sliding across the field
      return { ...b, x: lerp(a.x, b.x, alpha), y: lerp(a.y, b.y, alpha), aim: lerpAngle(a.aim, b.aim, alpha) };
    });
    const previous = new Map(from.state.bullets.map((b) => [b[0], b]));
    const bullets = to.state.bullets.map((b) => {
      const a = previous.get(b[0]) || b;
      return { x: lerp(a[1], b[1], alpha), y: lerp(a[2], b[2], alpha) };
    });
    this.rendered = ships;
    this.lastDraw = now;
    drawArena(this.ctx, ships, bullets, this.mySeat);
  }

  /** The drawn ship: the prediction plus what is left of the last corrections. */
  ease(server, now) {
    const elapsed = this.lastDraw === null ? 0 : Math.max(0, now - this.lastDraw);
    const keep = Math.exp(-elapsed / CORRECTION_MS);
    this.correction = { x: this.correction.x * keep, y: this.correction.y * keep };
    const target = this.predicted;
    return { ...server, x: target.x + this.correction.x, y: target.y + this.correction.y, aim: target.aim };
  }

  debug() {
    return {
      mySeat: this.mySeat,
      ships: this.rendered.map((s) => ({ seat: s.seat, x: s.x, y: s.y, score: s.score })),
      pending: this.history.pending.length,
      renderTick: this.renderedTick,
      corrections: this.corrections.length,
    };
  }
}

const MOVE_KEYS = {
  KeyW: [0, -1], ArrowUp: [0, -1], KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0], KeyD: [1, 0], ArrowRight: [1, 0],
};
