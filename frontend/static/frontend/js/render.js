// Canvas helpers shared by the game views and pages: high-DPI sizing, seat colours, ratings.

export const SEAT_COLOURS = [
  "#ffb020", "#4fd1c5", "#ff5d73", "#8c7bff", "#5ee08a", "#ff8fd6", "#f4f1de", "#6cb4ff",
];

/** The seats' colours in words, for "You are amber". */
export const COLOUR_NAMES = ["amber", "teal", "red", "violet", "green", "pink", "white", "blue"];

/**
 * The rating shown to people for a stored openskill ordinal: everyone starts at 1500,
 * 25 a point, never below 0. The same as games/services/ratings.py display_rating.
 */
export function displayRating(ordinal) {
  return Math.max(0, Math.round(1500 + 25 * ordinal));
}

/**
 * Size a canvas to its container's width (keeping the world's aspect ratio)
 * and to the screen's pixel density; returns the 2D context scaled so that
 * drawing uses world units. The height is at most the container's CSS
 * `max-height` when the stylesheet gives one in pixels or viewport units (a phone
 * on its side: the field takes the screen's height), else the window's height
 * less room for the page around it.
 */
export function fitCanvas(canvas, worldWidth, worldHeight) {
  const box = canvas.parentElement.getBoundingClientRect();
  const cap = getComputedStyle(canvas.parentElement).maxHeight; // "none", or resolved to px
  const maxHeight = cap.endsWith("px") ? parseFloat(cap) : Math.max(240, window.innerHeight - 220);
  const cssWidth = Math.min(box.width, (maxHeight * worldWidth) / worldHeight);
  const cssHeight = (cssWidth * worldHeight) / worldWidth;
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${cssHeight}px`;
  canvas.width = Math.round(cssWidth * dpr);
  canvas.height = Math.round(cssHeight * dpr);
  const ctx = canvas.getContext("2d");
  const scale = (cssWidth * dpr) / worldWidth;
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  return { ctx, scale: cssWidth / worldWidth };
}
