// The site's nav on a narrow screen: one row, the brand and a "Menu" button that shows
// the links below it. Without this script the links simply wrap (site.css folds them
// only for a bar marked `collapsible`).
const bar = document.querySelector(".topbar");
const toggle = bar?.querySelector(".menu-toggle");

function setOpen(open) {
  bar.classList.toggle("open", open);
  toggle.setAttribute("aria-expanded", String(open));
}

if (bar && toggle) {
  bar.classList.add("collapsible");
  toggle.addEventListener("click", () => setOpen(!bar.classList.contains("open")));
  // Closed again by Escape or a tap anywhere else, as a menu is.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && bar.classList.contains("open")) {
      setOpen(false);
      toggle.focus();
    }
  });
  document.addEventListener("pointerdown", (e) => {
    if (!bar.contains(e.target)) setOpen(false);
  });
}
