// What every page gets when script runs: times in the reader's own zone and language, the
// hold's countdown, and forms that submit once. Everything here only improves a page that
// already works without it.

const dateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  timeZoneName: "short",
});

// <time datetime="..." data-local>: the server wrote UTC; show the reader's local time.
for (const time of document.querySelectorAll("time[data-local]")) {
  const at = new Date(time.getAttribute("datetime"));
  if (!Number.isNaN(at.getTime())) time.textContent = dateFormat.format(at);
}

// <span data-countdown="RFC 3339" data-seconds-left="N">: minutes and seconds left of a hold,
// counted from the server's own reckoning of the time left (a device's clock may be wrong).
// When it runs out the page says so; paying stays possible, since the server has the last word.
for (const countdown of document.querySelectorAll("[data-countdown]")) {
  const left = Number(countdown.dataset.secondsLeft);
  const end = performance.now() + (Number.isFinite(left) ? left : 0) * 1000;
  const box = countdown.closest(".hold") || document;
  const expired = box.querySelector(".countdown-expired");
  let lastMinute = null;
  const tick = () => {
    const seconds = Math.max(0, Math.round((end - performance.now()) / 1000));
    const minutes = Math.floor(seconds / 60);
    countdown.textContent = `${minutes}:${String(seconds % 60).padStart(2, "0")} left`;
    // Screen readers hear the time once a minute, not every second.
    if (minutes !== lastMinute) {
      lastMinute = minutes;
      countdown.setAttribute("aria-label", `${minutes} minutes left`);
    }
    if (seconds === 0) {
      clearInterval(timer);
      if (expired) expired.hidden = false;
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
}

// <form data-once>: a second click while the first submission is on its way does nothing.
// (The server is safe anyway: holds carry an idempotency key and a booking is charged once.)
const onceForms = document.querySelectorAll("form[data-once], form.hold-form");
for (const form of onceForms) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "yes";
    for (const button of form.querySelectorAll("button[type=submit]")) button.setAttribute("aria-disabled", "true");
  });
}
// A page the browser brings back with Back (its back/forward cache) is a new visit: its forms
// may be sent again, and a hold form gets a new idempotency key, or it would name the booking
// the first submission made.
addEventListener("pageshow", (event) => {
  const navigation = performance.getEntriesByType("navigation")[0];
  if (!event.persisted && navigation?.type !== "back_forward") return;
  for (const form of onceForms) {
    delete form.dataset.sent;
    for (const button of form.querySelectorAll("button[type=submit]")) button.removeAttribute("aria-disabled");
    const key = form.querySelector("input[name=idempotency_key]");
    if (key && crypto.randomUUID) key.value = crypto.randomUUID();
  }
});

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
    stream.addEventListener("closed", () => {
      stream.close();
      for (const form of document.querySelectorAll("form.hold-form")) form.hidden = true;
    });
  }
}

// <input type="datetime-local" name="<x>_local" data-utc-name="<x>">: the server writes and
// reads UTC; the organizer sees and types their own local time. On load the UTC value is shown
// as local time; on submit the local time goes back as UTC in a hidden field named <x> (without
// script, the server reads the typed value as UTC, and the form says so).
const localInputs = document.querySelectorAll("input[type=datetime-local][data-utc-name]");
const pad = (n) => String(n).padStart(2, "0");
for (const input of localInputs) {
  if (input.value) {
    const at = new Date(`${input.value}:00Z`);
    if (!Number.isNaN(at.getTime())) {
      input.value = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
    }
  }
  const hint = input.form?.querySelector(".utc-hint");
  if (hint) hint.textContent = `Times are in your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`;
}
for (const form of new Set([...localInputs].map((input) => input.form).filter(Boolean))) {
  form.addEventListener("submit", () => {
    for (const input of form.querySelectorAll("input[type=datetime-local][data-utc-name]")) {
      let hidden = form.querySelector(`input[type=hidden][name="${input.dataset.utcName}"]`);
      if (!hidden) {
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = input.dataset.utcName;
        form.append(hidden);
      }
      const at = input.value ? new Date(input.value) : null;
      hidden.value = at && !Number.isNaN(at.getTime()) ? at.toISOString() : "";
    }
  });
}

// <select data-venue-select> with <fieldset data-venue-sections="<venue id>">: only the chosen
// venue's sections are offered to the seated categories (the others are hidden and not sent).
for (const select of document.querySelectorAll("select[data-venue-select]")) {
  const follow = () => {
    for (const group of select.form?.querySelectorAll("[data-venue-sections]") || []) {
      const shown = group.dataset.venueSections === select.value;
      group.hidden = !shown;
      for (const box of group.querySelectorAll("input")) box.disabled = !shown;
    }
  };
  select.addEventListener("change", follow);
  follow();
}
