// Network layer of the match socket: connect, reconnect, protocol frames, clock sync.
// Plain ES module, no build step. Reusable by any game: see docs/client.md.
import { decode } from "../vendor/msgpack/index.mjs";

/** Subprotocols this client speaks, best first: compact deltas, msgpack, plain JSON. */
export const SUBPROTOCOLS = ["arcade.v1.compact", "arcade.v1.msgpack", "arcade.v1.json"];
/** Compact snapshots kept as bases for deltas (the server keeps 64). */
const HISTORY = 64;
/** Without an input in this long, a state is acknowledged on its own (inputs carry acks). */
const ACK_ALONE_AFTER_MS = 100;

/** Close codes in words, for people (docs/protocol.md lists them). */
export const CLOSE_TEXT = {
  1000: "The connection was closed.",
  1006: "The connection was lost.",
  1011: "The server hit an error.",
  4001: "You are not logged in (or your ticket expired).",
  4003: "You may not join this match.",
  4004: "This match does not exist.",
  4005: "An operator removed you from this match.",
  4008: "Disconnected: too many invalid or too frequent messages.",
  4009: "Disconnected: messages too large.",
  4010: "You opened this match somewhere else.",
  4011: "Your connection was too slow to keep up with the match.",
  4012: "The server is restarting.",
  4013: "The server is briefly unavailable.",
  4029: "Too many open connections: close another tab.",
  4404: "There is nothing to connect to at this address.",
  4426: "This page is out of date: reload it to get the current version.",
};

/** After these the client must not reconnect on its own. */
const FINAL_CODES = new Set([4001, 4003, 4004, 4005, 4010, 4404, 4426]);
/**
 * After these a retry soon is refused again (a slot frees only when another tab
 * closes): reconnect, but start the backoff at this attempt (4 s, with jitter).
 */
const SLOW_RETRY_CODES = new Set([4029]);
const SLOW_RETRY_ATTEMPT = 3;
/** A socket with more than this many bytes waiting to go out is backed up. */
export const BACKED_UP_BYTES = 16 * 1024;
/**
 * A link can die without a close: a blackholed route, a laptop lid, an emulated
 * offline browser. The socket then stays "open" for as long as TCP keeps trying
 * (daphne notices after about 52 s), so the client watches for silence itself:
 * with nothing heard for SILENCE.probe of the limit it pings at once and holds
 * its inputs back (the newest waits, see sendInput); with nothing heard for the
 * whole limit, and that probe unanswered for at least SILENCE.answerMs (or three
 * of its best recent round trips, on a slow link), the link is lost and a fresh socket replaces it.
 * A running match sends something many times a second (arena states) or at
 * least once a second (Connect Four states, pongs), so 2 s of silence is a dead
 * link, not a quiet one.
 */
export const SILENCE = { limitMs: 2000, probe: 0.6, answerMs: 700, checkMs: 100 };
/** A socket not open this long after it was made (a handshake into a silent link) is given up. */
export const CONNECT_TIMEOUT_MS = 5000;

