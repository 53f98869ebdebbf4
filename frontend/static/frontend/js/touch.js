// Touch screens: the arena's visible stick, and the field kept on screen in landscape.

/** Under this share of the stick's reach the thumb steers nothing: a tap or a resting
 *  thumb never drifts the ship. */
const DEAD_ZONE = 0.12;

/**
 * A virtual stick drawn in the page (a round pad with a knob), beside the field, never
 * over it. The deflection counts from the pad's centre, a full one at the pad's rim;
 * the knob follows the thumb, stopping at the rim.
 */
export class Stick {
  /** @param {HTMLElement} pad  the pad; its first child is the knob */
  constructor(pad) {
    this.pad = pad;
    this.knob = pad.firstElementChild;
  }

  /** Where the pad's centre is and how far a full deflection reaches (CSS pixels). */
  origin() {
    const rect = this.pad.getBoundingClientRect();
    return { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2, reach: rect.width / 2 };
  }

  /** Show a deflection (each axis -1..1, inside the unit circle) and say it pressed. */
  show(dx, dy) {
    const travel = this.origin().reach - (this.knob?.offsetWidth ?? 0) / 2;
    if (this.knob) this.knob.style.transform = `translate(${dx * travel}px, ${dy * travel}px)`;
    this.pad.classList.toggle("active", dx !== 0 || dy !== 0);
  }
}

/**
 * The deflection of a thumb at (x, y) from `origin` with a full one `reach` away: inside
 * the unit circle, with a dead zone at the centre.
 */
export function deflection(origin, reach, x, y) {
  let dx = (x - origin.x) / reach;
  let dy = (y - origin.y) / reach;
  const length = Math.hypot(dx, dy);
  if (length < DEAD_ZONE) return { dx: 0, dy: 0 };
  if (length > 1) {
    dx /= length;
    dy /= length;
  }
  return { dx, dy };
}

/** A phone on its side: too short for the site's header above the field (site.css makes
 *  the header scroll away there). */
const LANDSCAPE_PHONE = "(pointer: coarse) and (orientation: landscape) and (max-height: 540px)";

/**
 * On a phone held sideways, scroll `element` (the game's stage) to the top of the screen
 * once, and again whenever the phone turns sideways: the field then fills the height
 * under the header scrolled away. A player who scrolls back up is left there.
 */
export function keepInViewWhenSideways(element) {
  let sideways = false;
  const place = () => {
    const now = window.matchMedia(LANDSCAPE_PHONE).matches;
    if (now && !sideways) element.scrollIntoView({ block: "start" });
    sideways = now;
  };
  // The window's resize, not the media query's change event: a MediaQueryList nothing
  // else refers to may be collected, listener and all.
  window.addEventListener("resize", place);
  place();
}
