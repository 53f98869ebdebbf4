// Operators' messages as banners, on every page: a broadcast to everyone ("The server
// restarts in 5 minutes") and a message to one match's players. They arrive as `notice`
// frames on the lobby and match sockets (docs/protocol.md), and a broadcast still shown
// is fetched once as a page opens (GET /api/broadcast/), so people who arrive after it
// was sent read it too. The same message may come by several ways: it is shown once,
// and once dismissed it stays dismissed in this tab.

const DISMISSED = "arcade.dismissed-notices";
const TITLE = { broadcast: "From the operators", match: "From the operators, to this match" };

function dismissed() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(DISMISSED) || "[]"));
  } catch {
    return new Set();
  }
}

function remember(id) {
  const ids = dismissed();
  ids.add(id);
  try {
    sessionStorage.setItem(DISMISSED, JSON.stringify([...ids].slice(-50)));
  } catch {
    // storage refused (private mode): dismissed for this page only
  }
}

/** Show one `notice` frame ({id, kind, text, until}) as a banner in `slot`, unless shown or dismissed. */
export function showNotice(notice, slot = document.getElementById("banners")) {
  if (!slot || !notice || dismissed().has(notice.id)) return null;
  if (slot.querySelector(`[data-banner="${notice.id}"]`)) return null;
  const box = document.createElement("div");
  box.className = "notice banner";
  box.dataset.banner = String(notice.id);
  box.setAttribute("role", "alert");
  const title = document.createElement("strong");
  title.textContent = TITLE[notice.kind] || TITLE.broadcast;
  const message = document.createElement("p");
  message.textContent = notice.text;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "button";
  dismiss.textContent = "Dismiss";
  dismiss.setAttribute("aria-label", `Dismiss: ${notice.text}`);
  dismiss.addEventListener("click", () => {
    remember(notice.id);
    box.remove();
    if (!slot.children.length) slot.hidden = true;
  });
  box.append(title, message, dismiss);
  slot.append(box);
  slot.hidden = false;
  return box;
}

/** The broadcast still shown, if any, as the page opens; a failure shows nothing. */
export async function showCurrentBroadcast(slot = document.getElementById("banners")) {
  try {
    const response = await fetch("/api/broadcast/", { credentials: "same-origin" });
    const { broadcast } = await response.json();
    if (broadcast) showNotice({ ...broadcast, kind: "broadcast" }, slot);
  } catch {
    // no banner is no news: the next page asks again
  }
  if (slot) slot.dataset.asked = "1"; // the page knows the broadcast now (tests wait for it)
}

if (typeof document !== "undefined" && document.getElementById("banners")) showCurrentBroadcast();
