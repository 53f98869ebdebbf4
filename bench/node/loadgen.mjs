// One load-generator process in Node.js: the same players and the same measurements as
// bench/loadgen.py, for bench/load.py --generator node.
//
// Each player connects the way a non-browser client does (a single-use ticket in the URL,
// an Origin header), offers one subprotocol (arcade.v1.msgpack by default: state frames
// arrive as msgpack, everything else as JSON text; or arcade.v1.compact, the browser's,
// whose deltas need the acks of `--send-acks`), says `ready`, and once its match is
// running sends an input at 20 Hz. The latency of an input is the time from just before
// it is sent to the arrival of the first state whose `ack` for the player's own ship
// covers it (a newer input applied in the same tick covers the older ones too).
//
// The parent speaks to it in JSON lines: the plan on stdin first; then "ready" out,
// "measure" in (absolute times on the machine's monotonic clock, which Node's hrtime
// and Python's time.monotonic both read), "result" out, "close" in, "closed" out.
// Everything else it has to say goes to stderr.

import { createInterface } from "node:readline";
import WebSocket from "ws";

// Inputs are spread over the input period in this many phases, as in loadgen.py.
const PHASES = 10;
const TEXT_STATE = '{"type":"state"';

// Seconds on the monotonic clock, as Python's time.monotonic() reads it. hrtime is that
// clock; performance.now() is the same clock from an origin, and cheaper (no BigInt).
performance.now(); // its first call sets it up, which would skew the origin
const origin = Number(process.hrtime.bigint()) / 1e9 - performance.now() / 1000;
const now = () => origin + performance.now() / 1000;

// --- msgpack: only what the generator needs out of a state frame ----------------------
// A state is a map; the generator reads its "tick" and state.ships[seat].ack and skips
// the rest without building it, which is most of what makes this generator cheap. The
// reader allocates nothing: a header's kind and length land in these two variables.

const INT = 0, MAP = 1, ARRAY = 2, BYTES = 3, ATOM = 4; // BYTES: str, bin, ext, float
let kind = ATOM;
let size = 0; // the int's value, or the length of a map, array or byte run

// Reads the header at `pos` into kind and size; returns the position after it.
function header(buf, pos) {
  const b = buf[pos];
  if (b <= 0x7f) return set(INT, b, pos + 1);
  if (b >= 0xe0) return set(INT, b - 0x100, pos + 1);
  if ((b & 0xf0) === 0x80) return set(MAP, b & 0x0f, pos + 1);
  if ((b & 0xf0) === 0x90) return set(ARRAY, b & 0x0f, pos + 1);
  if ((b & 0xe0) === 0xa0) return set(BYTES, b & 0x1f, pos + 1);
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return set(ATOM, 0, pos + 1);
    case 0xc4: case 0xd9: return set(BYTES, buf[pos + 1], pos + 2);
    case 0xc5: case 0xda: return set(BYTES, buf.readUInt16BE(pos + 1), pos + 3);
    case 0xc6: case 0xdb: return set(BYTES, buf.readUInt32BE(pos + 1), pos + 5);
    case 0xc7: return set(BYTES, buf[pos + 1] + 1, pos + 2);
    case 0xc8: return set(BYTES, buf.readUInt16BE(pos + 1) + 1, pos + 3);
    case 0xc9: return set(BYTES, buf.readUInt32BE(pos + 1) + 1, pos + 5);
    case 0xca: return set(BYTES, 4, pos + 1);
    case 0xcb: return set(BYTES, 8, pos + 1);
    case 0xcc: return set(INT, buf[pos + 1], pos + 2);
    case 0xcd: return set(INT, buf.readUInt16BE(pos + 1), pos + 3);
    case 0xce: return set(INT, buf.readUInt32BE(pos + 1), pos + 5);
    case 0xcf: return set(INT, Number(buf.readBigUInt64BE(pos + 1)), pos + 9);
    case 0xd0: return set(INT, buf.readInt8(pos + 1), pos + 2);
    case 0xd1: return set(INT, buf.readInt16BE(pos + 1), pos + 3);
    case 0xd2: return set(INT, buf.readInt32BE(pos + 1), pos + 5);
    case 0xd3: return set(INT, Number(buf.readBigInt64BE(pos + 1)), pos + 9);
    case 0xd4: return set(BYTES, 2, pos + 1);
    case 0xd5: return set(BYTES, 3, pos + 1);
    case 0xd6: return set(BYTES, 5, pos + 1);
    case 0xd7: return set(BYTES, 9, pos + 1);
    case 0xd8: return set(BYTES, 17, pos + 1);
    case 0xdc: return set(ARRAY, buf.readUInt16BE(pos + 1), pos + 3);
    case 0xdd: return set(ARRAY, buf.readUInt32BE(pos + 1), pos + 5);
    case 0xde: return set(MAP, buf.readUInt16BE(pos + 1), pos + 3);
    case 0xdf: return set(MAP, buf.readUInt32BE(pos + 1), pos + 5);
    default: throw new Error(`msgpack: unknown byte 0x${b.toString(16)} at ${pos}`);
  }
}

