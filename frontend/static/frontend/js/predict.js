// Netcode helpers for real-time games: snapshot interpolation and input prediction.
// Game-agnostic: the game supplies how to blend two entities and how to apply an input.

/** Bounds of the adaptive playout delay (ms of server time behind the newest state). */
export const PLAYOUT = {
  minMs: 10, // on top of one tick: the server's own tick jitter
  maxJitterMs: 250, // jitter beyond this is a stall, not something to wait for
  windowStates: 60, // arrivals the jitter is measured over (3 s at 20 Hz)
  jitterPercentile: 0.9, // a short spike is bridged, not waited for
  extrapolateMs: 100, // at most two ticks past the newest state when starved, slowing
  catchUpMs: 500, // a delay error is made up over about this long ...
  maxRateChange: 0.25, // ... playing at most 25 % faster or slower
  jumpMs: 1000, // further off than this (first state, a long stall): jump
};

/**
 * Keeps recent authoritative snapshots and answers "what did the world look
 * like at render time?". Render time runs on a clock of its own that trails
 * the newest snapshot by one tick plus the measured arrival jitter (a playout
 * buffer), so there is (almost) always a later snapshot to blend towards.
 * When the delay it should have changes, or a spike holds states back, the
 * clock runs a little faster or slower instead of jumping; starved, it goes
 * at most `PLAYOUT.extrapolateMs` past the newest snapshot, slowing down.
 */
export class SnapshotBuffer {
  /** @param {number} tickMs  @param {number} [minDelayTicks] one tick is the least that interpolates */
  constructor(tickMs, minDelayTicks = 1) {
    this.tickMs = tickMs;
    this.minDelayTicks = minDelayTicks;
    /** @type {{tick:number, state:any}[]} */
    this.snapshots = [];
    /** @type {number[]} arrival time minus the tick's place on the server's schedule */
    this.lateness = [];
    this.clock = null; // render time in ms of the server's tick schedule
    this.clockAt = null; // local time the clock was last advanced
  }

  /** @param {number} tick  @param {any} state  @param {number} now local ms */
  push(tick, state, now = performance.now()) {
    const last = this.snapshots[this.snapshots.length - 1];
    if (last && tick <= last.tick) return; // late or duplicate: newer already drawn
    this.snapshots.push({ tick, state });
    if (this.snapshots.length > 64) this.snapshots.shift();
    // Tick 0 is sent when the match starts, not on the tick schedule: tick 1 comes one
    // tick after GO, a countdown later. Counted, it would make every later state look
    // early by the countdown, the delay its maximum and the clock run past them.
    if (tick === 0) return;
    this.lateness.push(now - tick * this.tickMs);
    if (this.lateness.length > PLAYOUT.windowStates) this.lateness.shift();
  }

  latest() {
    return this.snapshots[this.snapshots.length - 1] || null;
  }

  /** The arrival jitter (ms): how much later than the earliest states arrive, at the percentile. */
  jitter() {
    if (this.lateness.length < 2) return 0;
    const earliest = Math.min(...this.lateness);
    const spread = this.lateness.map((l) => l - earliest).sort((a, b) => a - b);
    const at = spread[Math.floor(PLAYOUT.jitterPercentile * (spread.length - 1))];
    return Math.min(PLAYOUT.maxJitterMs, at);
  }

  /** How far behind the newest state render time should be (ms). */
  delayMs() {
    return this.minDelayTicks * this.tickMs + Math.max(PLAYOUT.minMs, this.jitter());
  }

  /**
   * The playout delay in effect now (ms): how far the render clock, catching up or
   * not, trails the newest state the network's floor would have delivered by now.
   * Add the one-way delay (half the round trip) for how far behind the server the
   * states are drawn: what a player's shot must be judged against (an arena
   * input's `lag`).
   */
  behindMs(now = performance.now()) {
    if (this.clock === null || !this.lateness.length) return this.delayMs();
    const elapsed = Math.max(0, now - this.clockAt);
    return Math.max(0, now - Math.min(...this.lateness) - (this.clock + elapsed));
  }

