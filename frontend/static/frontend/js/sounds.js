// Sound effects made with the Web Audio API: no file to download. A mute toggle,
// remembered in this browser (localStorage). Plain ES module, no build step.

const MUTED_KEY = "arcade.muted";

// Each effect: notes of [frequency Hz, start s, length s], a wave shape and a volume.
const EFFECTS = {
  drop: { wave: "triangle", gain: 0.25, notes: [[520, 0, 0.06], [260, 0.05, 0.12]] },
  hit: { wave: "square", gain: 0.12, notes: [[180, 0, 0.08]] },
  kill: { wave: "sawtooth", gain: 0.15, notes: [[300, 0, 0.1], [150, 0.08, 0.25]] },
  win: { wave: "triangle", gain: 0.25, notes: [[523, 0, 0.12], [659, 0.12, 0.12], [784, 0.24, 0.3]] },
  lose: { wave: "triangle", gain: 0.22, notes: [[392, 0, 0.18], [311, 0.18, 0.35]] },
};

/** The page's sounds: `play(name)`, `muted` (get and set, remembered), a count for tests. */
export class Sounds {
  constructor(storage = window.localStorage) {
    this.storage = storage;
    this.context = null; // made at the first sound: browsers start audio only after a gesture
    this.played = 0; // effects played (not while muted), for tests and debugging
  }

  get muted() {
    return this.storage.getItem(MUTED_KEY) === "1";
  }

  set muted(value) {
    this.storage.setItem(MUTED_KEY, value ? "1" : "0");
  }

  play(name) {
    const effect = EFFECTS[name];
    if (!effect || this.muted) return;
    this.played += 1;
    try {
      this.context ||= new AudioContext();
      if (this.context.state === "suspended") this.context.resume().catch(() => {});
      const start = this.context.currentTime;
      for (const [frequency, at, length] of effect.notes) this._note(effect, frequency, start + at, length);
    } catch {
      // No audio here (a browser without Web Audio): the game goes on in silence.
    }
  }

  _note({ wave, gain }, frequency, at, length) {
    const oscillator = this.context.createOscillator();
    const volume = this.context.createGain();
    oscillator.type = wave;
    oscillator.frequency.setValueAtTime(frequency, at);
    volume.gain.setValueAtTime(gain, at);
    volume.gain.exponentialRampToValueAtTime(0.001, at + length); // no click at the end
    oscillator.connect(volume).connect(this.context.destination);
    oscillator.start(at);
    oscillator.stop(at + length + 0.02);
  }
}

/** A toggle button for `sounds`: its label and aria-pressed follow the setting. */
export function muteToggle(button, sounds) {
  const draw = () => {
    button.textContent = sounds.muted ? "Sound off" : "Sound on";
    button.setAttribute("aria-pressed", String(sounds.muted));
  };
  button.addEventListener("click", () => {
    sounds.muted = !sounds.muted;
    draw();
  });
  draw();
}

/** The effect a state's events call for, if any: a disc dropped, a ship hit or destroyed. */
export function effectFor(events) {
  const kinds = new Set((events || []).map((e) => e.kind));
  if (kinds.has("kill")) return "kill";
  if (kinds.has("hit")) return "hit";
  if (kinds.has("move")) return "drop";
  return null;
}