function set(k, n, next) {
  kind = k;
  size = n;
  return next;
}

function skip(buf, pos) {
  const next = header(buf, pos);
  if (kind === BYTES) return next + size;
  if (kind === INT || kind === ATOM) return next;
  let p = next;
  const items = kind === MAP ? 2 * size : size;
  for (let i = 0; i < items; i++) p = skip(buf, p);
  return p;
}

const KEY_TICK = Buffer.from("tick");
const KEY_STATE = Buffer.from("state");
const KEY_SHIPS = Buffer.from("ships");
const KEY_ACK = Buffer.from("ack");

// Whether the string header at `pos` is `key`; leaves the position after the string
// in `keyEnd`.
let keyEnd = 0;
function isKey(buf, pos, key) {
  const at = header(buf, pos);
  if (kind !== BYTES) throw new Error("msgpack: a key that is not a string");
  keyEnd = at + size;
  if (size !== key.length) return false;
  for (let i = 0; i < size; i++) if (buf[at + i] !== key[i]) return false;
  return true;
}

// The position of the value of `key` in the map at `pos`, or -1.
function find(buf, pos, key) {
  let p = header(buf, pos);
  if (kind !== MAP) throw new Error("msgpack: expected a map");
  for (let i = size; i > 0; i--) {
    if (isKey(buf, p, key)) return keyEnd;
    p = skip(buf, keyEnd);
  }
  return -1;
}

function readInt(buf, pos) {
  if (pos < 0) throw new Error("msgpack: missing field");
  header(buf, pos);
  if (kind !== INT) throw new Error("msgpack: expected an int");
  return size;
}

// { tick, ack } of a msgpack state frame for the ship in `seat`.
export function decodeBinaryState(buf, seat) {
  const tick = readInt(buf, find(buf, 0, KEY_TICK));
  const state = find(buf, 0, KEY_STATE);
  if (state < 0) throw new Error("msgpack: a state frame without state");
  const ships = find(buf, state, KEY_SHIPS);
  if (ships < 0) throw new Error("msgpack: a state without ships");
  let p = header(buf, ships);
  if (kind !== ARRAY || seat >= size) throw new Error("msgpack: no ship for the seat");
  for (let i = 0; i < seat; i++) p = skip(buf, p);
  return { tick, ack: readInt(buf, find(buf, p, KEY_ACK)) };
}

// --- arcade.v1.compact: only the tick and the own ship's ack (games/engine/arena_wire.py)
// A full frame has every ship's record; a delta frame only the ships that changed, the
// ack as a step from the ack in the state it is a delta from (its base, `age` ticks
// back), which the player looks up in the acks it read of earlier states.
const COMPACT = "arcade.v1.compact";
const FULL = 1;
const DELTA = 2;
const FULL_HEADER = 9; // kind, tick (u32), ticks left (u16), flags, ships
const FULL_SHIP = 15; // seat, x, y, aim, hp, score (u16), status, ack (u32)
const DELTA_HEADER = 8; // kind, tick (u32), age, flags, changed ships
const ACK_STEP = 64;
const ACK = 128;
// Bytes of each changed field in a delta ship record, by its bit: x, y, aim (i16),
// hp (u8), score (u16), status (u8), the ack's step (u8), the ack (u32).
const FIELD_BYTES = [2, 2, 2, 1, 2, 1, 1, 4];

