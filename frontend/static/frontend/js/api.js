// JSON API helpers: session cookie plus the CSRF header Django expects on POST.

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json();
  if (!response.ok) throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
  return data;
}

/** Make sure there is a session: become a guest if nobody is logged in. */
export async function ensureSession() {
  try {
    return (await api("/api/me/")).player;
  } catch {
    const form = new FormData();
    form.append("csrfmiddlewaretoken", csrfToken());
    await fetch("/guest/", { method: "POST", body: form, credentials: "same-origin" });
    return (await api("/api/me/")).player;
  }
}