/** The ws:// or wss:// URL of a match, on the page's own host. */
export function matchSocketUrl(matchId, loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${loc.host}/ws/match/${matchId}/`;
}

/**
 * Estimates the server clock from ping/pong: keeps recent samples and trusts
 * the one with the lowest round trip (the least queueing noise).
 */
export class ClockSync {
  constructor(samples = 8) {
    this.samples = [];
    this.max = samples;
    /** @type {number|null} latest round-trip time in ms */
    this.rtt = null;
  }

  /** @param {{t:number, server_time:number}} pong  @param {number} now ms */
  add(pong, now = performance.timeOrigin + performance.now()) {
    const rtt = now - pong.t;
    this.rtt = rtt;
    this.samples.push({ rtt, offset: pong.server_time + rtt / 2 - now });
    if (this.samples.length > this.max) this.samples.shift();
  }

  /** The lowest round trip of the recent samples (null before the first pong): what the link
   *  can do, not what a late answer after a stall took. */
  get minRtt() {
    return this.samples.length ? Math.min(...this.samples.map((s) => s.rtt)) : null;
  }

  /** Server time minus local time, in ms (0 before the first pong). */
  get offset() {
    if (!this.samples.length) return 0;
    return this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a)).offset;
  }

  serverNow(now = performance.timeOrigin + performance.now()) {
    return now + this.offset;
  }
}

/**
 * Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... capped at 15 s,
 * each scaled by a random factor in [0.5, 1.5) so clients do not reconnect in step.
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(15000, 500 * 2 ** attempt);
  return base * (0.5 + random());
}

/**
 * One match socket that reconnects by itself.
 *
 * Events (EventTarget): "frame" (detail: frame object), "status" (detail:
 * {state: "connecting"|"open"|"closing"|"closed"|"reconnecting"|"final",
 * code, text, delay}), "backpressure" (detail: {backedUp: boolean}).
 */
export class ReconnectingSocket extends EventTarget {
  /**
   * @param {string} url  ws(s) URL (see matchSocketUrl)
   * @param {{WebSocketImpl?: typeof WebSocket, pingMs?: number, binary?: boolean,
   *   compact?: Object<string, {decodeSnapshot: Function, snapshotView: Function}>,
   *   silenceMs?: number, network?: EventTarget|null}} [options]
   *   binary: offer binary state frames (default true); JSON text otherwise.
   *   compact: decoders of compact states by game key (games/index.js COMPACT);
   *   without them the client offers msgpack, not compact.
   *   silenceMs: nothing heard for this long is a lost link (default: 2 s, or the
   *   ping interval if longer, since pongs are then all a quiet socket hears).
   *   network: where "online" and "offline" events come from (default: window).
   */
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.compact = options.compact || null;
    this.subprotocols = options.binary === false ? ["arcade.v1.json"]
      : this.compact ? SUBPROTOCOLS : SUBPROTOCOLS.slice(1);
    this.decoder = null; // the compact decoder of this match's game, from the welcome
    this.history = new Map(); // tick -> compact snapshot
    this.deltaFrames = 0; // compact deltas decoded (for tests and debugging)
    this.lastTick = null; // newest state tick received
    this.ackedTick = null; // newest tick acknowledged to the server
    this.lastInputAt = -Infinity;
    this.binaryFrames = 0;
    this.WebSocketImpl = options.WebSocketImpl || WebSocket;
    this.pingMs = options.pingMs ?? 2000;
    this.silenceMs = options.silenceMs ?? Math.max(SILENCE.limitMs, this.pingMs);
    this.network = options.network === undefined ? globalThis.window || null : options.network;
    this.lastHeardAt = 0; // when the socket last received anything (performance.now())
    this.probeAt = 0; // when the silence probe went out
    this.quiet = false; // silent past the probe: inputs wait, coalesced
    this.welcomed = false; // this socket's welcome has come: the server has the seat
    this.lostLinks = 0; // links found dead by silence (for tests and debugging)
    this.clock = new ClockSync();
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.pendingInput = null;
    this.backedUp = false;
    this._pingId = 0;
  }

  connect() {
    this.stopped = false;
    this._listenToNetwork();
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._status("connecting");
    const ws = new this.WebSocketImpl(this.url, this.subprotocols);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.connectingSince = performance.now();
    this.quiet = false;
    // A new socket starts from nothing on the server: no acknowledged state to build
    // deltas from (an ack of a tick this socket was never sent is refused), no seat yet.
    this.welcomed = false;
    this.history.clear();
    this.lastTick = this.ackedTick = null;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastHeardAt = performance.now();
      this._status("open");
      this._ping();
      this._pingTimer = setInterval(() => this._ping(), this.pingMs);
    };
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(event.code, event.reason);
    clearInterval(this._watchTimer);
    this._watchTimer = setInterval(() => this._watch(), SILENCE.checkMs);
  }

  /** Open a fresh socket now, for example so the server sees a session made since. */
  reconnect() {
    this._drop();
    this.attempt = 0;
    this.connect();
  }

  /** Close on purpose (leaving the page): no reconnect. */
  close() {
    this.stopped = true;
    clearInterval(this._pingTimer);
    clearInterval(this._watchTimer);
    clearTimeout(this._retryTimer);
    if (this.ws && this.ws.readyState <= 1) {
      this._status("closing");
      this.ws.close(1000);
    }
  }

  /** True while inputs go out: the socket is open, its welcome came and the server is heard from. */
  get live() {
    return !!this.ws && this.ws.readyState === 1 && this.welcomed && !this.quiet;
  }

  /** Let go of the current socket without hearing its close (a fresh one follows). */
  _drop() {
    clearInterval(this._pingTimer);
    clearInterval(this._watchTimer);
    clearTimeout(this._retryTimer);
    const old = this.ws;
    if (old) {
      // Detach first: the old socket's close must not schedule a reconnect of its own.
      old.onopen = old.onmessage = old.onclose = null;
      if (old.readyState <= 1) old.close(1000);
    }
  }

  /** Every SILENCE.checkMs: a handshake that hangs, a link gone silent. */
  _watch(now = performance.now()) {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    if (ws.readyState === 0) {
      if (now - this.connectingSince > CONNECT_TIMEOUT_MS) this._lost("The server did not answer.");
      return;
    }
    if (ws.readyState !== 1) return;
    const silent = now - this.lastHeardAt;
    if (!this.quiet && silent >= this.silenceMs * SILENCE.probe) {
      this.quiet = true; // inputs wait from now on; the newest goes out when the server is heard
      this.probeAt = now;
      this._ping();
    }
    const answer = Math.max(SILENCE.answerMs, 3 * (this.clock.minRtt || 0));
    if (this.quiet && silent >= this.silenceMs && now - this.probeAt >= answer) {
      this._lost(`Nothing heard from the server for ${Math.round(silent / 100) / 10} s.`);
    }
  }

  /** The link is dead although the socket never closed: replace it, with the usual backoff. */
  _lost(text) {
    this._drop();
    this.lostLinks += 1;
    this._retry({ code: null, text, lost: true });
  }

  /** The device says it went offline or came back (window "offline"/"online"). */
  _listenToNetwork() {
    if (this._listening || !this.network) return;
    this._listening = true;
    this.network.addEventListener("offline", () => {
      if (!this.stopped && this.ws && this.ws.readyState <= 1) this._lost("Your device is offline.");
    });
    this.network.addEventListener("online", () => {
      // Waiting out a backoff while the network was down: try now instead.
      if (this.stopped || !this._retryTimer) return;
      this.attempt = 0;
      this.connect();
    });
  }

  /** Send a protocol message; false if the socket is not open. */
  send(message) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send a game input. While the socket is backed up, silent or down, inputs
   * are coalesced: only the newest waits, and goes out once the socket drains
   * or the server is heard from again (never a burst of stale ones).
   */
  sendInput(data) {
    if (!this.live || this._isBackedUp()) {
      this.pendingInput = data;
      return false;
    }
    this.pendingInput = null;
    return this._sendInput(data);
  }

  _sendInput(data) {
    this.lastInputAt = performance.now();
    if (this.lastTick === null) return this.send({ type: "input", data });
    this.ackedTick = this.lastTick;
    return this.send({ type: "input", data, ack: this.lastTick });
  }

  /** Flushes a coalesced input once the socket drains (also done on every frame received). */
  flush() {
    if (this.pendingInput && this.live && !this._isBackedUp()) {
      const data = this.pendingInput;
      this.pendingInput = null;
      this._sendInput(data);
    }
  }

  _isBackedUp() {
    const backedUp = !!this.ws && this.ws.bufferedAmount > BACKED_UP_BYTES;
    if (backedUp !== this.backedUp) {
      this.backedUp = backedUp;
      this.dispatchEvent(new CustomEvent("backpressure", { detail: { backedUp } }));
    }
    return backedUp;
  }

  _ping() {
    this.send({ type: "ping", id: ++this._pingId, t: performance.timeOrigin + performance.now() });
  }

  _receive(data) {
    this.lastHeardAt = performance.now();
    this.quiet = false;
    let frame;
    try {
      if (typeof data === "string") {
        frame = JSON.parse(data);
      } else {
        frame = this._decodeBinary(new Uint8Array(data));
        this.binaryFrames += 1;
      }
    } catch {
      return; // not a frame this client version understands
    }
    if (!frame) return;
    if (frame.type === "pong") this.clock.add(frame);
    if (frame.type === "closing") this.closingReason = frame.reason; // daphne drops close reasons
    if (frame.type === "welcome") this._welcome(frame);
    if (frame.type === "state") this._acknowledge(frame.tick);
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    this.flush(); // after the frame: a view handles a welcome before its held input goes
  }

  /** A binary state: msgpack (a map, first byte >= 0x80) or the game's compact frame. */
  _decodeBinary(bytes) {
    if (bytes[0] >= 0x80 || !this.decoder) return decode(bytes);
    const decoded = this.decoder.decodeSnapshot(bytes, this.history);
    if (!decoded) {
      // A delta from a state this client no longer has: start over from a full one.
      this.send({ type: "resync" });
      return null;
    }
    const { snapshot, events, delta } = decoded;
    if (delta) this.deltaFrames += 1;
    this.history.set(snapshot.tick, snapshot);
    if (this.history.size > HISTORY) this.history.delete(this.history.keys().next().value);
    return { type: "state", tick: snapshot.tick, state: this.decoder.snapshotView(snapshot, this.tickRate), events };
  }

  _welcome(frame) {
    this.decoder = (this.compact && this.compact[frame.match?.game]) || null;
    this.tickRate = frame.match?.tick_rate;
    this.history.clear();
    this.lastTick = this.ackedTick = null; // the server forgot them too
    // The first welcome of a new socket: an input held for the old one is stale (the
    // server may have moved the seat on); the view sends afresh from this full state.
    // (A welcome after a resync, on the same socket, keeps it.)
    if (!this.welcomed) this.pendingInput = null;
    this.welcomed = true;
  }

  /**
   * Tell the server which state this client has: it sends deltas from there, and
   * stops sending to a client too far behind. Inputs carry the ack when they flow.
   */
  _acknowledge(tick) {
    this.lastTick = tick;
    if (performance.now() - this.lastInputAt > ACK_ALONE_AFTER_MS && this.ackedTick !== tick) {
      this.ackedTick = tick;
      this.send({ type: "ack", tick });
    }
  }

  _closed(code, reason) {
    clearInterval(this._pingTimer);
    clearInterval(this._watchTimer);
    const text = this.closingReason || CLOSE_TEXT[code] || reason || `Disconnected (code ${code}).`;
    this.closingReason = null;
    if (this.stopped) {
      this._status("closed", { code, text });
      return;
    }
    if (FINAL_CODES.has(code)) {
      this._status("final", { code, text });
      return;
    }
    if (SLOW_RETRY_CODES.has(code)) this.attempt = Math.max(this.attempt, SLOW_RETRY_ATTEMPT);
    this._retry({ code, text });
  }

  _retry(detail) {
    const delay = backoffDelay(this.attempt++);
    this._status("reconnecting", { ...detail, delay });
    this._retryTimer = setTimeout(() => this.connect(), delay);
  }

  _status(state, extra = {}) {
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...extra } }));
  }
}