// { tick, ack, delta } of a compact state frame for the ship in `seat`; `acks` maps the
// ticks of earlier states to the ship's ack in them.
export function decodeCompactState(buf, seat, acks) {
  const tick = buf.readUInt32LE(1);
  if (buf[0] === FULL) {
    const ships = buf[8];
    for (let i = 0, at = FULL_HEADER; i < ships; i++, at += FULL_SHIP) {
      if (buf[at] === seat) return { tick, ack: buf.readUInt32LE(at + 11), delta: false };
    }
    throw new Error("compact: no ship for the seat");
  }
  if (buf[0] !== DELTA) throw new Error(`compact: unknown frame kind ${buf[0]}`);
  const base = acks.get(tick - buf[5]);
  if (base === undefined) throw new Error("compact: a delta from a state not received");
  let ack = base;
  for (let i = 0, at = DELTA_HEADER, count = buf[7]; i < count; i++) {
    const shipSeat = buf[at];
    const mask = buf[at + 1];
    at += 2;
    for (let bit = 0; bit < 8; bit++) {
      if (!(mask & (1 << bit))) continue;
      if (shipSeat === seat && 1 << bit === ACK_STEP) ack = base + buf[at];
      if (shipSeat === seat && 1 << bit === ACK) ack = buf.readUInt32LE(at);
      at += FIELD_BYTES[bit];
    }
  }
  return { tick, ack, delta: true };
}

// States a compact player keeps the acks of: the server takes deltas from at most 64 back.
const COMPACT_HISTORY = 128;

function decodeTextState(text, seat) {
  const frame = JSON.parse(text);
  return { tick: frame.tick, ack: frame.state.ships[seat].ack };
}

// --- Players ---------------------------------------------------------------------------

// A small seeded generator (mulberry32): each player's controls are reproducible.
function rngFrom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const choice = (rng, items) => items[Math.floor(rng() * items.length)];

class Player {
  constructor(seat, options, rng, window) {
    this.plan = seat;
    this.options = options;
    this.rng = rng;
    this.window = window;
    this.ws = null;
    this.seat = 0;
    this.seq = 0;
    // Inputs sent and not yet acknowledged, oldest first: a queue on two arrays.
    this.sentSeq = [];
    this.sentAt = [];
    this.sentHead = 0;
    this.latencies = [];
    this.inputs = 0;
    this.states = 0;
    this.deltas = 0; // compact states in the window that came as deltas
    this.acks = new Map(); // compact: tick -> this ship's ack in that state
    this.firstTick = null; // first and last tick received in the window
    this.lastTickInWindow = null;
    this.lastTick = null;
    this.active = false;
    this.onActive = null;
    this.closedCode = null;
    this.closed = false;
    this.errors = {};
    this.mx = 0;
    this.my = 0;
    this.aim = rng() * 2 * Math.PI;
    this.fire = false;
  }

