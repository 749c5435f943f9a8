// The waiting room's page: polls the buyer's place (GET /api/v1/events/{id}/queue, every few
// seconds, no database read) and updates it; when the buyer is let in, goes to the event's page,
// where the tickets are held with the admission pass. Without script the page is reloaded by hand.

const POLL_MS = 3000;
const root = document.getElementById("queue-place");
if (root) {
  const url = root.dataset.queueUrl;
  const text = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };
  const wait = (seconds) => seconds == null ? "—" : seconds < 60 ? "under a minute" : `about ${Math.round(seconds / 60)} min`;
  const STATES = {
    not_queued: "You are not in the queue.",
    drawing: "You are in. Places are drawn at random when the sale starts.",
    waiting: "You are in the queue.",
    admitted: "It is your turn: choose your tickets now.",
    expired: "Your turn ran out. Join the queue again from the event's page.",
    completed: "Your booking is done.",
  };
  const poll = async () => {
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
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
