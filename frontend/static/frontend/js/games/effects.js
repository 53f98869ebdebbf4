// Effects drawn on the game canvases: in the arena a hit flash, an explosion, a respawn
// fading in, HP bars that show what was lost, and a kill feed; the motion setting both
// games follow. The arena's effects come from consecutive states (hp, alive, score), not
// from the frames' `events`: a state dropped on the way or merged into a resync loses
// only its own moment, and the next state's differences still say what happened.
import { SEAT_COLOURS } from "../render.js";

/** How long each effect lasts (ms), and with `prefers-reduced-motion` (0: not shown). */
export const EFFECT_MS = { hit: 200, destroyed: 700, respawn: 800 };
const REDUCED_MS = { hit: 200, destroyed: 300, respawn: 0 };
/** The kill feed: its newest lines, each shown this long, fading out over the last second. */
export const FEED = { lines: 4, ms: 6000, fadeMs: 1000 };
/** The part of an HP bar just lost stays visible, draining, this long (ms). */
const BAR_DRAIN_MS = 450;
/** The smallest text and bar on a small screen, in CSS pixels (world units scale down). */
const MIN_TEXT_PX = 12;
const DEBRIS = 10; // pieces of an explosion
/** The most effects waiting or shown at once (a hidden tab draws nothing meanwhile). */
const MAX_ACTIVE = 32;

/** Whether the person asked for less motion (the system's setting), kept up to date. */
export const motion = { reduced: false };
if (typeof window !== "undefined" && typeof window.matchMedia === "function") {
  const query = window.matchMedia("(prefers-reduced-motion: reduce)");
  motion.reduced = query.matches;
  query.addEventListener?.("change", (e) => (motion.reduced = e.matches));
}

/**
 * What happened to the ships between two consecutive arena states: `hit` (hp fell, still
 * flying), `destroyed` (`by`: the seat whose score rose, null if none did) and `respawn`.
 * A ship that left (`removed`) is none of these. States more than `maxGapTicks` apart (a
 * reconnect, a long stall) are not compared: the past is not replayed as effects.
 */
export function deriveEvents(before, after, maxGapTicks = 20) {
  const events = [];
  if (!before || !after || after.tick <= before.tick || after.tick - before.tick > maxGapTicks) return events;
  const old = new Map(before.ships.map((s) => [s.seat, s]));
  const scorers = [];
  for (const s of after.ships) {
    const was = old.get(s.seat);
    for (let n = was ? s.score - was.score : 0; n > 0; n--) scorers.push(s.seat);
  }
  for (const s of after.ships) {
    const was = old.get(s.seat);
    if (!was || s.removed || was.removed) continue;
    if (was.alive && !s.alive) {
      // Nobody shoots themselves: the killer is a seat that scored, not the victim.
      const at = scorers.findIndex((seat) => seat !== s.seat);
      const by = at >= 0 ? scorers.splice(at, 1)[0] : null;
      events.push({ kind: "destroyed", seat: s.seat, by, x: s.x, y: s.y, tick: after.tick });
    } else if (!was.alive && s.alive) {
      events.push({ kind: "respawn", seat: s.seat, tick: after.tick });
    } else if (s.alive && s.hp < was.hp) {
      events.push({ kind: "hit", seat: s.seat, damage: was.hp - s.hp, tick: after.tick });
    }
  }
  return events;
}

/**
 * The arena's effects for one view: `onState` for every state, `update` once a frame
 * before drawing, then `drawArena` asks it how to draw each ship and draws its bursts
 * and feed. Effects are a short list, created when something happens and dropped when
 * done; a frame allocates nothing else.
 */
export class ArenaEffects {
  /**
   * @param {{mySeat?: number|null, nameOf?: (seat: number) => string|null, maxHp: number,
   *          tickRate?: number, motion?: {reduced: boolean}}} options
   */
  constructor({ mySeat = null, nameOf = () => null, maxHp, tickRate = 20, motion: setting = motion }) {
    this.mySeat = mySeat;
    this.nameOf = nameOf;
    this.maxHp = maxHp;
    this.tickRate = tickRate;
    this.motion = setting;
    this.last = null; // the previous state, to compare the next with
    this.active = []; // effects: {kind, seat, tick, at (ms, null until shown), x, y}
    this.feed = []; // kill feed lines, newest last: {parts, at}
    this.bars = new Map(); // seat -> {hp, lostFrom, lostAt, shown, lost}: the HP bar as drawn
    this.counts = { hit: 0, destroyed: 0, respawn: 0 };
    this.now = 0;
    this.renderTick = 0;
    this.pixel = 1; // world units per CSS pixel
  }

