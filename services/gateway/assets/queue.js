// The waiting room's page: polls the buyer's place (GET /api/v1/events/{id}/queue, every few
// seconds, no database read) and updates it; when the buyer is let in, goes to the event's page,
// where the tickets are held with the admission pass. Without script the page is reloaded by hand.

const POLL_MS = 3000;
const root = document.getElementById("queue-place");
if (root) {
  const url = root.dataset.queueUrl;
  const text = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };
  const wait = (seconds) => seconds == null ? "—" : seconds < 60 ? "under a minute" : `about ${Math.ceil(seconds / 60)} min`;
  const STATES = {
    not_queued: "You are not in the queue.",
    drawing: "You are in. Places are drawn at random when the sale starts.",
    waiting: "You are in the queue.",
    admitted: "It is your turn: choose your tickets now.",
    expired: "Your turn ran out. Join the queue again from the event's page.",
    completed: "Your booking is done. To buy more, join the queue again from the event's page.",
  };
  const poll = async () => {
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (res.status === 404) {
        // The organizer removed the room, or the event was cancelled: the event's page says which.
        text("queue-state", "This waiting room is closed. See the event's page.");
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const place = await res.json();
      text("queue-state", STATES[place.state] || place.state);
      text("queue-position", place.position ?? "—");
      text("queue-ahead", place.ahead ?? "—");
      text("queue-wait", wait(place.estimated_wait_seconds));
      const likely = document.getElementById("queue-likely");
      if (likely) likely.hidden = !place.likely_sold_out;
      if (place.state === "admitted") { window.location.assign(root.dataset.eventPage); return; }
    } catch (err) {
      text("queue-state", "Reconnecting… your place is kept.");
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

// The event page's "Join the queue" form, in a room that asks a proof of work: asks for a
// challenge, finds a nonce whose SHA-256 with it starts with the room's zero bits, and joins
// with both. (Without script, the form posts and the server explains that script is needed.)
const join = document.querySelector("form[data-queue-join]");
if (join && Number(join.dataset.powBits) > 0) {
  const note = document.getElementById("queue-working");
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const json = { Accept: "application/json" };
  const zeros = (bytes) => {
    let count = 0;
    for (const byte of new Uint8Array(bytes)) {
      if (byte === 0) { count += 8; continue; }
      return count + Math.clz32(byte) - 24;
    }
    return count;
  };
  const solve = async (challenge, bits) => {
    const encoder = new TextEncoder();
    for (let nonce = 0; ; nonce++) {
      const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`${challenge}:${nonce}`));
      if (zeros(digest) >= bits) return String(nonce);
    }
  };
  join.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = join.querySelector("button");
    if (button) button.disabled = true;
    if (note) note.textContent = "Joining: your device is doing a little work against bots…";
    try {
      const place = await (await fetch(join.dataset.queueUrl, { credentials: "same-origin", headers: json })).json();
      const body = place.challenge ? { challenge: place.challenge, nonce: await solve(place.challenge, Number(join.dataset.powBits)) } : {};
      const res = await fetch(join.dataset.queueUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { ...json, "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail || `HTTP ${res.status}`);
      window.location.assign(join.dataset.queuePage);
    } catch (err) {
      if (note) note.textContent = `Could not join: ${err.message}. Try again.`;
      if (button) button.disabled = false;
    }
  });
}
