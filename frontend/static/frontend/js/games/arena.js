// Arena on a canvas: predicted local ship, interpolated others, keyboard, mouse and touch.
import {
  CARRY_TICKS,
  ControlIntegrator,
  Correction,
  InputHistory,
  SnapshotBuffer,
  lerp,
  lerpAngle,
} from "../predict.js";
import { fitCanvas, SEAT_COLOURS } from "../render.js";
import { ArenaEffects } from "./effects.js";
import { Stick, deflection, keepInViewWhenSideways } from "../touch.js";

// Must match games/engine/arena.py (a test compares them).
export const WIDTH = 960;
export const HEIGHT = 640;
export const SHIP_RADIUS = 16;
export const SHIP_SPEED = 220;
export const MAX_HP = 3;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
/** Jumps larger than this (a respawn) are shown at once, never blended. */
const RESET_DISTANCE = 80;
/** A remote ship's jump (new states after a short extrapolation) fades over about this long (ms). */
const REMOTE_FADE_MS = 80;

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

/**
 * Draw ships and bullets (already positioned for this frame) on a world-scaled context;
 * with `effects` (an ArenaEffects, updated for this frame) hit flashes, respawns fading
 * in, explosions, HP bars that show what was just lost, and the kill feed.
 */
export function drawArena(ctx, ships, bullets, mySeat = null, effects = null) {
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
    const opacity = effects ? effects.opacity(s.seat) : 1;
    ctx.globalAlpha = opacity;
    drawShip(ctx, s, s.seat === mySeat, effects ? effects.flash(s.seat) : 0);
    hpBar(ctx, s, s.seat === mySeat, effects);
    ctx.globalAlpha = 1;
  }
  if (effects) {
    effects.drawBursts(ctx, ships);
    effects.drawFeed(ctx, WIDTH);
  }
}

function drawShip(ctx, s, mine, flash) {
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
  if (mine) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  if (flash > 0) {
    ctx.globalAlpha *= flash; // a hit: white over the colour, fading
    ctx.fillStyle = "#ffffff";
    ctx.fill();
  }
  ctx.restore();
}

/** A ship's HP bar under it (over it at the bottom wall): green, amber, then red, in
 *  segments of one hit; our own larger and outlined; at least a few CSS pixels tall. */
