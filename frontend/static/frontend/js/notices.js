// Notices from the moderators (a warning, "your report was handled"), on every page of
// a signed-in player: each a banner until it is dismissed, which marks it read
// (GET and POST /api/notices/, docs/api.md "Reports").
import { api } from "./api.js";

const TITLE = { warning: "A warning from the moderators", report_handled: "Your report" };

/** Fetch the unread notices and show each in `slot`; none (or an error) shows nothing. */
export async function showNotices(slot, { request = api } = {}) {
  let notices = [];
  try {
    notices = (await request("/api/notices/")).notices || [];
  } catch {
    return []; // no notices to show is no news: the next page asks again
  }
  slot.replaceChildren(...notices.map((notice) => banner(notice, request)));
  slot.hidden = !notices.length;
  return notices;
}

function banner(notice, request) {
  const box = document.createElement("div");
  box.className = `notice ${notice.kind === "warning" ? "warning" : "info"}`;
  box.dataset.notice = String(notice.id);
  box.setAttribute("role", notice.kind === "warning" ? "alert" : "status");
  const title = document.createElement("strong");
  title.textContent = TITLE[notice.kind] || "A notice";
  const message = document.createElement("p");
  message.textContent = notice.message;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "button";
  dismiss.textContent = "Dismiss";
  dismiss.setAttribute("aria-label", `Dismiss: ${title.textContent}`);
  const error = document.createElement("span");
  error.className = "error-text";
  dismiss.addEventListener("click", async () => {
    dismiss.disabled = true;
    try {
      await request("/api/notices/", { method: "POST", body: { ids: [notice.id] } });
      const slot = box.parentElement;
      box.remove();
      if (slot && !slot.children.length) slot.hidden = true;
    } catch (failure) {
      // Still unread on the server: it stays, and shows again on the next page.
      error.textContent = ` Not dismissed: ${failure.message}`;
      dismiss.disabled = false;
    }
  });
  box.append(title, message, dismiss, error);
  return box;
}

const slot = typeof document !== "undefined" && document.getElementById("notices");
if (slot) showNotices(slot);
