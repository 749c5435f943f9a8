// Door scanner (/scan/{event}): checks tickets in without reloading the page, with a verdict big
// enough to read at arm's length, a buzz and a beep, and (where the browser can read QR codes) the
// phone's camera. Without script the form posts and the server answers with a page; this only
// makes that faster. No dependencies; strict-CSP safe (no inline styles, text only via
// textContent).
//
// Hooks (the server-rendered #scanner section): [data-scanner][data-check-url], #scan-verdict,
// #scan-count, #scan-total, #scan-camera-box, #scan-video, #scan-camera, #scan-form, #scan-code,
// and <meta name="csrf-token"> (or the form's hidden csrf input).

const TIMEOUT_MS = 15000; // a check that takes longer than this is reported as unanswered
const CAMERA_EVERY_MS = 200;
const CAMERA_REPEAT_MS = 3000; // the camera ignores the code it just read for this long
const HISTORY = 5; // earlier answers listed under the verdict

const KIND = { admitted: "admitted", already_checked_in: "already" };
const BUZZ = { admitted: [90], already: [300, 120, 300], refused: [500, 150, 500, 150, 500] };

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayClock = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});
const yearClock = new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) el.setAttribute(k, v === true ? "" : v);
  el.append(...kids.filter((k) => k != null && k !== ""));
  return el;
}

/** "at 20:14:03", or "on Tue 3 Dec, 20:14:03" when not today (local time). */
export function checkedInWhen(rfc3339, now = new Date()) {
  const at = new Date(rfc3339);
  if (!rfc3339 || Number.isNaN(at.getTime())) return "";
  if (at.toDateString() === now.toDateString()) return `at ${at.toLocaleTimeString()}`;
  return `on ${(at.getFullYear() === now.getFullYear() ? dayClock : yearClock).format(at)}`;
}