function hpBar(ctx, s, mine, effects) {
  const px = effects ? effects.pixel : 1;
  const width = Math.max(mine ? 52 : 40, (mine ? 36 : 28) * px);
  const height = Math.max(mine ? 8 : 6, (mine ? 6 : 4) * px);
  let shown = Math.max(0, s.hp) / MAX_HP;
  let lost = shown;
  if (effects) ({ shown, lost } = effects.bar(s.seat, s.hp));
  const x = s.x - width / 2;
  const below = s.y + SHIP_RADIUS + 8;
  const y = below + height > HEIGHT - 4 ? s.y - SHIP_RADIUS - 8 - height : below;
  ctx.fillStyle = "#000000aa";
  ctx.fillRect(x - 1, y - 1, width + 2, height + 2);
  ctx.fillStyle = "#3a4060"; // the empty track: what is missing shows
  ctx.fillRect(x, y, width, height);
  if (lost > shown) {
    ctx.fillStyle = "#ffffffb0"; // just lost, draining
    ctx.fillRect(x + width * shown, y, width * (lost - shown), height);
  }
  ctx.fillStyle = shown > 0.67 ? "#5ee08a" : shown > 0.34 ? "#ffb020" : "#ff5d73";
  ctx.fillRect(x, y, width * shown, height);
  ctx.fillStyle = "#000000aa";
  for (let i = 1; i < MAX_HP; i++) ctx.fillRect(x + (width * i) / MAX_HP - 0.75, y, 1.5, height);
  if (mine) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(x - 1, y - 1, width + 2, height + 2);
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
   *          fireButton?: HTMLElement, stick?: HTMLElement|null,
   *          roundTrip?: () => number|null}} options
   *   `stick`: the touch screens' stick pad beside the field (the page's #stick if any).
   */
  constructor(canvas, {
    mySeat,
    tickRate,
    sendInput,
    fireButton,
    stick = document.getElementById("stick"),
    nameOf = () => null,
    roundTrip = () => null,
  }) {
    this.canvas = canvas;
    this.mySeat = mySeat;
    this.tickRate = tickRate;
    this.dt = 1 / tickRate;
    this.sendInput = sendInput;
    this.roundTrip = roundTrip; // the latest round trip (ms), for the `lag` of our shots
    this.buffer = new SnapshotBuffer(1000 / tickRate);
    this.history = new InputHistory();
    // Movement is read when the keys or the stick change, integrated over each
    // tick's interval, and sent once per tick as that interval's movement.
    this.integrator = new ControlIntegrator(1000 / tickRate);
    this.direction = null; // unit vector the player holds, or null
    this.controls = { mx: 0, my: 0, aim: 0, fire: false };
    this.fireLatched = false; // the trigger went down since the last input
    this.triggerDownAt = null; // when the trigger held now went down (performance.now())
    this.keys = new Set();
    this.predicted = null; // our ship after the inputs sent so far, as we predict it
    this.modelPrev = null; // where the prediction put our ship on the last frame
    this.modelAt = 0; // and when
    // Our ship is drawn at the prediction plus a correction offset that fades out:
    // when a state moves the prediction, the ship glides instead of jumping.
    this.correction = new Correction(SHIP_SPEED * this.dt, RESET_DISTANCE);
    this.glide = new Map(); // seat -> offset of a remote ship still fading
    this.lastDraw = null;
    this.rendered = [];
    this.renderedTick = 0; // the server tick the other ships are drawn at
    this.corrections = []; // sizes of the recent reconciliation corrections (units)
    this.repeats = 0; // states in which our input missed its tick (`repeated`), inputs in flight
    // Hits, explosions, respawns, HP bars and the kill feed (`nameOf`: a seat's player's name).
    this.effects = new ArenaEffects({ mySeat, nameOf, maxHp: MAX_HP, tickRate });
    this.resize();
    this.bindInputs(fireButton);
    if (stick) this.bindStick(stick);
  }

  resize() {
    const { ctx, scale } = fitCanvas(this.canvas, WIDTH, HEIGHT);
    this.ctx = ctx;
    this.scale = scale;
  }

  bindInputs(fireButton) {
    const keyFire = new Set(["Space"]);
    window.addEventListener("keydown", (e) => {
      // Keys typed in a text field (the chat) are the field's: no steering, no firing.
      if (e.isComposing || isTextField(e.target)) return;
      if (MOVE_KEYS[e.code] || keyFire.has(e.code)) e.preventDefault();
      if (this.keys.has(e.code)) return; // auto-repeat
      if (keyFire.has(e.code)) this.pullTrigger(eventTime(e)); // before it counts as held
      this.keys.add(e.code);
      this.controlsChanged(eventTime(e));
    });
    window.addEventListener("keyup", (e) => {
      // Released wherever the focus went: a key pressed on the field never sticks.
      if (!this.keys.delete(e.code)) return;
      this.controlsChanged(eventTime(e));
    });
    // Focus moving into a text field lets go of the keys held for the game.
    window.addEventListener("focusin", (e) => {
      if (!isTextField(e.target) || !this.keys.size) return;
      this.keys.clear();
      this.controlsChanged();
    });
    window.addEventListener("blur", () => {
      this.keys.clear();
      this.controlsChanged();
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (e.pointerType === "mouse") this.mouse = this.toWorld(e);
      else if (this.stick?.id === e.pointerId) this.moveStick(e);
    });
    this.canvas.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse") {
        this.pullTrigger(eventTime(e));
        this.mouseFire = true;
      } else if (!this.stick) {
        // A drag on the field steers too, from where it started.
        this.stick = { id: e.pointerId, x: e.clientX, y: e.clientY, dx: 0, dy: 0 };
        this.canvas.setPointerCapture(e.pointerId);
        this.controlsChanged(eventTime(e));
      }
    });
    const release = (e) => {
      if (e.pointerType === "mouse") this.mouseFire = false;
      else if (this.stick && this.stick.id === e.pointerId) {
        this.stick = null;
        this.stickPad?.show(0, 0);
        this.controlsChanged(eventTime(e));
      }
    };
    this.canvas.addEventListener("pointerup", release);
    this.canvas.addEventListener("pointercancel", release);
    if (fireButton) {
      fireButton.addEventListener("pointerdown", (e) => {
        e.preventDefault();
        this.pullTrigger(eventTime(e));
        this.touchFire = true;
      });
      for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
        fireButton.addEventListener(type, () => (this.touchFire = false));
      }
    }
  }

  /** Fire, Space or the mouse button went down: the next input fires, whatever comes. */
  pullTrigger(time) {
    if (!this.triggerHeld()) this.triggerDownAt = time;
    this.fireLatched = true;
  }

  triggerHeld() {
    return this.keys.has("Space") || !!this.mouseFire || !!this.touchFire;
  }

  /**
   * Whether inputs other than the one the latch fires carry the trigger: only once it has
   * been held for a tick. The server fires once per input with `fire` (after the gun's
   * cooldown), so a tap shorter than a tick must be one such input, even when two inputs
   * go out during it (a late timer's carried ticks, or two timers bunched together).
   */
  triggerHeldLong(now) {
    return this.triggerHeld() && now - this.triggerDownAt >= this.dt * 1000;
  }

  /**
   * The visible stick of touch screens, beside the field: a thumb on the pad steers from
   * the pad's centre and the knob follows it. Another thumb can hold Fire meanwhile (each
   * pointer is its own); the stick is the first thumb's until it lets go.
   */
  bindStick(pad) {
    if (this.mySeat === null) {
      pad.hidden = true; // watching: nothing to steer
      return;
    }
    this.stickPad = new Stick(pad);
    pad.addEventListener("pointerdown", (e) => {
      e.preventDefault(); // no text selection, no emulated mouse events
      if (this.stick) return;
      const { x, y, reach } = this.stickPad.origin();
      this.stick = { id: e.pointerId, x, y, reach, dx: 0, dy: 0 };
      pad.setPointerCapture(e.pointerId);
      this.moveStick(e);
    });
    pad.addEventListener("pointermove", (e) => {
      if (this.stick?.id === e.pointerId) this.moveStick(e);
    });
    const release = (e) => {
      if (this.stick?.id !== e.pointerId) return;
      this.stick = null;
      this.stickPad.show(0, 0);
      this.controlsChanged(eventTime(e));
    };
    pad.addEventListener("pointerup", release);
    pad.addEventListener("pointercancel", release);
    keepInViewWhenSideways(this.canvas.closest(".stage") || this.canvas);
  }

  moveStick(e) {
    // The pad's reach is its radius; a drag on the field itself, 60 CSS pixels.
    const { dx, dy } = deflection(this.stick, this.stick.reach || 60, e.clientX, e.clientY);
    this.stick.dx = dx;
    this.stick.dy = dy;
    this.stickPad?.show(dx, dy); // the knob shows what the thumb asks, on the pad or the field
    this.controlsChanged(eventTime(e));
  }

  toWorld(e) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - rect.left) / this.scale, y: (e.clientY - rect.top) / this.scale };
  }

  /** The movement the devices ask for now, as the engine moves it (diagonals normalised). */
  movement() {
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
    mx = clamp(mx, -1, 1);
    my = clamp(my, -1, 1);
    const length = Math.hypot(mx, my);
    return length > 1 ? { mx: mx / length, my: my / length } : { mx, my };
  }

  /**
   * Before GO the server ignores inputs: what the keys asked for so far is dropped and
   * the ship is held, so it neither drifts on this page nor jumps at GO.
   */
  holdControls(now = performance.now()) {
    this.integrator.take(now);
    this.integrator.set(0, 0, now);
  }

  /** After GO: the keys held now count from this moment. */
  releaseControls(now = performance.now()) {
    this.controlsChanged(now);
  }

  /** A key, the stick or focus changed: the new movement counts from this moment. */
  controlsChanged(now = performance.now()) {
    // Not before the last frame drawn: a release never takes back movement already shown.
    now = Math.max(now, this.modelAt);
    const { mx, my } = this.movement();
    this.integrator.set(mx, my, now);
    const length = Math.hypot(mx, my);
    this.direction = length > 0.05 ? { x: mx / length, y: my / length } : null;
  }

  aim() {
    const ship = this.predicted;
    const { mx, my } = this.movement();
    let aim = this.controls.aim;
    if (this.mouse && ship) aim = Math.atan2(this.mouse.y - ship.y, this.mouse.x - ship.x);
    else if (mx || my) aim = Math.atan2(my, mx); // keyboard or stick only: aim where you go
    return (aim + 2 * Math.PI) % (2 * Math.PI);
  }

  /** Called at the simulation rate: close this tick's interval, predict it, send it. */
  tick(now = performance.now()) {
    const move = this.integrator.take(now); // taken even when not sent: no stale movement later
    if (this.mySeat === null) return;
    const latest = this.buffer.latest();
    const me = latest?.state.ships[this.mySeat];
    if (!me || me.removed || latest.state.finished) return;
    const held = this.triggerHeldLong(now);
    // A tap shorter than a tick is over before it: the latch fires it once, in this input.
    this.sendMove(move, held || this.fireLatched, me, now);
    this.fireLatched = false;
    // A timer that fired late: the movement past one tick goes out at once as further
    // inputs (the server applies them at its next ticks), so none of it is lost. They
    // fire only if the trigger has been held a while: a tap is one input with `fire`.
    for (let n = 0; n < CARRY_TICKS && this.integrator.carries(); n++) {
      this.sendMove(this.integrator.take(now), held, me, now);
    }
  }

  /** One input of one tick's movement: predicted at once, then sent. */
  sendMove(move, fire, me, now) {
    this.controls = { mx: move.mx, my: move.my, aim: this.aim(), fire };
    // Shots are judged where we see the other ships (the server clamps the claim).
    // `ticks: 1`: this input is one tick of movement, moved once by the server, at the
    // tick it lands; a tick it misses moves the ship by nothing, so the server's ship
    // goes through the positions predicted here whichever ticks our inputs meet.
    const lag = shotLag(this.buffer, this.roundTrip(), now);
    const input = this.history.next({ ...this.controls, lag, ticks: 1 });
    if (this.predicted && me.alive) this.predicted = moveShip(this.predicted, input, this.dt);
    this.sendInput(input);
  }

  /** Where the prediction puts our ship at `now`: the inputs sent, then this interval so far. */
  model(now) {
    const aim = this.predicted.aim;
    let ship = this.predicted;
    for (const part of this.integrator.partials(now)) ship = moveShip(ship, { ...part, aim }, this.dt);
    return ship;
  }

  onState(tick, state) {
    const now = performance.now();
    this.pushState(tick, state, now);
    this.effects.onState(tick, state, now);
    if (this.mySeat === null) return;
    const me = state.ships[this.mySeat];
    if (!me) return;
    if (!me.alive || !this.predicted?.alive) {
      // Dead, respawned or the first state: the server's ship as it is.
      this.predicted = this.history.reconcile({ ...me }, me.ack, (s) => s);
      this.correction.clear();
      this.modelPrev = null;
      return;
    }
    // Reconciliation: start from the server's ship, replay what it has not seen yet.
    // The server applies our inputs in the order sent, each one tick of movement once
    // (two of a backlog it drains in one tick), so this replays what it will run and
    // lands where the prediction was. `repeated` with inputs in flight: one of ours
    // missed its tick and the server's ship held still for it (it moves later, when
    // the input is applied); nothing to correct.
    if (me.repeated && this.history.pending.some((p) => p.seq > me.ack)) this.repeats += 1;
    const before = this.model(now);
    this.predicted = this.history.reconcile({ ...me }, me.ack, (s, input) => moveShip(s, input, this.dt));
    const after = this.model(now);
    const dx = before.x - after.x;
    const dy = before.y - after.y;
    if (Math.hypot(dx, dy) > 0.01) {
      this.corrections.push(Math.hypot(dx, dy));
      if (this.corrections.length > 4096) this.corrections.shift();
    }
    this.correction.add(dx, dy); // drawn where it was; the offset fades in draw()
    if (this.modelPrev) this.modelPrev = { x: this.modelPrev.x - dx, y: this.modelPrev.y - dy };
  }

  /** Add a state; where it moves the other ships as drawn now (they were extrapolated,
   *  or it lets one glide across a tick it held still in), they glide onto it. */
  pushState(tick, state, now) {
    const latest = this.buffer.latest();
    const clock = this.buffer.clock;
    const before = latest && clock !== null ? this.remoteAt(clock / this.buffer.tickMs) : null;
    this.buffer.push(tick, state, now);
    if (!before) return;
    const after = this.remoteAt(clock / this.buffer.tickMs);
    for (const [seat, a] of before) {
      const b = after.get(seat);
      if (!b || !a.alive || !b.alive) continue;
      const g = this.glide.get(seat) || { x: 0, y: 0 };
      this.glide.set(seat, { x: g.x + a.x - b.x, y: g.y + a.y - b.y });
    }
  }

  /** The other ships where the snapshots put them at `tick` (no glide). */
  remoteAt(tick) {
    const ships = new Map();
    const pair = this.buffer.around(tick);
    if (!pair) return ships;
    const { from, to, alpha } = pair;
    for (const [i, b] of to.state.ships.entries()) {
      if (b.seat === this.mySeat) continue;
      const a = from.state.ships[i] || b;
      if (!a.alive && b.alive) {
        ships.set(b.seat, b); // respawned: no sliding across the field
        continue;
      }
      const span = this.bridged(from, to, i, tick) || { a, b, alpha };
      ships.set(b.seat, {
        ...b,
        alive: b.alive && (alpha <= 1 || a.alive),
        x: clamp(lerp(span.a.x, span.b.x, span.alpha), SHIP_RADIUS, WIDTH - SHIP_RADIUS),
        y: clamp(lerp(span.a.y, span.b.y, span.alpha), SHIP_RADIUS, HEIGHT - SHIP_RADIUS),
        aim: lerpAngle(a.aim, b.aim, Math.min(1, alpha)),
      });
    }
    return ships;
  }

  /**
   * Ship `i` between the states either side of a tick in which it held still because
   * its player's input missed that tick (`repeated`; the input moves it a tick later),
   * when both of those states are here: it glides across the two ticks instead of
   * stopping for one and going on. Null when `from`..`to` is no such span.
   */
  bridged(from, to, i, tick) {
    if (to.tick !== from.tick + 1 || tick > to.tick) return null;
    const snaps = this.buffer.snapshots;
    const held = (s) => !!s?.state.ships[i]?.repeated;
    const live = (s) => !!s?.state.ships[i]?.alive;
    let start = from;
    let end = to;
    if (held(to) && !held(from)) end = snaps[snaps.indexOf(to) + 1];
    else if (held(from) && !held(to)) start = snaps[snaps.indexOf(from) - 1];
    else return null;
    if (!start || !end || held(start) || held(end) || end.tick - start.tick !== 2) return null;
    if (!live(start) || !live(from) || !live(to) || !live(end)) return null;
    const a = start.state.ships[i];
    const b = end.state.ships[i];
    return { a, b, alpha: (tick - start.tick) / 2 };
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
    this.effects.update(now, this.renderedTick, 1 / this.scale);
    const pair = this.buffer.around(this.renderedTick);
    if (!pair) {
      drawArena(this.ctx, [], [], this.mySeat);
      return;
    }
    const elapsed = this.lastDraw === null ? 0 : Math.max(0, now - this.lastDraw);
    const remote = this.remoteAt(this.renderedTick);
    const latest = this.buffer.latest().state;
    const ships = latest.ships.map((s) => {
      // The own ship at the moment of drawing (a frame's timestamp can precede a key
      // event handled just before it): a press made since the last frame shows.
      if (s.seat === this.mySeat) return this.ownShip(s, Math.max(now, performance.now()), elapsed);
      const r = remote.get(s.seat) || s;
      return { ...r, ...this.glided(r, elapsed) };
    });
    const { from, to, alpha } = pair;
    const previous = new Map(from.state.bullets.map((b) => [b[0], b]));
    const bullets = to.state.bullets.map((b) => {
      const a = previous.get(b[0]) || b;
      return { x: lerp(a[1], b[1], alpha), y: lerp(a[2], b[2], alpha) };
    });
    this.rendered = ships;
    this.lastDraw = now;
    drawArena(this.ctx, ships, bullets, this.mySeat, this.effects);
  }

  /** A remote ship plus what is left of its glide. */
  glided(ship, elapsed) {
    const g = this.glide.get(ship.seat);
    if (!g) return { x: ship.x, y: ship.y };
    const keep = Math.exp(-elapsed / REMOTE_FADE_MS);
    if (!ship.alive || Math.hypot(g.x, g.y) * keep < 0.05 || Math.hypot(g.x, g.y) > RESET_DISTANCE) {
      this.glide.delete(ship.seat);
      return { x: ship.x, y: ship.y };
    }
    g.x *= keep;
    g.y *= keep;
    return { x: ship.x + g.x, y: ship.y + g.y };
  }

  /** Our ship this frame: the prediction at frame rate plus the fading correction. */
  ownShip(server, now, elapsed) {
    if (!this.predicted || !server.alive || !this.predicted.alive) return server;
    const model = this.model(now);
    this.modelAt = now;
    const prev = this.modelPrev || model;
    this.correction.step({ x: model.x - prev.x, y: model.y - prev.y }, this.direction, elapsed);
    this.modelPrev = model;
    return {
      ...server,
      x: clamp(model.x + this.correction.x, SHIP_RADIUS, WIDTH - SHIP_RADIUS),
      y: clamp(model.y + this.correction.y, SHIP_RADIUS, HEIGHT - SHIP_RADIUS),
      aim: this.mouse || this.direction ? this.aim() : this.predicted.aim,
    };
  }

  debug() {
    return {
      mySeat: this.mySeat,
      ships: this.rendered.map((s) => ({ seat: s.seat, x: s.x, y: s.y, score: s.score })),
      pending: this.history.pending.length,
      renderTick: this.renderedTick,
      delayMs: this.buffer.delayMs(),
      jitterMs: this.buffer.jitter(),
      corrections: this.corrections.length,
      repeats: this.repeats,
      effects: this.effects.debug(),
    };
  }
}