  /** Advance the render clock to `now` and return the fractional tick to render. */
  renderTick(now = performance.now()) {
    const last = this.latest();
    if (!last) return 0;
    if (!this.lateness.length) return last.tick; // only the start's state: held there
    const earliest = Math.min(...this.lateness);
    const target = now - earliest - this.delayMs();
    if (this.clock === null || Math.abs(target - this.clock) > PLAYOUT.jumpMs) {
      this.clock = target;
    } else {
      const elapsed = Math.max(0, now - this.clockAt);
      const change = PLAYOUT.maxRateChange;
      const error = target - (this.clock + elapsed); // > 0: behind where it should be
      let rate = 1 + Math.max(-change, Math.min(change, error / PLAYOUT.catchUpMs));
      // Past the newest state, slow down smoothly to a stop `extrapolateMs` beyond
      // it: a held-back burst is bridged by a short, slowing extrapolation, not a freeze.
      const newest = last.tick * this.tickMs;
      const room = (newest + PLAYOUT.extrapolateMs - this.clock) / PLAYOUT.extrapolateMs;
      rate *= Math.max(0, Math.min(1, room));
      this.clock += elapsed * rate;
    }
    this.clockAt = now;
    return this.clock / this.tickMs;
  }

  /**
   * The two snapshots around `tick` and how far between them it lies: 0..1, or
   * a little over 1 past the newest snapshot (extrapolate from the last two).
   * @returns {{from:any, to:any, alpha:number}|null}
   */
  around(tick) {
    const s = this.snapshots;
    if (!s.length) return null;
    if (tick <= s[0].tick) return { from: s[0], to: s[0], alpha: 0 };
    const last = s[s.length - 1];
    if (tick > last.tick) {
      if (s.length < 2) return { from: last, to: last, alpha: 0 };
      const from = s[s.length - 2];
      const span = last.tick - from.tick;
      const ahead = Math.min(tick - last.tick, PLAYOUT.extrapolateMs / this.tickMs);
      return { from, to: last, alpha: span > 2 ? 1 : 1 + ahead / span };
    }
    for (let i = s.length - 1; i > 0; i--) {
      if (s[i - 1].tick <= tick) {
        const from = s[i - 1];
        const to = s[i];
        const alpha = Math.min(1, (tick - from.tick) / Math.max(1, to.tick - from.tick));
        return { from, to, alpha };
      }
    }
    return { from: last, to: last, alpha: 0 };
  }
}

/** A late input timer loses no movement of up to this many ticks: it goes out as more inputs. */
export const CARRY_TICKS = 4;

/**
 * Movement controls integrated over time, for prediction at frame rate with
 * inputs at the tick rate: controls change whenever a key or the stick does, and
 * each input carries the movement of its interval (a key held for 20 ms of a
 * 50 ms tick moves 0.4 of a tick), so the server ends where the player let go.
 */
export class ControlIntegrator {
  /** @param {number} tickMs */
  constructor(tickMs, now = performance.now()) {
    this.tickMs = tickMs;
    this.vx = 0;
    this.vy = 0;
    this.sumX = 0; // movement so far in this interval, in ticks of full deflection
    this.sumY = 0;
    this.at = now;
  }

  /** The controls changed at `now` (an event's timeStamp): close the segment before, start a new one. */
  set(vx, vy, now = performance.now()) {
    this._advance(now);
    this.vx = vx;
    this.vy = vy;
  }

  /** The movement so far in this interval as an input `{mx, my}` (length at most 1). */
  partial(now = performance.now()) {
    return this.partials(now)[0];
  }

  /**
   * The movement so far as the inputs it will go out as: one, or more when the
   * timer is late and more than a tick's worth has built up (the rest is what
   * `take` carries, up to CARRY_TICKS). Predicting through all of them keeps a
   * held ship moving on every frame while the timer is late.
   */
  partials(now = performance.now()) {
    const t = Math.max(0, now - this.at) / this.tickMs;
    let x = this.sumX + this.vx * t;
    let y = this.sumY + this.vy * t;
    const parts = [];
    for (let i = 0; i <= CARRY_TICKS; i++) {
      const part = limit(x, y);
      parts.push(part);
      x -= part.mx;
      y -= part.my;
      if (Math.hypot(x, y) < 1e-9) break;
    }
    return parts;
  }

  /**
   * End the interval: the input to send, rounded as it goes on the wire. What
   * did not fit (a late timer) carries over, up to CARRY_TICKS ticks of it;
   * `carries()` says whether to send it at once as a further input.
   */
  take(now = performance.now()) {
    this._advance(now);
    const sent = limit(this.sumX, this.sumY);
    const mx = Math.round(sent.mx * 1e4) / 1e4;
    const my = Math.round(sent.my * 1e4) / 1e4;
    const carried = limit(this.sumX - mx, this.sumY - my, CARRY_TICKS);
    this.sumX = carried.mx;
    this.sumY = carried.my;
    return { mx, my };
  }