export function mount(root) {
  if (root.dataset.mounted) return;
  root.dataset.mounted = "1";
  const url = root.dataset.checkUrl;
  const box = root.querySelector("#scan-verdict");
  const form = root.querySelector("#scan-form");
  const input = root.querySelector("#scan-code");
  const count = root.querySelector("#scan-count");
  const total = root.querySelector("#scan-total");
  const camButton = root.querySelector("#scan-camera");
  const camBox = root.querySelector("#scan-camera-box");
  const video = root.querySelector("#scan-video");
  if (!url || !box || !form || !input) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content
    || form.querySelector('input[name="csrf"]')?.value || "";

  // An empty verdict area shows "Ready to scan" (from the stylesheet, :empty).
  if (!box.children.length && !box.textContent.trim()) box.replaceChildren();

  // Earlier answers, newest first: staff can look back, and an answer that comes back after a
  // later scan's answer lands here instead of overwriting the newer verdict.
  const history = h("ol", { class: "scan-history", "aria-label": "Earlier scans" });
  const historyBox = h("section", { class: "scan-recent", "aria-labelledby": "scan-recent-title", hidden: true },
    h("h2", { id: "scan-recent-title" }, "Earlier scans"), history);
  form.after(historyBox);

  // --- Sound: an AudioContext may only start after a user gesture, so it is made on the first one.
  let audio = null;
  const activated = () => navigator.userActivation?.hasBeenActive !== false;
  const wake = () => {
    if (!activated()) return;
    if (audio) {
      if (audio.state === "suspended") audio.resume().catch(() => {});
      return;
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try { audio = new Ctx(); } catch { audio = null; }
  };
  for (const type of ["pointerdown", "keydown", "touchend"]) addEventListener(type, wake, { capture: true, passive: true });

  const tone = (freq, start, length, wave) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = wave;
    osc.frequency.value = freq;
    const t = audio.currentTime + start;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.01);
    gain.gain.setValueAtTime(0.25, t + length - 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + length);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + length + 0.02);
  };
  const beep = (kind) => {
    if (!audio || audio.state === "closed" || !activated()) return;
    try {
      if (audio.state === "suspended") audio.resume().catch(() => {});
      if (kind === "admitted") tone(1320, 0, 0.14, "sine");
      else if (kind === "already") { tone(520, 0, 0.16, "triangle"); tone(520, 0.24, 0.16, "triangle"); }
      else tone(150, 0, 0.5, "sawtooth");
    } catch { /* no sound is no reason to fail */ }
  };
  const buzz = (kind) => {
    if (!activated()) return;
    try { navigator.vibrate?.(BUZZ[kind] || BUZZ.refused); } catch { /* not everywhere */ }
  };

  // --- The verdict.
  const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)");
  let shownSeq = 0;

  const remember = (v) => {
    history.prepend(h("li", { class: `scan-past ${v.kind}`, "data-verdict": v.verdict },
      h("span", { class: "scan-past-time" }, clock.format(v.at)), " ",
      h("strong", {}, v.title), v.detail ? ` · ${v.detail}` : ""));
    while (history.children.length > HISTORY) history.lastElementChild.remove();
    historyBox.hidden = false;
  };

  /** Shows one answer: v = {seq, kind, verdict, title, detail, extra, at, link}. */
  let current = null;
  const show = (v) => {
    if (v.seq < shownSeq) { remember(v); return; } // a late answer to an earlier scan
    if (current) remember(current);
    current = v;
    shownSeq = v.seq;
    box.className = `verdict ${v.kind}`;
    if (v.verdict) box.dataset.verdict = v.verdict; else delete box.dataset.verdict;
    const detail = h("p", { class: "verdict-detail" }, v.detail || "");
    if (v.link) detail.append(" ", h("a", { href: v.link.href }, v.link.text));
    box.replaceChildren(...[
      h("p", { class: "verdict-title" }, v.title),
      v.detail || v.link ? detail : null,
      v.extra ? h("p", { class: "verdict-extra" }, v.extra) : null,
      h("p", { class: "verdict-when" }, `Scanned at ${clock.format(v.at)}`),
    ].filter(Boolean));
    if (!reduceMotion.matches) {
      box.classList.remove("flash");
      void box.offsetWidth; // restart the animation for an identical answer
      box.classList.add("flash");
    }
  };

  const notice = (title, detail) => {
    box.className = "verdict notice";
    delete box.dataset.verdict;
    box.replaceChildren(h("p", { class: "verdict-title" }, title), h("p", { class: "verdict-detail" }, detail));
  };

  const setNumber = (el, n) => {
    if (el && typeof n === "number" && Number.isFinite(n)) el.textContent = n.toLocaleString("en");
  };

  const loginLink = () => ({ href: `/login?next=${encodeURIComponent(location.pathname)}`, text: "Log in" });

  const fromProblem = (status, problem) => {
    const detail = typeof problem?.detail === "string" && problem.detail ? problem.detail : "";
    if (status === 401) return { title: "Session expired", detail: detail || "Log in again, then scan this ticket again.", link: loginLink() };
    if (status === 403) return { title: "Not allowed", detail: detail || "You may not check in tickets for this event." };
    if (status === 429) return { title: "Slow down", detail: detail || "Too many checks at once: wait a moment and scan again." };
    return {
      title: status >= 500 ? "Server error" : problem?.title || `Error ${status}`,
      detail: `${detail || "The check failed."} The ticket was NOT checked in; try again.`.replace(/\.\s*\./, "."),
    };
  };

  // --- Checking a code (typed, scanned by a keyboard-like scanner, or read by the camera).
  const inFlight = new Set();
  let seq = 0;

  const afterAnswer = () => {
    if (!camera.stream) input.focus({ preventScroll: false });
  };

  const check = async (raw) => {
    const code = String(raw).trim();
    if (!code) return;
    input.value = "";
    if (inFlight.has(code)) return; // the same code again while its answer is on its way
    inFlight.add(code);
    const mine = ++seq;
    const at = new Date();
    root.classList.add("checking");
    root.setAttribute("aria-busy", "true");
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    let v;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
          "X-CSRF-Token": csrf,
        },
        body: new URLSearchParams({ code }),
        credentials: "same-origin",
        signal: abort.signal,
      });
      let body = null;
      try { body = await res.json(); } catch { body = null; }
      if (res.ok && body && typeof body.verdict === "string") {
        const kind = KIND[body.verdict] || "refused";
        let extra = "";
        if (body.verdict === "already_checked_in" && body.checked_in_at) {
          const when = checkedInWhen(body.checked_in_at, at);
          if (when) extra = `Checked in ${when}`;
        }
        const detail = body.detail || body.seat || "";
        v = { kind, verdict: body.verdict, title: body.title || defaultTitle(body.verdict), detail, extra };
        setNumber(count, body.checked_in);
        setNumber(total, body.tickets);
      } else if (res.ok) {
        v = { kind: "refused", verdict: "error", title: "Unexpected answer", detail: "The ticket was NOT checked in; try again." };
      } else {
        v = { kind: "refused", verdict: "error", ...fromProblem(res.status, body) };
      }
    } catch (err) {
      v = err?.name === "AbortError"
        ? { kind: "refused", verdict: "error", title: "No answer", detail: "The server did not answer in time. Scan the ticket again: “already checked in” a moment ago means it went through." }
        : { kind: "refused", verdict: "error", title: "No connection", detail: "The ticket was NOT checked in; try again." };
    } finally {
      clearTimeout(timer);
      inFlight.delete(code);
      if (!inFlight.size) {
        root.classList.remove("checking");
        root.removeAttribute("aria-busy");
      }
    }
    show({ ...v, seq: mine, at });
    buzz(v.kind);
    beep(v.kind);
    afterAnswer();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    wake();
    check(input.value);
  });

  // --- The camera, where the browser reads QR codes itself.
  const camera = { stream: null, timer: 0, detector: null, last: "", lastAt: 0 };

  const stopCamera = () => {
    clearTimeout(camera.timer);
    camera.timer = 0;
    if (camera.stream) for (const track of camera.stream.getTracks()) track.stop();
    camera.stream = null;
    if (video) video.srcObject = null;
    if (camBox) camBox.hidden = true;
    if (camButton) {
      camButton.textContent = "Scan with the camera";
      camButton.setAttribute("aria-pressed", "false");
    }
    root.classList.remove("camera-on");
  };

  const look = async () => {
    if (!camera.stream) return;
    try {
      if (video.readyState >= 2) {
        const codes = await camera.detector.detect(video);
        const value = codes.find((c) => c.rawValue)?.rawValue;
        const now = performance.now();
        if (value && !(value === camera.last && now - camera.lastAt < CAMERA_REPEAT_MS)) {
          camera.last = value;
          camera.lastAt = now;
          check(value);
        } else if (value) {
          camera.lastAt = now; // still in view: keep ignoring it
        }
      }
    } catch { /* a frame that could not be read; try the next */ }
    if (camera.stream) camera.timer = setTimeout(look, CAMERA_EVERY_MS);
  };

  const startCamera = async () => {
    try {
      camera.detector ||= new window.BarcodeDetector({ formats: ["qr_code"] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      camera.stream = stream;
      video.srcObject = stream;
      camBox.hidden = false;
      root.classList.add("camera-on");
      camButton.textContent = "Stop the camera";
      camButton.setAttribute("aria-pressed", "true");
      await video.play().catch(() => {});
      look();
    } catch (err) {
      stopCamera();
      const denied = err?.name === "NotAllowedError" || err?.name === "SecurityError";
      notice(denied ? "Camera not allowed" : "Camera not available",
        denied ? "The browser may not use the camera: type the ticket code instead, or allow the camera in the browser's settings."
          : "The camera could not be started: type the ticket code instead.");
      input.focus();
    }
  };

  if (camButton && camBox && video && "BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia) {
    Promise.resolve()
      .then(() => window.BarcodeDetector.getSupportedFormats())
      .then((formats) => {
        if (!Array.isArray(formats) || !formats.includes("qr_code")) return;
        camButton.hidden = false;
        camButton.setAttribute("aria-pressed", "false");
        camButton.addEventListener("click", () => {
          wake();
          if (camera.stream) { stopCamera(); input.focus(); } else startCamera();
        });
      })
      .catch(() => {});
    addEventListener("pagehide", stopCamera);
    document.addEventListener("visibilitychange", () => { if (document.hidden) stopCamera(); });
  }

  // A keyboard-like scanner types into whatever has focus: start there.
  if (!document.activeElement || document.activeElement === document.body) input.focus({ preventScroll: true });
}

function defaultTitle(verdict) {
  return {
    admitted: "Admitted",
    already_checked_in: "Already checked in",
    wrong_event: "Not valid for this event",
    invalid: "Not a valid ticket",
    not_admissible: "Not admissible",
  }[verdict] || "Not admitted";
}

if (typeof document !== "undefined") {
  const el = document.querySelector("[data-scanner]");
  if (el) mount(el);
}
