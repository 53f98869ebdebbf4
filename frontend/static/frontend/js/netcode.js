// Netcode helpers for real-time games: snapshot interpolation and input prediction.
// Game-agnostic: the game supplies how to blend two entities and how to apply an input.

/**
 * Keeps recent authoritative snapshots and answers "what did the world look
 * like at render time?", where render time trails the newest snapshot by
 * `delayTicks` so there is (almost) always a later snapshot to blend towards.
 */
export class SnapshotBuffer {
  /** @param {number} tickMs  @param {number} [delayTicks] */
  constructor(tickMs, delayTicks = 2) {
    this.tickMs = tickMs;
    this.delayTicks = delayTicks;
    /** @type {{tick:number, state:any}[]} */
    this.snapshots = [];
    this.offset = null; // smoothed (server tick time - local time) in ms
  }

  /** @param {number} tick  @param {any} state  @param {number} now local ms */
  push(tick, state, now = performance.now()) {
    const last = this.snapshots[this.snapshots.length - 1];
    if (last && tick <= last.tick) return; // late or duplicate: newer already drawn
    this.snapshots.push({ tick, state });
    if (this.snapshots.length > 64) this.snapshots.shift();
    const target = tick * this.tickMs - now;
    // Follow the server's tick clock smoothly; jump when far off (first frame, stall).
    if (this.offset === null || Math.abs(target - this.offset) > 250) this.offset = target;
    else this.offset += (target - this.offset) * 0.05;
  }

  latest() {
    return this.snapshots[this.snapshots.length - 1] || null;
  }

  /** The fractional tick to render now. */
  renderTick(now = performance.now()) {
    if (this.offset === null) return 0;
    return (now + this.offset) / this.tickMs - this.delayTicks;
  }

  /**
   * The two snapshots around `tick` and how far between them it lies (0..1).
   * @returns {{from:any, to:any, alpha:number}|null}
   */
  around(tick) {
    const s = this.snapshots;
    if (!s.length) return null;
    if (tick <= s[0].tick) return { from: s[0], to: s[0], alpha: 0 };
    for (let i = s.length - 1; i > 0; i--) {
      if (s[i - 1].tick <= tick) {
        const from = s[i - 1];
        const to = s[i];
        const alpha = Math.min(1, (tick - from.tick) / Math.max(1, to.tick - from.tick));
        return { from, to, alpha };
      }
    }
    const last = s[s.length - 1];
    return { from: last, to: last, alpha: 0 };
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