  onState(tick, state, now = performance.now()) {
    const events = deriveEvents(this.last, state, this.tickRate);
    this.last = state;
    for (const event of events) {
      this.counts[event.kind] += 1;
      if (this.duration(event.kind) > 0) this.active.push({ ...event, at: null });
      if (this.active.length > MAX_ACTIVE) this.active.shift();
      if (event.kind === "destroyed") this.addFeedLine(event, now);
    }
  }

  duration(kind) {
    return (this.motion.reduced ? REDUCED_MS : EFFECT_MS)[kind];
  }

  /** "You destroyed BoldRaven7": the killer's and the victim's names in their colours. */
  addFeedLine({ seat, by }, now) {
    const part = (s, you) => ({ text: s === this.mySeat ? you : this.nameOf(s) ?? `Player ${s + 1}`, seat: s });
    const parts =
      by === null
        ? [part(seat, "You"), { text: seat === this.mySeat ? " were destroyed" : " was destroyed", seat: null }]
        : [part(by, "You"), { text: " destroyed ", seat: null }, part(seat, "you")];
    this.feed.push({ parts, at: now, text: parts.map((p) => p.text).join("") });
    if (this.feed.length > FEED.lines) this.feed.shift();
  }

  /**
   * Once a frame, before drawing: effects start when the ships they belong to are drawn
   * at their tick (other ships are drawn a little in the past; our own at the newest
   * state), and finished ones go. One whose moment passed a second ago unseen (the tab
   * was hidden, the render clock jumped) is dropped, not played late with the others.
   */
  update(now, renderTick, pixel = 1) {
    this.now = now;
    this.renderTick = renderTick;
    this.pixel = pixel;
    let keep = 0;
    for (const effect of this.active) {
      if (effect.at === null && renderTick - effect.tick > this.tickRate) continue;
      if (effect.at === null && (effect.seat === this.mySeat || renderTick >= effect.tick)) effect.at = now;
      if (effect.at === null || now - effect.at < this.duration(effect.kind)) this.active[keep++] = effect;
    }
    this.active.length = keep;
    while (this.feed.length && now - this.feed[0].at > FEED.ms) this.feed.shift();
  }

  /** How far (0 to 1) the effect of `kind` on `seat` has run, or -1 if none is shown. */
  progress(kind, seat) {
    for (const effect of this.active) {
      if (effect.kind === kind && effect.seat === seat && effect.at !== null) {
        return Math.min(1, (this.now - effect.at) / this.duration(kind));
      }
    }
    return -1;
  }

  /** How white a ship is drawn over its colour: a hit flashes it, fading. */
  flash(seat) {
    const t = this.progress("hit", seat);
    return t < 0 ? 0 : 0.85 * (1 - t);
  }

  /** How opaque a ship is drawn: a respawned ship fades in with a soft pulse. */
  opacity(seat) {
    const t = this.progress("respawn", seat);
    if (t < 0) return 1;
    return Math.min(1, 0.25 + 0.75 * t + 0.2 * Math.sin(t * Math.PI * 4));
  }

  /**
   * The HP bar of `seat` with `hp` as it is drawn this frame: the fraction left and the
   * fraction just lost (shown lighter, draining). Kept per seat, so the next frame knows.
   */
  bar(seat, hp) {
    let bar = this.bars.get(seat);
    if (!bar) {
      bar = { hp, lostFrom: hp, lostAt: 0, shown: 0, lost: 0 };
      this.bars.set(seat, bar);
    }
    if (hp < bar.hp) {
      bar.lostFrom = Math.max(bar.hp, this.lostNow(bar)); // a hit while one drains adds to it
      bar.lostAt = this.now;
    } else if (hp > bar.hp) {
      bar.lostFrom = hp; // respawned: nothing lost
    }
    bar.hp = hp;
    bar.shown = Math.max(0, hp) / this.maxHp;
    bar.lost = Math.max(bar.shown, this.lostNow(bar) / this.maxHp);
    return bar;
  }

