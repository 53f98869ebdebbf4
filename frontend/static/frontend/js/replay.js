// The replay viewer: plays a finished match from its stored replay, with the players'
// names, scores and whose move it is. Connect Four steps one move at a time (buttons
// and ←/→). `?t=<tick>` opens the replay at that tick; "Copy link" makes such a link.
import { api } from "./api.js";
import { drawArena, isTextField, SHIP_RADIUS, WIDTH, HEIGHT } from "./games/arena.js";
import { drawConnectFour, fallAt, fallMs, ConnectFourView } from "./games/connect_four.js";
import { motion } from "./games/effects.js";
import { fitCanvas, SEAT_COLOURS } from "./render.js";

const root = document.querySelector("[data-replay]");
const matchId = root.dataset.replay;
const game = root.dataset.game;
const canvas = document.getElementById("board");
const $ = (id) => document.getElementById(id);

// The page is rendered with the players by seat; their names come from there.
const seatItems = new Map(
  [...document.querySelectorAll("#replay-players [data-seat]")].map((li) => [Number(li.dataset.seat), li]),
);
const nameOf = (seat) => seatItems.get(seat)?.dataset.name ?? `Player ${seat + 1}`;
const summary = root.querySelector("[data-summary]").textContent.trim();

let data;
try {
  data = await api(`/api/matches/${matchId}/replay/`);
} catch (error) {
  // A match that did not finish has no replay: say so instead of a dead board.
  $("replay-error").textContent = error.message;
  $("replay-error").hidden = false;
  root.querySelectorAll(".replay-controls button, .replay-controls input, .replay-controls select").forEach((el) => (el.disabled = true));
}
if (data) start(data);

/**
 * Each frame's position on the viewer's clock: its tick, except that the last frame of a
 * match ended by an input shares its tick with the one before (the winning disc is
 * applied with no tick after it) and is put one tick later, so every frame, the winning
 * move among them, has a position of its own.
 */
function positions(frames) {
  let previous = -1;
  return frames.map((frame) => (previous = Math.max(frame.tick, previous + 1)));
}

/** Where each Connect Four move count first shows, in order: [{moves, at}]. */
function moveStarts(frames, at) {
  const starts = [];
  frames.forEach((frame, i) => {
    if (!starts.length || frame.state.moves !== starts.at(-1).moves) starts.push({ moves: frame.state.moves, at: at[i] });
  });
  return starts;
}

/** The tick a shared link asks for (`?t=`), within the replay; 0 without one. */
function linkedPosition(last) {
  const t = Number.parseInt(new URLSearchParams(location.search).get("t") ?? "", 10);
  return Number.isFinite(t) ? Math.min(last, Math.max(0, t)) : 0;
}