  // Connect, read the welcome, say ready; then every frame is handled by _message.
  join() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.plan.url, [this.options.subprotocol], {
        origin: this.plan.origin,
        perMessageDeflate: false, // daphne never negotiates permessage-deflate
        handshakeTimeout: 30_000,
        headers: { "User-Agent": "arcade-bench" },
      });
      this.ws = ws;
      let welcomed = false;
      const timer = setTimeout(() => fail(new Error("no welcome within 30 s")), 30_000);
      const fail = (error) => {
        clearTimeout(timer);
        if (!welcomed) {
          welcomed = true;
          ws.terminate();
          reject(error);
        }
      };
      ws.on("error", fail);
      ws.on("close", (code) => {
        this.closed = true;
        if (code !== 1000) this.closedCode = code;
        fail(new Error(`closed ${code} before the welcome`));
      });
      ws.on("open", () => {
        if (ws.protocol !== this.options.subprotocol) {
          fail(new Error(`server chose subprotocol ${JSON.stringify(ws.protocol)}`));
        }
      });
      ws.on("message", (data, isBinary) => {
        if (welcomed) {
          try {
            this._message(data, isBinary);
          } catch (error) {
            // A frame the generator cannot read is the server's error, not a reason to stop.
            this._count(`undecodable frame: ${error.message}`.slice(0, 120));
          }
          return;
        }
        let welcome;
        try {
          welcome = JSON.parse(data.toString());
        } catch (error) {
          fail(new Error(`an undecodable first frame: ${error.message}`));
          return;
        }
        if (welcome.type !== "welcome") {
          fail(new Error(`${welcome.type}: ${welcome.reason ?? ""}`));
          return;
        }
        welcomed = true;
        clearTimeout(timer);
        this.seat = Number(welcome.you.seat);
        ws.send('{"type":"ready"}');
        resolve();
      });
    });
  }

  _message(data, isBinary) {
    const at = now();
    if (isBinary && this.options.subprotocol === COMPACT) {
      const frame = decodeCompactState(data, this.seat, this.acks);
      this.acks.set(frame.tick, frame.ack);
      if (this.acks.size > COMPACT_HISTORY) this.acks.delete(this.acks.keys().next().value);
      if (frame.delta && at >= this.window.start && at < this.window.end) this.deltas += 1;
      this._state(frame, at);
      return;
    }
    if (isBinary) {
      this._state(decodeBinaryState(data, this.seat), at);
      return;
    }
    const text = data.toString();
    if (text.startsWith(TEXT_STATE)) {
      this._state(decodeTextState(text, this.seat), at);
      return;
    }
    const frame = JSON.parse(text);
    if (frame.type === "error") this._count(String(frame.reason || frame.code));
    else if (frame.type === "closing") this._count(`closing ${frame.code}`);
  }

  _count(error) {
    this.errors[error] = (this.errors[error] ?? 0) + 1;
  }

  _state(frame, at) {
    this.lastTick = frame.tick;
    const window = this.window;
    if (at >= window.start && at < window.end) {
      this.states += 1;
      if (this.firstTick === null) this.firstTick = frame.tick;
      this.lastTickInWindow = frame.tick;
    }
    const { sentSeq, sentAt } = this;
    let head = this.sentHead;
    while (head < sentSeq.length && sentSeq[head] <= frame.ack) {
      const sent = sentAt[head];
      if (sent >= window.start && sent < window.end) this.latencies.push((at - sent) * 1000);
      head += 1;
    }
    if (head > 1024 && head * 2 > sentSeq.length) {
      sentSeq.splice(0, head);
      sentAt.splice(0, head);
      head = 0;
    }
    this.sentHead = head;
    if (!this.active) {
      this.active = true;
      if (this.onActive) this.onActive();
    }
  }

  sendInput() {
    if (this.ws === null || !this.active || this.closed) return;
    this.seq += 1;
    this._steer();
    const ack =
      this.options.send_acks && this.lastTick !== null ? `,"ack":${this.lastTick}` : "";
    const ticks = this.options.one_tick_inputs ? ',"ticks":1' : "";
    const text =
      `{"type":"input","data":{"seq":${this.seq},"mx":${this.mx},"my":${this.my},` +
      `"aim":${this.aim},"fire":${this.fire}${ticks}}${ack}}`;
    const at = now();
    this.sentSeq.push(this.seq);
    this.sentAt.push(at);
    if (at >= this.window.start && at < this.window.end) this.inputs += 1;
    this.ws.send(text);
  }

  // Like a person at the keys: change course now and then, aim drifts, fire in bursts.
  _steer() {
    const rng = this.rng;
    if (rng() < 0.05) {
      this.mx = choice(rng, [-1, 0, 1]);
      this.my = choice(rng, [-1, 0, 1]);
    }
    if (rng() < 0.1) this.fire = !this.fire;
    const tau = 2 * Math.PI;
    const aim = (((this.aim + (rng() * 0.4 - 0.2)) % tau) + tau) % tau;
    this.aim = Math.round(aim * 1000) / 1000;
  }

  unackedInWindow() {
    let count = 0;
    for (let i = this.sentHead; i < this.sentAt.length; i++) {
      const at = this.sentAt[i];
      if (at >= this.window.start && at < this.window.end) count += 1;
    }
    return count;
  }
}

// --- The generator ---------------------------------------------------------------------

class Generator {
  constructor(plan) {
    this.plan = plan;
    this.window = { start: Infinity, end: Infinity };
    const rng = rngFrom(plan.seed);
    this.players = plan.matches.flatMap((match) =>
      match.map((seat) => new Player(seat, plan, rngFrom(rng() * 2 ** 32), this.window)),
    );
    this.failures = {};
    this.stopAt = Infinity;
    this.skippedSends = 0;
    this.sendLag = [];
    this.driven = null;
  }

