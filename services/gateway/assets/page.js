// What every page gets when script runs: times in the reader's own zone and language, the
// hold's countdown, and forms that submit once. Everything here only improves a page that
// already works without it.

const dateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});

// <time datetime="..." data-local>: the server wrote UTC; show the reader's local time.
for (const time of document.querySelectorAll("time[data-local]")) {
  const at = new Date(time.getAttribute("datetime"));
  if (!Number.isNaN(at.getTime())) time.textContent = dateFormat.format(at);
}

// <span data-countdown="RFC 3339">: minutes and seconds left of a hold. When it runs out the
// page says so (the server has the last word: reloading shows the booking as expired).
for (const countdown of document.querySelectorAll("[data-countdown]")) {
  const end = new Date(countdown.dataset.countdown).getTime();
  const box = countdown.closest(".hold") || document;
  const expired = box.querySelector(".countdown-expired");
  const announce = (text) => { countdown.setAttribute("aria-label", text); };
  let lastMinute = null;
  const tick = () => {
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    countdown.textContent = `${minutes}:${seconds} left`;
    // Screen readers hear the time once a minute, not every second.
    if (minutes !== lastMinute) {
      lastMinute = minutes;
      announce(`${minutes} minutes left`);
    }
    if (left === 0) {
      clearInterval(timer);
      countdown.textContent = "0:00 left";
      if (expired) expired.hidden = false;
      for (const button of document.querySelectorAll(".pay-form button")) button.disabled = true;
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
}

// <form data-once>: a second click while the first submission is on its way does nothing.
// (The server is safe anyway: holds carry an idempotency key and a booking is charged once.)
for (const form of document.querySelectorAll("form[data-once], form.hold-form")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "yes";
    for (const button of form.querySelectorAll("button[type=submit]")) button.setAttribute("aria-disabled", "true");
  });
}

// <table data-live-counts="stream URL">: what is left of each category, kept current. The seat
// map shares its stream by announcing every reading (`boxoffice:availability`); a page without
// a seat map opens the stream itself.
const counts = document.querySelector("[data-live-counts]");
if (counts) {
  const show = (categories) => {
    for (const category of categories) {
      const cell = counts.querySelector(`[data-left="${CSS.escape(category.id)}"]`);
      if (cell) cell.textContent = category.available === 0 ? "Sold out" : String(category.available);
    }
  };
  document.addEventListener("boxoffice:availability", (event) => show(event.detail.categories));
  if (!document.getElementById("seatmap")) {
    const stream = new EventSource(counts.dataset.liveCounts);
    const read = (event) => show(JSON.parse(event.data).categories);
    stream.addEventListener("snapshot", read);
    stream.addEventListener("changes", read);
  }
}
