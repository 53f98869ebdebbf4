// The arena's compact state frames (subprotocol arcade.v1.compact): full or delta.
// Mirrors games/engine/arena_wire.py; docs/protocol.md has the byte layout.

export const FULL = 1;
export const DELTA = 2;
const ALIVE = 1;
const REMOVED = 2;
const REPEATED = 4;
const X = 1, Y = 2, AIM = 4, HP = 8, SCORE = 16, STATUS = 32, ACK_STEP = 64, ACK = 128;
const EVENTS = {
  1: ["hit", "seat", "by"],
  2: ["kill", "seat", "by"],
  3: ["respawn", "seat", null],
  4: ["removed", "seat", null],
  5: ["started", "seats", null],
};

class Reader {
  constructor(bytes) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }
  u8() { return this.view.getUint8(this.at++); }
  u16() { const v = this.view.getUint16(this.at, true); this.at += 2; return v; }
  i16() { const v = this.view.getInt16(this.at, true); this.at += 2; return v; }
  u32() { const v = this.view.getUint32(this.at, true); this.at += 4; return v; }
}

function readEvents(r) {
  const events = [];
  for (let n = r.u8(); n > 0; n--) {
    const code = r.u8(), a = r.u8(), b = r.u8();
    const [kind, first, second] = EVENTS[code];
    const event = { kind, [first]: a };
    if (second) event[second] = b;
    events.push(event);
  }
  return events;
}

function readBullet(r, tick) {
  return { id: r.u32(), x: r.i16(), y: r.i16(), vx: r.i16(), vy: r.i16(), tick };
}

/**
 * Decode one compact frame. `bases` maps ticks to snapshots this client decoded
 * before (a delta needs the one it was taken against). Returns
 * {snapshot, events, delta}, or null if the base is missing (ask for a resync then).
 */
export function decodeSnapshot(bytes, bases) {
  const r = new Reader(bytes);
  const kind = r.u8();
  const tick = r.u32();
  if (kind === FULL) {
    const ticksLeft = r.u16(), flags = r.u8(), count = r.u8();
    const ships = [];
    for (let n = 0; n < count; n++) {
      ships.push({ seat: r.u8(), x: r.i16(), y: r.i16(), aim: r.i16(), hp: r.u8(), score: r.u16(), status: r.u8(), ack: r.u32() });
    }
    const events = readEvents(r);
    const bullets = new Map();
    for (let n = r.u16(); n > 0; n--) {
      const b = readBullet(r, tick);
      bullets.set(b.id, b);
    }
    return { snapshot: { tick, ticksLeft, finished: !!(flags & 1), ships, bullets }, events, delta: false };
  }
  const age = r.u8(), flags = r.u8(), count = r.u8();
  const base = bases.get(tick - age);
  if (!base) return null;
  const ships = base.ships.map((s) => ({ ...s }));
  const bySeat = new Map(ships.map((s) => [s.seat, s]));
  for (let n = 0; n < count; n++) {
    const ship = bySeat.get(r.u8());
    const mask = r.u8();
    if (mask & X) ship.x = r.i16();
    if (mask & Y) ship.y = r.i16();
    if (mask & AIM) ship.aim = r.i16();
    if (mask & HP) ship.hp = r.u8();
    if (mask & SCORE) ship.score = r.u16();
    if (mask & STATUS) ship.status = r.u8();
    if (mask & ACK_STEP) ship.ack += r.u8();
    else if (mask & ACK) ship.ack = r.u32();
  }
  const events = readEvents(r);
  const bullets = new Map(base.bullets);
  for (let n = r.u8(); n > 0; n--) {
    const b = readBullet(r, tick);
    bullets.set(b.id, b);
  }
  for (let n = r.u8(); n > 0; n--) bullets.delete(r.u32());
  const ticksLeft = base.ticksLeft ? Math.max(0, base.ticksLeft - age) : 0;
  return { snapshot: { tick, ticksLeft, finished: !!(flags & 1), ships, bullets }, events, delta: true };
}

const round1 = (v) => Math.round(v * 10) / 10;

/** The JSON view (as the server's arena view) a snapshot stands for. */
export function snapshotView(snapshot, tickRate) {
  return {
    tick: snapshot.tick,
    ticks_left: snapshot.ticksLeft,
    ships: snapshot.ships.map((s) => ({
      seat: s.seat, x: s.x / 10, y: s.y / 10, aim: s.aim / 1000, hp: s.hp, score: s.score,
      alive: !!(s.status & ALIVE), removed: !!(s.status & REMOVED), ack: s.ack,
      repeated: !!(s.status & REPEATED),
    })),
    // A bullet flies straight from where its record put it.
    bullets: [...snapshot.bullets.values()].map((b) => {
      const seconds = (snapshot.tick - b.tick) / tickRate;
      return [b.id, round1(b.x / 10 + (b.vx / 10) * seconds), round1(b.y / 10 + (b.vy / 10) * seconds), b.vx / 10, b.vy / 10];
    }),
    finished: snapshot.finished,
  };
}

export const arenaCompact = { decodeSnapshot, snapshotView };