/** The `lag` of an input (whole ms, within the schema's 0..10000): how far behind the
 *  server the other ships are drawn, plus half the round trip (none measured yet: 0). */
export function shotLag(buffer, rttMs, now = performance.now()) {
  const lag = buffer.behindMs(now) + (rttMs > 0 ? rttMs / 2 : 0);
  return Math.max(0, Math.min(10000, Math.round(lag)));
}

/** When the player acted: the event's own time (browsers hand input to the page at
 *  the next frame, up to a frame later), never in the future. A press then shows the
 *  movement since the last frame on the very next one. */
function eventTime(e) {
  const now = performance.now();
  return e.timeStamp > 0 && e.timeStamp <= now ? e.timeStamp : now;
}

/** Whether keys typed into `element` are text: inputs that take text, text areas, selects,
 *  editable content. (Buttons are not: Space on a focused Fire button still fires.) */
export function isTextField(element) {
  if (!element || element.nodeType !== 1) return false;
  if (element.isContentEditable) return true;
  const tag = element.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  return tag === "INPUT" && !NOT_TEXT_INPUTS.has((element.type || "text").toLowerCase());
}

const NOT_TEXT_INPUTS = new Set(["button", "checkbox", "color", "file", "hidden", "image", "radio", "range", "reset", "submit"]);

const MOVE_KEYS = {
  KeyW: [0, -1], ArrowUp: [0, -1], KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0], KeyD: [1, 0], ArrowRight: [1, 0],
};
