// The replay viewer: plays a finished match from its stored replay.
import { api } from "./api.js";
import { drawArena, WIDTH, HEIGHT } from "./games/arena.js";
import { drawConnectFour, ConnectFourView } from "./games/connect_four.js";
import { fitCanvas } from "./render.js";

const root = document.querySelector("[data-replay]");
const matchId = root.dataset.replay;
const canvas = document.getElementById("board");
const $ = (id) => document.getElementById(id);

const data = await api(`/api/matches/${matchId}/replay/`);
const world = data.game === "arena" ? { width: WIDTH, height: HEIGHT } : ConnectFourView.world;
let ctx = fitCanvas(canvas, world.width, world.height).ctx;
window.addEventListener("resize", () => (ctx = fitCanvas(canvas, world.width, world.height).ctx));

const frames = data.frames;
const lastTick = frames[frames.length - 1].tick;
let tick = 0; // fractional playback position in ticks
let playing = false;
let speed = 1;
let previous = null;

$("seek").max = String(lastTick);
window.__replay = { get tick() { return tick; }, get playing() { return playing; }, lastTick, frames: frames.length };

function frameAt(t) {
  let lo = 0;
  let hi = frames.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (frames[mid].tick <= t) lo = mid;
    else hi = mid - 1;
  }
  return frames[lo];
}

function draw() {
  const frame = frameAt(tick);
  if (data.game === "arena") {
    const ships = frame.state.ships;
    const bullets = frame.state.bullets.map((b) => ({ x: b[1], y: b[2] }));
    drawArena(ctx, ships, bullets);
  } else {
    drawConnectFour(ctx, frame.state);
  }
  const seconds = tick / data.tick_rate;
  $("position").textContent = `${seconds.toFixed(1)} s / ${(lastTick / data.tick_rate).toFixed(1)} s`;
  $("seek").value = String(Math.floor(tick));
}

function loop(now) {
  if (playing && previous !== null) {
    tick = Math.min(lastTick, tick + ((now - previous) / 1000) * data.tick_rate * speed);
    if (tick >= lastTick) setPlaying(false);
  }
  previous = now;
  draw();
  requestAnimationFrame(loop);
}

function setPlaying(value) {
  if (value && tick >= lastTick) tick = 0;
  playing = value;
  $("play").textContent = playing ? "Pause" : "Play";
}

$("play").addEventListener("click", () => setPlaying(!playing));
$("speed").addEventListener("change", (e) => (speed = Number(e.target.value)));
$("seek").addEventListener("input", (e) => (tick = Number(e.target.value)));
requestAnimationFrame(loop);