  // Connect every player and wait until each one's match sends states.
  async start() {
    let next = 0;
    const joinNext = async () => {
      while (next < this.players.length) {
        const player = this.players[next++];
        try {
          await player.join();
        } catch (error) {
          const text = `${error.name}: ${error.message}`.slice(0, 120);
          this.failures[text] = (this.failures[text] ?? 0) + 1;
          player.ws = null;
        }
      }
    };
    const gates = Math.min(this.plan.connect_concurrency, this.players.length);
    await Promise.all(Array.from({ length: gates }, joinNext));
    const joined = this.players.filter((p) => p.ws !== null);
    this.driven = this._drive();
    await new Promise((resolve) => {
      let waiting = joined.filter((p) => !p.active).length;
      if (waiting === 0) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, this.plan.start_timeout * 1000);
      for (const player of joined) {
        if (player.active) continue;
        player.onActive = () => {
          waiting -= 1;
          if (waiting === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
      }
    });
    const active = joined.filter((p) => p.active).length;
    if (active < joined.length) {
      this.failures["match not started"] = joined.length - active;
    }
    return { players: this.players.length, active, failures: this.failures };
  }

  // Send every player's inputs at the input rate, the players spread over PHASES.
  _drive() {
    const active = this.players.filter((p) => p.ws !== null);
    const phases = Array.from({ length: PHASES }, (_, i) =>
      active.filter((_, index) => index % PHASES === i),
    );
    const step = 1 / this.plan.input_hz / PHASES;
    const start = now();
    let tick = 0;
    return new Promise((resolve) => {
      const turn = () => {
        const at = now();
        if (at >= this.stopAt) {
          resolve();
          return;
        }
        const deadline = start + tick * step;
        if (deadline > at) {
          setTimeout(turn, (deadline - at) * 1000);
          return;
        }
        const late = at - deadline;
        if (at >= this.window.start && at < this.window.end) this.sendLag.push(late * 1000);
        if (late > step * PHASES) {
          // A whole input period behind: this process is overloaded. Skip ahead rather
          // than burst (which the server would rate-limit), and count it.
          const missed = Math.floor(late / step);
          if (at >= this.window.start && at < this.window.end) {
            for (let i = 0; i < missed; i++) this.skippedSends += phases[(tick + i) % PHASES].length;
          }
          tick += missed;
          setImmediate(turn);
          return;
        }
        for (const player of phases[tick % PHASES]) player.sendInput();
        tick += 1;
        setImmediate(turn);
      };
      turn();
    });
  }

  measure(start, end, stopAt) {
    this.window.start = start;
    this.window.end = end;
    this.stopAt = stopAt;
  }

  result() {
    const errors = {};
    const closes = {};
    const latencies = [];
    let unacked = 0;
    let inputs = 0;
    let states = 0;
    let deltas = 0;
    let ticksSpanned = 0;
    for (const player of this.players) {
      for (const [error, count] of Object.entries(player.errors)) {
        errors[error] = (errors[error] ?? 0) + count;
      }
      if (player.closedCode !== null) {
        closes[player.closedCode] = (closes[player.closedCode] ?? 0) + 1;
      }
      for (const latency of player.latencies) latencies.push(Math.round(latency * 1000) / 1000);
      unacked += player.unackedInWindow();
      inputs += player.inputs;
      states += player.states;
      deltas += player.deltas;
      if (player.firstTick !== null) ticksSpanned += player.lastTickInWindow - player.firstTick + 1;
    }
    return {
      players: this.players.length,
      latencies_ms: latencies,
      unacked,
      inputs,
      states,
      delta_states: deltas,
      ticks_spanned: ticksSpanned,
      skipped_sends: this.skippedSends,
      send_lag_ms: this.sendLag.map((lag) => Math.round(lag * 1000) / 1000),
      errors,
      closes,
    };
  }

  async close() {
    const sockets = this.players.map((p) => p.ws).filter((ws) => ws !== null);
    await Promise.race([
      Promise.all(
        sockets.map(
          (ws) =>
            new Promise((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) {
                resolve();
                return;
              }
              ws.once("close", resolve);
              ws.close(1000);
            }),
        ),
      ),
      new Promise((resolve) => setTimeout(resolve, 10_000)),
    ]);
    for (const ws of sockets) ws.terminate();
  }
}

// --- The conversation with bench/load.py ----------------------------------------------

function say(kind, payload) {
  process.stdout.write(`${JSON.stringify({ kind, payload: payload ?? null })}\n`);
}

async function main() {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const read = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the parent closed stdin");
    return JSON.parse(value);
  };
  const generator = new Generator(await read());
  say("ready", await generator.start());
  const command = await read();
  if (command.command === "measure") {
    generator.measure(command.start, command.end, command.stop_at);
    await generator.driven;
    say("result", generator.result());
    await read(); // "close": the parent has ended the matches
  }
  await generator.close();
  say("closed");
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
}