  lostNow(bar) {
    const t = this.motion.reduced ? 1 : Math.min(1, (this.now - bar.lostAt) / BAR_DRAIN_MS);
    return t >= 1 ? bar.hp : bar.lostFrom + (bar.hp - bar.lostFrom) * t * t;
  }

  /** Explosions where ships were destroyed and rings closing on ships that respawned. */
  drawBursts(ctx, ships) {
    for (const effect of this.active) {
      if (effect.at === null) continue;
      const t = Math.min(1, (this.now - effect.at) / this.duration(effect.kind));
      const colour = SEAT_COLOURS[effect.seat % SEAT_COLOURS.length];
      if (effect.kind === "destroyed") explosion(ctx, effect.x, effect.y, t, colour, effect.seat, this.motion.reduced);
      else if (effect.kind === "respawn") {
        for (const s of ships) if (s.seat === effect.seat && s.alive) respawnRing(ctx, s.x, s.y, t, colour);
      }
    }
  }

  /** The kill feed, top right: the newest line lowest, old ones fading. */
  drawFeed(ctx, width) {
    if (!this.feed.length) return;
    const size = Math.round(Math.max(18, MIN_TEXT_PX * this.pixel));
    if (this.fontSize !== size) {
      this.fontSize = size;
      this.font = `600 ${size}px system-ui, sans-serif`;
    }
    ctx.font = this.font;
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    let y = 12;
    for (const line of this.feed) {
      if (line.size !== size) measure(ctx, line, size); // once, and again if the font changed
      const left = FEED.ms - (this.now - line.at);
      ctx.globalAlpha = Math.max(0, Math.min(1, left / FEED.fadeMs));
      let x = width - 14 - line.width;
      ctx.fillStyle = "#0b0e1acc";
      ctx.fillRect(x - 8, y - 4, line.width + 16, size + 8);
      for (let i = 0; i < line.parts.length; i++) {
        const part = line.parts[i];
        ctx.fillStyle = part.seat === null ? "#e6e8f0" : SEAT_COLOURS[part.seat % SEAT_COLOURS.length];
        ctx.fillText(part.text, x, y);
        x += line.widths[i];
      }
      y += size + 12;
    }
    ctx.globalAlpha = 1;
  }

  /** What tests read through `view.debug().effects`. */
  debug() {
    return {
      counts: { ...this.counts },
      active: this.active.filter((e) => e.at !== null).map((e) => ({ kind: e.kind, seat: e.seat })),
      feed: this.feed.map((line) => line.text),
      bars: Object.fromEntries([...this.bars].map(([seat, bar]) => [seat, bar.shown])),
      reducedMotion: this.motion.reduced,
    };
  }
}

function measure(ctx, line, size) {
  line.size = size;
  line.widths = line.parts.map((p) => ctx.measureText(p.text).width);
  line.width = line.widths.reduce((a, b) => a + b, 0);
}

function explosion(ctx, x, y, t, colour, seat, reduced) {
  const fade = 1 - t;
  ctx.globalAlpha = fade;
  ctx.strokeStyle = colour;
  ctx.lineWidth = 4 * fade + 1;
  ctx.beginPath();
  ctx.arc(x, y, reduced ? 26 : 16 + 46 * (1 - fade * fade), 0, Math.PI * 2);
  ctx.stroke();
  if (!reduced) {
    if (t < 0.35) {
      ctx.fillStyle = "#fff4c2";
      ctx.globalAlpha = 1 - t / 0.35;
      ctx.beginPath();
      ctx.arc(x, y, 22 * (1 - t), 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = fade;
    ctx.fillStyle = colour;
    const reach = 10 + 60 * (1 - fade * fade);
    for (let i = 0; i < DEBRIS; i++) {
      const angle = (i / DEBRIS) * Math.PI * 2 + seat; // each seat's pieces fly their own way
      const far = reach * (0.6 + 0.4 * ((i * 7) % 5) / 4);
      ctx.fillRect(x + Math.cos(angle) * far - 2.5, y + Math.sin(angle) * far - 2.5, 5, 5);
    }
  }
  ctx.globalAlpha = 1;
}

function respawnRing(ctx, x, y, t, colour) {
  ctx.globalAlpha = 1 - t;
  ctx.strokeStyle = colour;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.arc(x, y, 18 + 50 * (1 - t), 0, Math.PI * 2);
  ctx.stroke();
  ctx.globalAlpha = 1;
}