function start(data) {
  const frames = data.frames;
  const at = positions(frames);
  const last = at.at(-1);
  const steps = game === "connect_four" ? moveStarts(frames, at) : null;
  const maxHp = Math.max(1, ...(frames[0].state.ships ?? []).map((s) => s.hp)); // every ship starts whole
  const world = game === "arena" ? { width: WIDTH, height: HEIGHT } : ConnectFourView.world;
  let ctx = fit(world);
  window.addEventListener("resize", () => (ctx = fit(world)));

  let position = linkedPosition(last); // fractional, on the viewer's clock (ticks)
  let playing = false;
  let speed = 1;
  let previous = null;
  let shown = null; // the frame drawn last
  let drop = null; // Connect Four: the disc of the move just shown while it falls

  function frameIndexAt(p) {
    let lo = 0;
    let hi = frames.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (at[mid] <= p) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  function draw(now = performance.now()) {
    const frame = frames[frameIndexAt(position)];
    if (frame !== shown) {
      if (game === "arena") showArena(frame.state, data.tick_rate, maxHp);
      else {
        showConnectFour(frame.state, steps.at(-1).moves, data.tick_rate);
        // A frame of the same move (the clock running) lets a falling disc go on falling.
        if (frame.state.moves !== shown?.state.moves) drop = newDisc(shown?.state, frame.state, now);
      }
      shown = frame;
    }
    if (game === "arena") drawArenaFrame(ctx, frame.state);
    else drawConnectFour(ctx, frame.state, { falling: falling(now), now, reduced: motion.reduced });
    const seconds = position / data.tick_rate;
    $("position").textContent = `${seconds.toFixed(1)} s / ${(last / data.tick_rate).toFixed(1)} s`;
    $("seek").value = String(Math.floor(position));
  }

  function loop(now) {
    if (playing && previous !== null) {
      position = Math.min(last, position + ((now - previous) / 1000) * data.tick_rate * speed);
      if (position >= last) setPlaying(false);
    }
    previous = now;
    draw(now);
    requestAnimationFrame(loop);
  }

  function setPlaying(value) {
    if (value && position >= last) position = 0;
    playing = value;
    $("play").textContent = playing ? "Pause" : "Play";
  }

  /** Where the falling disc is now ({column, row, y}), or null once it has landed. */
  function falling(now) {
    if (!drop) return null;
    const { y, landed } = fallAt(drop.row, now - drop.at, drop.ms);
    if (landed) drop = null;
    return landed ? null : { column: drop.column, row: drop.row, y };
  }

  /** One Connect Four move forward (+1) or back (-1): exactly one disc more or fewer. */
  function step(direction) {
    const moves = frames[frameIndexAt(position)].state.moves;
    const target = direction > 0 ? steps.find((s) => s.moves > moves) : steps.findLast((s) => s.moves < moves);
    setPlaying(false);
    if (!target) return;
    moveTo(target.at);
    const state = shown.state;
    const after = state.finished ? summary : `${nameOf(state.to_move)} to move.`;
    $("replay-announce").textContent = `Move ${state.moves} of ${steps.at(-1).moves}. ${after}`;
  }

  /** Jump to `p` and draw it now, not at the next frame: the HUD never lags a click. */
  function moveTo(p) {
    position = p;
    draw();
  }

  /** This replay at the position shown, as a link to share. */
  function shareLink() {
    const url = new URL(location.pathname, location.origin);
    url.searchParams.set("t", String(Math.floor(position)));
    return url.href;
  }

  $("seek").max = String(last);
  $("play").addEventListener("click", () => setPlaying(!playing));
  $("speed").addEventListener("change", (e) => (speed = Number(e.target.value)));
  $("seek").addEventListener("input", (e) => moveTo(Number(e.target.value)));
  $("copy-link").addEventListener("click", async () => {
    const link = shareLink();
    try {
      await navigator.clipboard.writeText(link);
      $("copy-link-done").textContent = `Copied: it opens at ${(Math.floor(position) / data.tick_rate).toFixed(1)} s.`;
    } catch {
      // No clipboard (an old browser, or permission refused): show the link to copy by hand.
      $("copy-link-done").textContent = link;
    }
  });
  if (steps) {
    $("previous-move").addEventListener("click", () => step(-1));
    $("next-move").addEventListener("click", () => step(1));
    window.addEventListener("keydown", (e) => {
      // Arrows typed in a field (the speed list) are the field's.
      if (e.altKey || e.ctrlKey || e.metaKey || isTextField(e.target)) return;
      if (e.key === "ArrowLeft") step(-1);
      else if (e.key === "ArrowRight") step(1);
      else return;
      e.preventDefault(); // the position slider would move one tick, not one move
    });
  }

  draw();
  // What tests (and curious people) read: the position and the frame drawn.
  window.__replay = {
    get tick() { return position; },
    get playing() { return playing; },
    get state() { return shown?.state ?? null; }, // the frame drawn
    get falling() { return drop; }, // a disc still falling into its cell, or null
    lastTick: last,
    frames: frames.length,
    moves: steps ? steps.at(-1).moves : null,
  };
  requestAnimationFrame(loop);
}

/** Size the board to what the window has left under the controls (fitCanvas keeps to its
 *  box's max-height), so the whole board shows with them; at least 240 px high. */
function fit(world) {
  const box = canvas.parentElement;
  const top = box.getBoundingClientRect().top + window.scrollY;
  box.style.maxHeight = `${Math.max(240, window.innerHeight - top - 24)}px`;
  return fitCanvas(canvas, world.width, world.height).ctx;
}

/**
 * A move played forward (one disc more than the frame shown before) drops its disc, as on
 * the match page; a step back, a jump of several moves, or reduced motion shows it in place.
 */
function newDisc(before, after, now) {
  if (!before || after.moves !== before.moves + 1 || motion.reduced) return null;
  const column = after.board.findIndex((discs, c) => discs.length > before.board[c].length);
  if (column < 0) return null;
  const row = after.board[column].length - 1;
  return { column, row, at: now, ms: fallMs(row) };
}

/** The arena as the live page draws it, with each ship's name over it. */
function drawArenaFrame(ctx, state) {
  const bullets = state.bullets.map((b) => ({ x: b[1], y: b[2] }));
  drawArena(ctx, state.ships, bullets);
  ctx.font = "600 15px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  for (const ship of state.ships) {
    if (ship.removed || !ship.alive) continue;
    ctx.fillStyle = SEAT_COLOURS[ship.seat % SEAT_COLOURS.length];
    ctx.fillText(nameOf(ship.seat), ship.x, ship.y - SHIP_RADIUS - 6);
  }
}

/** The arena's HUD: time left, and each ship's score and HP in the players list. */
function showArena(state, tickRate, maxHp) {
  const seconds = Math.ceil(state.ticks_left / tickRate);
  $("replay-hud").textContent = state.finished ? summary : `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")} left`;
  for (const ship of state.ships) {
    const li = seatItems.get(ship.seat);
    if (!li) continue;
    li.querySelector(".score").textContent = String(ship.score);
    const hp = ship.removed ? "left" : ship.alive ? `HP ${ship.hp}/${maxHp}` : "destroyed";
    li.querySelector(".hp").textContent = hp;
    li.classList.toggle("down", ship.removed || !ship.alive);
  }
}

/** Connect Four's HUD: the move number and whose move it is, or how it ended. */
function showConnectFour(state, totalMoves, tickRate) {
  const move = `Move ${state.moves} of ${totalMoves}`;
  const turn = `${nameOf(state.to_move)} to move · ${Math.ceil(state.turn_ticks_left / tickRate)} s`;
  $("replay-hud").textContent = `${move} · ${state.finished ? summary : turn}`;
  for (const [seat, li] of seatItems) {
    li.querySelector(".turn").textContent = !state.finished && state.to_move === seat ? "to move" : "";
    li.classList.toggle("to-move", !state.finished && state.to_move === seat);
  }
}