  /** Whether a late timer left movement that did not fit in the input just taken. */
  carries() {
    return Math.hypot(this.sumX, this.sumY) > 0.01; // more than the rounding of one input
  }

  _advance(now) {
    if (now <= this.at) return; // an event stamped before the interval began counts from its start
    const t = (now - this.at) / this.tickMs;
    this.sumX += this.vx * t;
    this.sumY += this.vy * t;
    this.at = now;
  }
}

function limit(mx, my, most = 1) {
  const length = Math.hypot(mx, my);
  return length > most ? { mx: (mx / length) * most, my: (my / length) * most } : { mx, my };
}

/** How corrections of the own ship are shown (world units, ms). */
export const CORRECTION = {
  fadeMs: 50, // a small error fades over about three frames
  minPace: 0.3, // while a key is held the ship keeps at least this share of its pace
};

/**
 * The own ship is drawn at the prediction plus an offset: when the server's
 * state moves the prediction, the offset takes the difference, so nothing jumps,
 * and then fades. While the player holds a direction the fade may slow the ship
 * down but never moves it backward along that direction; errors larger than
 * `snap` are shown at once, except the part ahead of the ship along its
 * direction (that one is absorbed by going slower).
 */
export class Correction {
  /** @param {number} snap  @param {number} reset a jump this large (a respawn) is always shown at once */
  constructor(snap, reset) {
    this.snap = snap;
    this.reset = reset;
    this.x = 0;
    this.y = 0;
  }

  add(dx, dy) {
    this.x += dx;
    this.y += dy;
  }

  clear() {
    this.x = 0;
    this.y = 0;
  }

  /**
   * Fade the offset for one frame.
   * @param {{x:number, y:number}} motion  how far the prediction moved this frame
   * @param {{x:number, y:number}|null} direction  unit vector the player holds, or null
   * @param {number} elapsed  ms since the last frame
   */
  step(motion, direction, elapsed) {
    const size = Math.hypot(this.x, this.y);
    if (size > this.reset) return this.clear();
    const ahead = direction ? this.x * direction.x + this.y * direction.y : 0;
    if (size > this.snap) {
      if (!direction) return this.clear();
      // Keep only what is ahead of the ship; the rest is shown at once (forward or sideways).
      const keep = Math.max(0, ahead);
      this.x = direction.x * keep;
      this.y = direction.y * keep;
      return undefined;
    }
    const keep = Math.exp(-elapsed / CORRECTION.fadeMs);
    let dx = this.x * (keep - 1);
    let dy = this.y * (keep - 1);
    if (direction) {
      const pace = motion.x * direction.x + motion.y * direction.y;
      const floor = CORRECTION.minPace * Math.max(0, pace);
      const along = pace + dx * direction.x + dy * direction.y;
      if (along < floor) {
        dx += direction.x * (floor - along);
        dy += direction.y * (floor - along);
      }
    }
    this.x += dx;
    this.y += dy;
    return undefined;
  }
}

/**
 * Inputs the server has not acknowledged yet, for client-side prediction with
 * server reconciliation: each authoritative state says the last input sequence
 * applied (`ack`); the client starts from that state and re-applies the rest.
 */
export class InputHistory {
  constructor() {
    this.seq = 0;
    /** @type {{seq:number, data:any}[]} */
    this.pending = [];
  }

  /** Record a new input and return it with its sequence number. */
  next(data) {
    const input = { ...data, seq: ++this.seq };
    this.pending.push({ seq: input.seq, data: input });
    if (this.pending.length > 256) this.pending.shift(); // a long stall: keep it bounded
    return input;
  }

  /**
   * Drop what the server acknowledged and re-apply the rest on top of its state.
   * @template S
   * @param {S} serverState  the authoritative local entity
   * @param {number} ack  last sequence applied by the server
   * @param {(state: S, input: any) => S} apply  one tick of one input
   * @returns {S}
   */
  reconcile(serverState, ack, apply) {
    // The server numbers inputs of its own past ours (a neutral input each tick while
    // the seat's socket was gone; a page reloaded mid-match starts from 0): the next
    // input must come after them, or it is refused as stale.
    if (ack > this.seq) this.seq = ack;
    this.pending = this.pending.filter((p) => p.seq > ack);
    let state = serverState;
    for (const p of this.pending) state = apply(state, p.data);
    return state;
  }
}

export function lerp(a, b, t) {
  return a + (b - a) * t;
}

/** Interpolate angles the short way round. */
export function lerpAngle(a, b, t) {
  let d = ((b - a + Math.PI) % (2 * Math.PI)) - Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}
