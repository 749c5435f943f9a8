// Seat-map picker for seated events: an SVG map with live availability, selection, keyboard
// navigation, zoom and pan, and holding seats. No dependencies, no build step, strict-CSP safe
// (no inline styles from HTML, no innerHTML: user data only ever goes in via textContent).
//
// Hooks (see the server-rendered #seatmap section): data-event-url, data-venue-url,
// data-stream-url, data-hold-url, data-booking-page, data-login-url (logged out only), data-max,
// data-queue-pass (the buyer's waiting room admission pass, when the event has a room),
// and <meta name="csrf-token">.
//
// Preview (the event editor's): `data-readonly data-preview` without a stream URL draws every
// seat of a category as available, in the category's colour.
// Read-only "status" mode (the organizer's live dashboard): `data-readonly` on the section, with
// data-event-url, data-venue-url and data-stream-url only. Seats show available / held / sold /
// not on sale live (role="img" with the status in the name), with zoom, pan and keyboard
// browsing, but nothing can be selected or held. `boxoffice:availability` is emitted as usual.
//
// Section geometry (localSection): rows, x, y, rotation, curve, and numbering ("left_to_right" |
// "right_to_left": which end of each row seat 1 is drawn at, before rotation), seat_spacing and
// row_spacing (percent of the usual pitch, 50..400, default 100).
//
// World coordinates are in seat pitches (distance between neighbouring seats in a row); rows are
// ROW_PITCH apart; y grows downward, the stage is at the top.

import { formatPrice, h, svg } from "./dom.js";

export { formatPrice };
const ROW_PITCH = 1.2;
const SECTION_GAP = 3; // between auto-laid-out sections, in seat pitches
const LARGE_VENUE = 3000; // above this many seats, zoomed-out views show sections, not seats
const SEAT_ZOOM = 7; // px per seat pitch from which a large venue draws its seats
const MIN_SEAT_PX = 4; // px per seat pitch below which the keyboard's seat is zoomed to
const MAX_ZOOM = 60; // px per seat pitch
const PALETTE = 8; // category colours c0..c7 live in seatmap.css, assigned by category index
const DRAG_PX = 5; // a pointer that moved less than this is a click, not a drag
const SPACING_MIN = 50, SPACING_MAX = 400; // seat_spacing and row_spacing, in percent

// ---------------------------------------------------------------------------------------------
// Pure functions (no DOM), exported for the organizer's editor and for unit tests.

/** Seat ids "<section>/<row>/<number>" in venue order, derived from the sections. */
export function seatIds(venue) {
  const ids = [];
  for (const sec of venue.sections || [])
    for (const row of sec.rows || [])
      for (let n = 1; n <= (row.seats | 0); n++) ids.push(`${sec.name}/${row.label}/${n}`);
  return ids;
}

/** A spacing percentage (`seat_spacing`, `row_spacing`) as a factor: absent is 1 (100 %). */
function spacing(v) {
  const n = v == null || v === "" ? NaN : +v;
  return Number.isFinite(n) ? Math.min(SPACING_MAX, Math.max(SPACING_MIN, n)) / 100 : 1;
}

/**
 * Positions of a section's seats relative to its centre, after numbering, spacing, curve and
 * rotation. Returns { rows: [{label, count}], pts: [[x, y]] (venue order: row by row, seat 1
 * first), box (of pts), scale (how much smaller than usual a seat must be drawn so that the
 * seats do not overlap: 1 at the default spacings), rtl, pitch (between seats of a row),
 * rowPitch (between rows) }. Exported for the venue editor.
 */
export function localSection(sec) {
  const rows = (sec.rows || []).map((r) => ({ label: String(r.label), count: Math.max(0, r.seats | 0) }));
  let widest = 0;
  rows.forEach((r, i) => { if (r.count > rows[widest].count) widest = i; });
  const W = rows.length ? rows[widest].count : 0;
  const curve = (Math.min(180, Math.max(0, +sec.curve || 0)) * Math.PI) / 180;
  // Distance between neighbouring seats of a row and between rows (both 1 and ROW_PITCH unless
  // the section says otherwise: x * 1 is x exactly, so the default geometry is unchanged).
  const sp = spacing(sec.seat_spacing), rp = ROW_PITCH * spacing(sec.row_spacing);
  const rtl = sec.numbering === "right_to_left";
  const pts = [];
  if (curve > 0.01 && W > 1) {
    // Concentric arcs around a centre toward the stage (negative y). The widest row spans
    // `curve` radians with seats `sp` apart along the arc; each row further back has a radius
    // `rp` larger.
    const r0 = Math.max(rp, ((W - 1) * sp) / curve - widest * rp);
    rows.forEach((row, ri) => {
      const rad = r0 + ri * rp;
      for (let k = 0; k < row.count; k++) {
        const t = ((k - (row.count - 1) / 2) * sp) / rad;
        pts.push([rad * Math.sin(t), rad * Math.cos(t)]);
      }
    });
  } else {
    rows.forEach((row, ri) => {
      for (let k = 0; k < row.count; k++) pts.push([(k - (row.count - 1) / 2) * sp, ri * rp]);
    });
  }
  // Right to left: every row is symmetric about x = 0, so mirroring keeps the same points (and
  // box) and only reverses which end seat 1 is at.
  if (rtl) for (const p of pts) p[0] = -p[0];
  // Centre on the bounding box, then rotate clockwise (y points down, so the usual matrix
  // turns clockwise on screen).
  const b = bbox(pts);
  const cx = (b.minX + b.maxX) / 2, cy = (b.minY + b.maxY) / 2;
  const a = ((+sec.rotation || 0) * Math.PI) / 180, cos = Math.cos(a), sin = Math.sin(a);
  for (const p of pts) {
    const x = p[0] - cx, y = p[1] - cy;
    p[0] = x * cos - y * sin;
    p[1] = x * sin + y * cos;
  }
  return { rows, pts, box: bbox(pts), scale: Math.min(1, sp, rp / ROW_PITCH), rtl, pitch: sp, rowPitch: rp };
}

function bbox(pts) {
  const b = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  for (const [x, y] of pts) {
    if (x < b.minX) b.minX = x;
    if (x > b.maxX) b.maxX = x;
    if (y < b.minY) b.minY = y;
    if (y > b.maxY) b.maxY = y;
  }
  if (!pts.length) Object.assign(b, { minX: 0, minY: 0, maxX: 0, maxY: 0 });
  return b;
}

/** Whether a section has an explicit position (numeric x and y). */
export function isPlaced(sec) {
  return typeof sec.x === "number" && typeof sec.y === "number" && isFinite(sec.x) && isFinite(sec.y);
}

/**
 * Where each section's centre goes, given the sections and the boxes of their local geometry
 * (`localSection(sec).box`). Sections with numeric x and y are centred there; the others flow
 * left to right in centred, wrapping lines below them. Returns [[x, y]] in section order.
 * Exported for the venue editor, which keeps the local geometry of unchanged sections.
 */
export function placeSections(secs, boxes) {
  const centres = secs.map((s) => (isPlaced(s) ? [s.x, s.y] : null));
  // Bounds of the explicitly placed sections, so that the automatic ones go below them.
  let top = 0, midX = 0;
  const placed = secs.map((s, i) => i).filter((i) => centres[i]);
  if (placed.length) {
    const b = bbox(placed.flatMap((i) => {
      const l = boxes[i], [cx, cy] = centres[i];
      return [[cx + l.minX, cy + l.minY], [cx + l.maxX, cy + l.maxY]];
    }));
    top = b.maxY + SECTION_GAP * 2;
    midX = (b.minX + b.maxX) / 2;
  }
  const auto = secs.map((s, i) => i).filter((i) => !centres[i]);
  const size = (i) => [boxes[i].maxX - boxes[i].minX + 1, boxes[i].maxY - boxes[i].minY + 1];
  const area = auto.reduce((a, i) => a + (size(i)[0] + SECTION_GAP) * (size(i)[1] + SECTION_GAP), 0);
  const lineMax = Math.max(...auto.map((i) => size(i)[0]), Math.sqrt(area * 2.5));
  for (let n = 0; n < auto.length; ) {
    // Greedily fill one line, then centre it on midX.
    const line = [auto[n++]];
    let width = size(line[0])[0];
    while (n < auto.length && width + SECTION_GAP + size(auto[n])[0] <= lineMax) {
      width += SECTION_GAP + size(auto[n])[0];
      line.push(auto[n++]);
    }
    const height = Math.max(...line.map((i) => size(i)[1]));
    let x = midX - width / 2;
    for (const i of line) {
      const [w] = size(i), l = boxes[i];
      centres[i] = [x + w / 2 - (l.minX + l.maxX) / 2, top + height / 2 - (l.minY + l.maxY) / 2];
      x += w + SECTION_GAP;
    }
    top += height + SECTION_GAP;
  }
  return centres;
}

/** The stage (a bar above everything, sized with the venue) and the drawing's box, given the
 *  bounding box of all seats. */
export function venueFrame(all) {
  const sh = Math.max(2, (all.maxX - all.minX) * 0.03);
  const stage = { x: (all.minX + all.maxX) / 2, y: all.minY - 2 - sh, w: Math.max(8, (all.maxX - all.minX) * 0.5), h: sh };
  const box = { minX: all.minX - 1, maxX: all.maxX + 1, minY: stage.y - sh / 2 - 1, maxY: all.maxY + 1 };
  return { stage, box };
}

/**
 * The whole venue's geometry (see placeSections for where sections go). Returns
 * { seats: [{x, y, section, row, number, sectionIndex, rowIndex}] (seat index order),
 *   rows: [{sectionIndex, index, label, start, count}] (rowIndex = position in this array),
 *   sections: [{name, rows: [rowIndex], start, count, box, centre: [x, y], scale, rtl}],
 *   stage: {x, y, w, h}, box }.
 */
export function layoutVenue(venue) {
  const secs = venue.sections || [];
  const locals = secs.map(localSection);
  const centres = placeSections(secs, locals.map((l) => l.box));
  const seats = [], rows = [], sections = [];
  secs.forEach((sec, si) => {
    const { rows: lrows, pts, scale, rtl } = locals[si];
    const [cx, cy] = centres[si];
    const section = { name: String(sec.name), rows: [], start: seats.length, count: pts.length, centre: [cx, cy], scale, rtl };
    let p = 0;
    lrows.forEach((row, ri) => {
      const rowIndex = rows.length;
      rows.push({ sectionIndex: si, index: ri, label: row.label, start: seats.length, count: row.count });
      section.rows.push(rowIndex);
      for (let k = 0; k < row.count; k++, p++)
        seats.push({ x: cx + pts[p][0], y: cy + pts[p][1], section: section.name, row: row.label, number: k + 1, sectionIndex: si, rowIndex });
    });
    section.box = bbox(seats.slice(section.start).map((s) => [s.x, s.y]));
    sections.push(section);
  });
  const { stage, box } = venueFrame(bbox(seats.map((s) => [s.x, s.y])));
  return { seats, rows, sections, stage, box };
}

/** For each seat index: {x, y, section, row, number} (plus sectionIndex, rowIndex). */
export function seatPositions(venue) {
  return layoutVenue(venue).seats;
}

/**
 * No-orphan-seats rule for one row. `rowStatuses`: a string or array with one status per seat in
 * row order ("a" available; anything else is taken or not on sale). `selectedIndices`: positions
 * in the row that the buyer selected. Returns the positions of the orphans the selection would
 * create: available, unselected seats whose both neighbours are taken/selected or the row's end,
 * and that were not already isolated before. An orphan is tolerated when unavoidable: if picking
 * k seats from a run of free seats of length L leaves exactly one seat (L - k == 1), every choice
 * of k seats in that run leaves a single seat, so that run is not checked.
 */
export function orphanSeats(rowStatuses, selectedIndices) {
  const row = Array.from(rowStatuses);
  const sel = new Set(selectedIndices);
  const freeBefore = (i) => i >= 0 && i < row.length && row[i] === "a";
  const freeAfter = (i) => freeBefore(i) && !sel.has(i);
  const isolated = (free, i) => free(i) && !free(i - 1) && !free(i + 1);
  const out = [];
  for (let i = 0; i < row.length; ) {
    if (row[i] !== "a") { i++; continue; }
    let j = i, picked = 0;
    for (; j < row.length && row[j] === "a"; j++) if (sel.has(j)) picked++;
    if (picked > 0 && j - i - picked !== 1)
      for (let k = i; k < j; k++) if (isolated(freeAfter, k) && !isolated(freeBefore, k)) out.push(k);
    i = j;
  }
  return out;
}

/** Convex hull (Andrew's monotone chain) of [x, y] points, counter-clockwise. */
export function convexHull(points) {
  const p = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list) => {
    const h = [];
    for (const q of list) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop();
      h.push(q);
    }
    h.pop();
    return h;
  };
  return half(p).concat(half(p.slice().reverse()));
}

/** Maps section name → index of the seated category that sells it. */
export function sectionCategories(event) {
  const map = new Map();
  (event.categories || []).forEach((c, i) => {
    if (c.kind === "seated") for (const s of c.sections || []) if (!map.has(s)) map.set(s, i);
  });
  return map;
}

// ---------------------------------------------------------------------------------------------
// DOM helpers. Strings passed as children become text nodes, never markup.


function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const seatName = (s) => `${s.section} ${s.row} ${s.number}`;
const seatLong = (s) => `Section ${s.section}, row ${s.row}, seat ${s.number}`;
const plural = (n, one, many) => (n === 1 ? one : many);
const listWords = (xs) => (xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);

// ---------------------------------------------------------------------------------------------
// The picker.

/** Builds the picker inside `root` (the #seatmap section) and starts loading. */
export function mount(root) {
  if (root.dataset.mounted) return;
  root.dataset.mounted = "1";
  const d = root.dataset;
  const readonly = "readonly" in d; // the organizer's status map: no selection, no holding
  const uid = root.id || "seatmap";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // ---- Static UI ----
  const btn = (label, text, cls = "") => h("button", { type: "button", class: `sm-btn ${cls}`, "aria-label": label }, text);
  const zoomIn = btn("Zoom in", "+"), zoomOut = btn("Zoom out", "\u2212"), zoomFit = btn("Fit the whole venue", "Fit");
  const jumpSec = h("select", { id: `${uid}-jump-section` });
  const jumpRow = h("select", { id: `${uid}-jump-row` });
  const jumpForm = h("form", { class: "sm-jump" },
    h("span", { class: "sm-field" }, h("label", { for: jumpSec.id }, "Section"), jumpSec),
    h("span", { class: "sm-field" }, h("label", { for: jumpRow.id }, "Row"), jumpRow),
    h("button", { type: "submit", class: "sm-btn" }, "Jump to row"));
  const toolbar = h("div", { class: "sm-toolbar" },
    h("div", { class: "sm-zoom", role: "group", "aria-label": "Zoom" }, zoomIn, zoomOut, zoomFit), jumpForm);
  const alertBox = h("div", { class: "sm-alert", "aria-live": "assertive", "aria-atomic": "true" });
  const statusBox = h("p", { class: "sm-status", role: "status", "aria-live": "polite" }, "Loading the seat map\u2026");
  const map = svg("svg", { class: "sm-map", role: "group", "aria-describedby": `${uid}-hint` });
  const view = svg("g", { class: "sm-view" });
  const stageLayer = svg("g", { class: "sm-stage", "aria-hidden": "true" });
  const secLayer = svg("g", { class: "sm-sections" });
  const seatLayer = svg("g", { class: "sm-seats" });
  const markLayer = svg("g", { class: "sm-marks", "aria-hidden": "true" });
  const ring = svg("g", { class: "sm-focus", "aria-hidden": "true", display: "none" },
    svg("circle", { class: "sm-focus-halo", r: "1", "vector-effect": "non-scaling-stroke" }),
    svg("circle", { class: "sm-focus-ring", r: "1", "vector-effect": "non-scaling-stroke" }));
  view.append(stageLayer, secLayer, seatLayer, markLayer, ring);
  map.append(view);
  const hint = h("p", { class: "sm-hint", id: `${uid}-hint` },
    (readonly
      ? "Tab to the map and move between seats with the arrow keys: each seat says its status. "
      : "Tab to the map, move between seats with the arrow keys and press Enter or Space to pick a seat. ") +
    "Drag to move the map; scroll, pinch or use + and \u2212 to zoom.");
  const legend = h("ul", { class: "sm-legend" });
  const states = h("ul", { class: "sm-states" });
  const chosen = h("ul", { class: "sm-chosen" });
  const chosenHeading = h("h3", { tabindex: "-1" }, "Your selection"); // focus target after removals
  const total = h("p", { class: "sm-total" });
  const holdBtn = h("button", { type: "button", class: "sm-btn sm-primary", disabled: true }, "Hold seats");
  const holdArea = h("div", { class: "sm-hold" });
  const bestCat = h("select", { id: `${uid}-best-cat` });
  const bestQty = h("input", { id: `${uid}-best-qty`, type: "number", min: "1", value: "2", inputmode: "numeric" });
  const bestBtn = h("button", { type: "submit", class: "sm-btn" }, "Find best seats");
  const bestForm = h("form", { class: "sm-best" },
    h("span", { class: "sm-field" }, h("label", { for: bestCat.id }, "Category"), bestCat),
    h("span", { class: "sm-field" }, h("label", { for: bestQty.id }, "Seats"), bestQty), bestBtn);
  const side = readonly
    ? h("div", { class: "sm-side" }, h("h3", {}, "Categories"), legend, states)
    : h("div", { class: "sm-side" },
      h("h3", {}, "Prices"), legend, states,
      chosenHeading, chosen, total, holdArea,
      d.loginUrl ? null : h("h3", {}, "Or let us pick"), d.loginUrl ? null : bestForm);
  const mapWrap = h("div", { class: "sm-mapwrap" }, map, hint);
  const ui = h("div", { class: "sm-ui" }, toolbar, alertBox, statusBox, h("div", { class: "sm-body" }, mapWrap, side));
  root.querySelector(".seatmap-fallback")?.setAttribute("hidden", "");
  root.append(ui);
  if (readonly) root.classList.add("sm-readonly");

  if (d.loginUrl) holdArea.append(h("a", { class: "sm-btn sm-primary", href: d.loginUrl }, "Log in to book"));
  else holdArea.append(holdBtn);

  const say = (text) => { statusBox.textContent = text; };
  const shout = (...parts) => {
    alertBox.replaceChildren(...parts);
    // On a phone the Hold button is far below the message: bring the message into view.
    const box = alertBox.getBoundingClientRect();
    if (parts.length && (box.top < 0 || box.bottom > innerHeight)) alertBox.scrollIntoView({ block: "center" });
  };

  // ---- State ----
  let event, L, ids, idIndex, cats = [], catOf, status, els, secGroups = [], secAvail, secTexts = [];
  let max = 10, large = false, version = -1, rove = 0, es = null, busy = false, offSale = false;
  const keys = new Map(); // request body → Idempotency-Key: a retry of the same request reuses it
  const selected = new Set();
  const catState = new Map(); // category id → {available, ...} from the stream

  // ---- Loading ----
  Promise.all([d.eventUrl, d.venueUrl].map((url) =>
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.json();
    })))
    .then(([ev, venue]) => { build(ev, venue); connect(); })
    .catch((err) => {
      console.error("seatmap:", err);
      root.querySelector(".seatmap-fallback")?.removeAttribute("hidden");
      ui.replaceChildren(alertBox);
      shout(`The seat map could not be loaded (${err.message}). Reload the page to try again.`);
    });

  function build(ev, venue) {
    const t0 = performance.now();
    event = ev;
    L = layoutVenue(venue);
    ids = seatIds(venue);
    if (Array.isArray(venue.seats) && venue.seats.length === ids.length) ids = venue.seats.map(String);
    else if (Array.isArray(venue.seats)) console.warn("seatmap: venue.seats does not match the sections; using the sections");
    idIndex = new Map(ids.map((id, i) => [id, i]));
    max = parseInt(d.max, 10) || ev.max_tickets_per_booking || 10;
    bestQty.max = String(max);
    large = ids.length > LARGE_VENUE;
    cats = ev.categories || [];
    const bySection = sectionCategories(ev);
    catOf = Int16Array.from(L.sections.flatMap((s) => Array(s.count).fill(bySection.get(s.name) ?? -1)));
    status = new Array(ids.length).fill("?"); // "?" until the first snapshot
    secAvail = new Int32Array(L.sections.length);
    map.setAttribute("aria-label", `Seat map of ${venue.name || "the venue"}`);
    if (large) root.classList.add("sm-large");
    // The map's height follows the venue's shape (CSS clamps it); JS-set styles are CSP-safe.
    map.style.aspectRatio = `${(L.box.maxX - L.box.minX + 2).toFixed(1)} / ${(L.box.maxY - L.box.minY + 2).toFixed(1)}`;

    // Stage.
    const st = L.stage;
    stageLayer.append(
      svg("rect", { x: st.x - st.w / 2, y: st.y - st.h / 2, width: st.w, height: st.h, rx: st.h / 5 }),
      svg("text", { x: st.x, y: st.y, "dominant-baseline": "central", "text-anchor": "middle", "font-size": st.h * 0.6 }, "Stage"));

    // Sections: a padded hull, a name above it, and (large venues, zoomed out) a focusable
    // button with the name and "N available" in the middle.
    L.sections.forEach((sec, si) => {
      const pad = 0.9, pts = [];
      for (let i = sec.start; i < sec.start + sec.count; i++) {
        const { x, y } = L.seats[i];
        pts.push([x - pad, y - pad], [x + pad, y - pad], [x - pad, y + pad], [x + pad, y + pad]);
      }
      const b = sec.box, cx = (b.minX + b.maxX) / 2, cy = (b.minY + b.maxY) / 2;
      const fs = Math.min(1.6, Math.max(1, (b.maxX - b.minX) / 12));
      const avail = svg("text", { class: "sm-ov-avail", x: cx, y: cy, dy: "1.1em", "text-anchor": "middle" });
      const cat = sec.count ? catOf[sec.start] : -1; // tints the overview shape
      const g = svg("g", { class: `sm-sec${cat >= 0 ? ` c${cat % PALETTE}` : ""}`, "data-section": si, "aria-hidden": "true" },
        svg("polygon", { class: "sm-hull", points: convexHull(pts).map((p) => p.map((v) => v.toFixed(2)).join(",")).join(" ") }),
        svg("text", { class: "sm-label", x: cx, y: b.minY - pad - 0.4, "text-anchor": "middle", "font-size": fs }, sec.name),
        svg("text", { class: "sm-ov-name", x: cx, y: cy, "text-anchor": "middle" }, sec.name), avail);
      // Caps the overview label size so that "N available" (~7em) fits the section's width.
      g.style.setProperty("--fw", `${((b.maxX - b.minX + 2 * pad) / 7).toFixed(2)}px`);
      secTexts.push(avail);
      secLayer.append(g);
    });
    secGroups = [...secLayer.children];

    // Seats: one <circle> each, built once; state changes only touch changed seats.
    els = new Array(ids.length);
    L.sections.forEach((sec) => {
      const g = svg("g");
      for (let i = sec.start; i < sec.start + sec.count; i++) {
        const p = L.seats[i];
        const el = svg("circle", {
          cx: p.x.toFixed(2), cy: p.y.toFixed(2), tabindex: "-1", "data-seat": ids[i],
          role: readonly ? "img" : "checkbox", "aria-checked": readonly ? null : "false",
        });
        els[i] = el;
        paint(i);
        g.append(el);
      }
      seatLayer.append(g);
    });
    els[0]?.setAttribute("tabindex", "0");

    // Legend: categories with a swatch, price and what is left; then the seat states.
    cats.forEach((c, ci) => {
      if (c.kind !== "seated") return;
      legend.append(h("li", {},
        h("span", { class: `sm-swatch c${ci % PALETTE}`, "aria-hidden": "true" }),
        h("span", { class: "sm-cat" }, c.name), " ",
        h("span", { class: "sm-price" }, formatPrice(c.price_cents, c.currency)), " ",
        h("span", { class: "sm-left", "data-category": c.id })));
    });
    const sample = (cls, r, label, ...extra) => h("li", {},
      svg("svg", { viewBox: "-1 -1 2 2", class: "sm-sample", "aria-hidden": "true" }, svg("circle", { class: `sm-seat ${cls}`, r }), ...extra),
      h("span", {}, label));
    if (readonly) states.append(
      sample("c0 st-a", 0.8, "Available"),
      sample("st-h", 0.66, "Held"),
      sample("st-s", 0.55, "Sold"),
      sample("st-x", 0.55, "Not on sale"));
    else states.append(
      sample("c0 st-a", 0.8, "Available"),
      sample("c0 st-sel", 0.8, "Selected", svg("path", { class: "sm-check", d: "M-0.4 0 l0.28 0.3 l0.52 -0.58" })),
      sample("st-u", 0.45, "Held or sold (unavailable)"),
      sample("st-x", 0.55, "Not on sale"));

    // Jump-to selects.
    L.sections.forEach((sec, si) => jumpSec.append(h("option", { value: si }, sec.name)));
    fillRows();

    renderSelection();
    wire();
    resize();
    fit();
    say("Loading live availability\u2026");
    console.info(`seatmap: ${ids.length} seats built in ${Math.round(performance.now() - t0)} ms`);
  }

  function fillRows() {
    const sec = L.sections[+jumpSec.value || 0];
    jumpRow.replaceChildren(...(sec ? sec.rows : []).map((ri) => h("option", { value: ri }, L.rows[ri].label)));
  }

  // ---- Seat state → DOM ----

  /** What a seat shows: "sel", "a" (available), "u" (held, sold, loading) or "x" (not on sale);
   *  read-only, held and sold are told apart: "h" and "s" ("u" is then only "loading"). */
  function stateOf(i) {
    if (selected.has(i)) return "sel";
    const s = status[i];
    if (catOf[i] < 0 || s === "x") return "x";
    if (readonly && (s === "h" || s === "s")) return s;
    return s === "a" ? "a" : "u";
  }

  const WORDS = { sel: "selected", a: "available", u: "unavailable", x: "not on sale", h: "held", s: "sold" };
  const RADIUS = { sel: "0.42", a: "0.42", u: "0.2", x: "0.26", h: "0.34", s: "0.3" };

  function paint(i) {
    const el = els[i], st = stateOf(i), c = catOf[i];
    const cat = cats[c];
    // Sections with closer than usual spacing draw smaller seats (scale is 1 by default).
    const scale = L.sections[L.seats[i].sectionIndex].scale ?? 1;
    el.setAttribute("class", `sm-seat st-${st}${c >= 0 ? ` c${c % PALETTE}` : ""}`);
    el.setAttribute("r", scale === 1 ? RADIUS[st] : (RADIUS[st] * scale).toFixed(3));
    if (!readonly) {
      el.setAttribute("aria-checked", st === "sel" ? "true" : "false");
      if (st === "a" || st === "sel") el.removeAttribute("aria-disabled");
      else el.setAttribute("aria-disabled", "true");
    }
    const word = status[i] === "?" && st !== "x" ? "availability loading" : WORDS[st];
    const price = cat ? `, ${formatPrice(cat.price_cents, cat.currency)}` : "";
    el.setAttribute("aria-label", `${seatLong(L.seats[i])}${price}, ${word}`);
  }

  function setStatus(i, ch) {
    const old = status[i];
    if (old === ch || i < 0 || i >= status.length) return;
    const si = L.seats[i].sectionIndex;
    if (old === "a") secAvail[si]--;
    if (ch === "a") secAvail[si]++;
    status[i] = ch;
    paint(i);
  }

  // ---- Live availability ----

  function connect() {
    if (!d.streamUrl) {
      // A preview (the event editor's, of a draft: nothing on sale yet): every seat of a
      // category drawn as it will be offered, in its category's colour.
      if ("preview" in d) {
        for (let i = 0; i < status.length; i++) setStatus(i, catOf[i] >= 0 ? "a" : "x");
        afterUpdate([]);
        say("");
      }
      return;
    }
    es?.close();
    es = new EventSource(d.streamUrl);
    es.addEventListener("snapshot", (e) => {
      const data = parse(e.data);
      if (!data) return;
      const s = String(data.seats || "");
      const first = version < 0;
      for (let i = 0; i < status.length; i++) setStatus(i, s[i] || "x");
      version = data.version ?? 0;
      afterUpdate(data.categories);
      say("");
      // The map is drawn and shows what is left: interactive (the benchmarks read this mark).
      if (first) performance.mark("seatmap:ready");
      if (first && !readonly && stateOf(rove) !== "a") {
        // Start the keyboard on the first available seat rather than on, say, a sold one.
        const i = status.findIndex((_, j) => stateOf(j) === "a");
        if (i >= 0) setRove(i, false);
      }
    });
    es.addEventListener("changes", (e) => {
      const data = parse(e.data);
      if (!data || (data.version != null && data.version <= version)) return; // stale
      for (const [i, ch] of data.seats || []) setStatus(i | 0, String(ch));
      version = data.version ?? version;
      afterUpdate(data.categories);
    });
    // The event went off sale (cancelled): nothing can be held any more.
    es.addEventListener("closed", () => {
      es.close();
      offSale = busy = true;
      if (readonly) return shout("This event is no longer on sale. It may have been cancelled.");
      renderSelection();
      syncBest();
      for (const form of document.querySelectorAll("form.hold-form")) form.hidden = true;
      shout("This event is no longer on sale: nothing can be held. It may have been cancelled.");
    });
    es.onerror = () => offSale || say(es.readyState === EventSource.CLOSED
      ? "Live availability has stopped. Reload the page to see which seats are free."
      : "Reconnecting to live availability\u2026");
  }

  function parse(text) {
    try { return JSON.parse(text); } catch { console.warn("seatmap: bad stream message"); return null; }
  }

  function afterUpdate(categories) {
    // The page's other live parts (the categories table) follow this stream instead of their own.
    document.dispatchEvent(new CustomEvent("boxoffice:availability", { detail: { categories: categories || [] } }));
    for (const c of categories || []) catState.set(c.id, c);
    for (const el of legend.querySelectorAll(".sm-left")) {
      const c = catState.get(el.dataset.category);
      if (c) el.textContent = c.available > 0 ? `${c.available} left` : "Sold out";
    }
    // The leading space (not drawn) separates it from the name in the button's text content.
    secTexts.forEach((t, si) => { t.textContent = ` ${secAvail[si]} available`; });
    if (inOverview) secGroups.forEach(labelSection);
    if (readonly) return;
    fillBest();
    if (!busy) dropLost();
  }

  /** Deselects seats that were taken meanwhile, and says so. */
  function dropLost() {
    const lost = [...selected].filter((i) => status[i] !== "a");
    if (!lost.length) return;
    for (const i of lost) { selected.delete(i); paint(i); }
    const names = lost.map((i) => seatName(L.seats[i]));
    shout(lost.length === 1
      ? `Seat ${names[0]} was just taken by someone else and has been removed from your selection.`
      : `Seats ${listWords(names)} were just taken by someone else and have been removed from your selection.`);
    renderSelection();
  }

  // ---- Selection ----

  function toggle(i) {
    const st = stateOf(i);
    if (readonly) return say(`${seatLong(L.seats[i])}: ${WORDS[st]}.`);
    if (st === "sel") selected.delete(i);
    else if (st !== "a") return say(`${seatLong(L.seats[i])} is ${WORDS[st]}.`);
    else if (selected.size >= max) return shout(`You can pick at most ${max} seats in one booking.`);
    else selected.add(i);
    shout(); // an older alert no longer applies
    paint(i);
    renderSelection();
  }

  function renderSelection() {
    if (readonly) return;
    const list = [...selected].sort((a, b) => a - b);
    chosen.replaceChildren(...list.map((i) => {
      const s = L.seats[i], c = cats[catOf[i]];
      const remove = h("button", { type: "button", class: "sm-btn sm-remove", "aria-label": `Remove seat ${seatName(s)}` }, "Remove");
      remove.addEventListener("click", () => { toggle(i); (chosen.querySelector("button") || chosenHeading).focus(); });
      return h("li", {}, h("span", {}, `${s.section}, row ${s.row}, seat ${s.number}`), " ",
        h("span", { class: "sm-price" }, formatPrice(c.price_cents, c.currency)), remove);
    }));
    if (!list.length) chosen.append(h("li", { class: "sm-empty" }, "No seats picked yet. Choose seats on the map."));
    const sums = new Map();
    for (const i of list) { const c = cats[catOf[i]]; sums.set(c.currency, (sums.get(c.currency) || 0) + c.price_cents); }
    total.textContent = list.length ? `Total: ${[...sums].map(([cur, v]) => formatPrice(v, cur)).join(" + ")}` : "";
    holdBtn.textContent = list.length ? `Hold ${list.length} ${plural(list.length, "seat", "seats")}` : "Hold seats";
    holdBtn.disabled = !list.length || busy;
    markLayer.replaceChildren(...list.map((i) => {
      const { x, y } = L.seats[i];
      return svg("path", { class: "sm-check", d: `M${(x - 0.2).toFixed(2)} ${y.toFixed(2)} l0.14 0.15 l0.26 -0.29` });
    }));
  }

  /** Rows touched by the selection where it would leave a newly isolated free seat. */
  function orphanProblems() {
    const byRow = new Map();
    for (const i of selected) byRow.set(L.seats[i].rowIndex, [...(byRow.get(L.seats[i].rowIndex) || []), i]);
    const out = [];
    for (const [ri, picks] of byRow) {
      const row = L.rows[ri];
      const orphans = orphanSeats(status.slice(row.start, row.start + row.count), picks.map((i) => i - row.start));
      if (orphans.length) out.push(...orphans.map((k) => L.seats[row.start + k]));
    }
    return out;
  }

  let bestSig = null; // which categories the best-available select lists now
  function fillBest() {
    const open = cats.map((c, ci) => [c, ci]).filter(([c]) => c.kind === "seated" && (catState.get(c.id)?.available ?? 0) > 0);
    const sig = open.map(([c]) => c.id).join();
    if (sig !== bestSig) {
      bestSig = sig;
      const keep = bestCat.value;
      bestCat.replaceChildren(...open.map(([c]) => h("option", { value: c.id }, `${c.name} \u00b7 ${formatPrice(c.price_cents, c.currency)}`)));
      if (open.some(([c]) => c.id === keep)) bestCat.value = keep;
      if (!open.length) bestCat.append(h("option", { value: "" }, "Nothing left"));
    }
    bestCat.disabled = !open.length;
    syncBest();
  }

  function syncBest() {
    const n = Math.max(1, Math.min(max, parseInt(bestQty.value, 10) || 1));
    bestBtn.textContent = `Find best ${n} ${plural(n, "seat", "seats")}`;
    bestBtn.disabled = busy || bestCat.disabled;
  }

  // ---- Holding ----

  async function hold() {
    if (busy || !selected.size) return;
    const orphans = orphanProblems();
    if (orphans.length) {
      const o = orphans[0];
      return shout(`This selection would leave seat ${o.number} in ${o.section}, row ${o.row} empty on its own. ` +
        "Please pick seats next to each other or leave at least two seats free together.");
    }
    await post({ event_id: event.id, seats: [...selected].sort((a, b) => a - b).map((i) => ids[i]) });
  }

  async function best() {
    const quantity = parseInt(bestQty.value, 10);
    const c = catState.get(bestCat.value);
    if (!bestCat.value || !(quantity >= 1 && quantity <= max))
      return shout(`Choose between 1 and ${max} seats.`);
    if (c && quantity > c.available) return shout(`Only ${c.available} ${plural(c.available, "seat is", "seats are")} left in that category.`);
    await post({ event_id: event.id, items: [{ category_id: bestCat.value, quantity }] });
  }

  async function post(payload) {
    const body = JSON.stringify(payload);
    if (!keys.has(body)) keys.set(body, uuid()); // one key per distinct selection, kept for retries
    const key = keys.get(body);
    busy = true;
    holdBtn.disabled = bestBtn.disabled = true;
    holdBtn.setAttribute("aria-busy", "true");
    say("Holding your seats\u2026");
    let res;
    try {
      res = await fetch(d.holdUrl, {
        method: "POST", credentials: "same-origin",
        headers: {
          "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": key,
          // The buyer's admission pass, for an event with a waiting room.
          ...(d.queuePass ? { "X-Queue-Pass": d.queuePass } : {}),
        },
        body,
      });
      if (res.ok) {
        const booking = await res.json();
        say("Seats held. Opening your booking\u2026");
        location.assign(d.bookingPage + encodeURIComponent(booking.id));
        return; // stay busy: the page is leaving
      }
    } catch (err) {
      console.error("seatmap:", err);
      if (!res) shout("We could not reach the server. Check your connection and try again.");
      else shout("Something went wrong while holding your seats. Please try again.");
      return finish();
    }
    let p = {};
    try { p = await res.json(); } catch { /* not a problem document */ }
    if (res.status === 401) {
      const next = `/login?next=${encodeURIComponent(location.pathname)}`;
      shout("Your session has expired. ", h("a", { href: next }, "Log in again"), " to book these seats.");
    } else if (p.code === "seat_unavailable") {
      // The detail names the seat ("seat Floor/A/2 is taken"); mark the requested seats it
      // mentions as taken until the fresh snapshot confirms it.
      const gone = [...selected].filter((i) => mentions(String(p.detail || ""), ids[i]));
      // setStatus repaints only a change of status: the stream may have said "held" already,
      // so the seat is repainted here for its selection's end.
      for (const i of gone) { selected.delete(i); setStatus(i, "h"); paint(i); }
      renderSelection();
      const names = gone.map((i) => seatName(L.seats[i]));
      shout(names.length
        ? (names.length === 1
          ? `Sorry, seat ${names[0]} is no longer available and was removed from your selection.`
          : `Sorry, seats ${listWords(names)} are no longer available and were removed from your selection.`) +
          " Please check your seats and try again."
        : `${p.detail || "Some of these seats are no longer available."} The map has been refreshed.`);
      connect(); // a new connection starts with a fresh snapshot
    } else {
      shout(p.detail || p.title || `Holding the seats failed (HTTP ${res.status}). Please try again.`);
    }
    finish();
  }

  /** Whether `text` contains seat id `id` (not merely a prefix: "A/1" is not in "A/13"). */
  function mentions(text, id) {
    for (let at = text.indexOf(id); at >= 0; at = text.indexOf(id, at + 1))
      if (!/[0-9]/.test(text[at + id.length] || "")) return true;
    return false;
  }

  function finish() {
    busy = offSale;
    holdBtn.removeAttribute("aria-busy");
    say("");
    renderSelection();
    syncBest();
    dropLost();
  }

  // ---- Zoom and pan: a translate+scale transform on one <g>; k = px per seat pitch ----

  let k = 1, tx = 0, ty = 0, W = 1, H = 1, fitK = 1, userMoved = false, raf = 0, inOverview = false;

  function resize() {
    const r = map.getBoundingClientRect();
    const cx = (W / 2 - tx) / k, cy = (H / 2 - ty) / k;
    W = Math.max(1, r.width);
    H = Math.max(1, r.height);
    const b = L.box;
    fitK = Math.min((W - 24) / (b.maxX - b.minX), (H - 24) / (b.maxY - b.minY)); // 12px margins
    if (!userMoved) fit();
    else { tx = W / 2 - cx * k; ty = H / 2 - cy * k; schedule(); }
  }

  function fit() {
    const b = L.box;
    k = fitK;
    tx = W / 2 - k * (b.minX + b.maxX) / 2;
    ty = H / 2 - k * (b.minY + b.maxY) / 2;
    apply();
    userMoved = false;
  }

  function clampView() {
    k = Math.min(Math.max(MAX_ZOOM, fitK * 2), Math.max(fitK * 0.5, k));
    // Keep the view's centre over the venue.
    const b = L.box;
    tx = Math.min(W / 2 - k * b.minX, Math.max(W / 2 - k * b.maxX, tx));
    ty = Math.min(H / 2 - k * b.minY, Math.max(H / 2 - k * b.maxY, ty));
  }

  function zoomAt(px, py, f) {
    const k2 = Math.min(Math.max(MAX_ZOOM, fitK * 2), Math.max(fitK * 0.5, k * f));
    tx = px - ((px - tx) * k2) / k;
    ty = py - ((py - ty) * k2) / k;
    k = k2;
    userMoved = true;
    schedule();
  }

  /** Shows a world box with `pad` pitches around it, at `minK` px per pitch at least. */
  function zoomToBox(b, pad, minK = 0, maxK = 30) {
    const w = b.maxX - b.minX + 2 * pad, hh = b.maxY - b.minY + 2 * pad;
    k = Math.min(maxK, Math.max(minK, Math.min(W / Math.max(w, 1), H / Math.max(hh, 1))));
    tx = W / 2 - k * (b.minX + b.maxX) / 2;
    ty = H / 2 - k * (b.minY + b.maxY) / 2;
    userMoved = true;
    apply();
  }

  function schedule() {
    if (!raf) raf = requestAnimationFrame(apply);
  }

  function apply() {
    cancelAnimationFrame(raf);
    raf = 0;
    clampView();
    view.setAttribute("transform", `translate(${tx.toFixed(1)} ${ty.toFixed(1)}) scale(${k.toFixed(4)})`);
    secLayer.style.setProperty("--k", k.toFixed(4)); // overview labels keep a constant pixel size
    const ov = large && k < SEAT_ZOOM;
    if (ov !== inOverview) setOverview(ov);
    if (large && !ov) cull();
    for (const c of ring.children) c.setAttribute("r", Math.max(0.7, 10 / k).toFixed(3));
  }

  /** Large venues: hide the seats of sections outside the view (never the keyboard's section). */
  function cull() {
    const m = 2, x0 = -tx / k - m, x1 = (W - tx) / k + m, y0 = -ty / k - m, y1 = (H - ty) / k + m;
    L.sections.forEach((s, si) => {
      const b = s.box;
      const show = (b.maxX >= x0 && b.minX <= x1 && b.maxY >= y0 && b.minY <= y1) || L.seats[rove]?.sectionIndex === si;
      const g = seatLayer.children[si];
      if ((g.getAttribute("display") !== "none") !== show) g.setAttribute("display", show ? "inline" : "none");
    });
  }

  /** Zoomed-out large venue: seats hidden, sections become buttons that zoom in. */
  function setOverview(on) {
    inOverview = on;
    // Zoomed in while a section had focus (e.g. by wheel): focus moves to a seat of it below.
    const had = !on && map.contains(document.activeElement) && document.activeElement.closest(".sm-sec");
    root.classList.toggle("sm-overview", on);
    secGroups.forEach((g, si) => {
      if (on) {
        g.setAttribute("role", "button");
        g.setAttribute("tabindex", si === (L.seats[rove]?.sectionIndex ?? 0) ? "0" : "-1");
        g.removeAttribute("aria-hidden");
        labelSection(g, si);
      } else {
        for (const a of ["role", "tabindex", "aria-label"]) g.removeAttribute(a);
        g.setAttribute("aria-hidden", "true");
      }
    });
    if (had) { setRove(firstAvailable(+had.dataset.section), false); els[rove].focus({ preventScroll: true }); }
  }

  function firstAvailable(si) {
    const s = L.sections[si];
    for (let j = s.start; j < s.start + s.count; j++) if (stateOf(j) === "a") return j;
    return s.start;
  }

  function labelSection(g, si) {
    // Contains the visible text ("S1" "736 available"), as WCAG 2.5.3 asks.
    g.setAttribute("aria-label", `Section ${L.sections[si].name}, ${secAvail[si]} available. Zoom in to ${readonly ? "see" : "pick"} seats`);
  }

  function openSection(si, focusSeat) {
    const s = L.sections[si];
    if (focusSeat) secGroups[si].blur(); // the seat takes focus below, not via setOverview
    zoomToBox(s.box, 2, SEAT_ZOOM * 1.5);
    if (s.count) setRove(firstAvailable(si), focusSeat);
  }

  // ---- Keyboard: roving tabindex over the seats ----

  function setRove(i, focus) {
    els[rove]?.setAttribute("tabindex", "-1");
    rove = i;
    els[i].setAttribute("tabindex", "0");
    if (focus) { reveal(i); els[i].focus(); }
  }

  /** Brings seat i on screen (zooming in from an overview) before it is focused. */
  function reveal(i) {
    const { x, y } = L.seats[i];
    const sx = tx + k * x, sy = ty + k * y, m = Math.min(24, W / 10);
    // A seat too small to see (a large venue's overview, or sections spread far apart) is zoomed
    // to before the keyboard lands on it.
    if (inOverview || k < (large ? SEAT_ZOOM : MIN_SEAT_PX)) { k = SEAT_ZOOM * 2; tx = W / 2 - k * x; ty = H / 2 - k * y; }
    else if (sx < m || sx > W - m || sy < m || sy > H - m) { tx = W / 2 - k * x; ty = H / 2 - k * y; }
    else return apply();
    userMoved = true;
    apply();
  }

  /** Nearest seat from seat i in screen direction (dx, dy), outside `exclude` (a section). */
  function nearestToward(i, dx, dy, excludeSection) {
    const p = L.seats[i];
    let bestI = -1, bestScore = Infinity;
    L.seats.forEach((q, j) => {
      if (q.sectionIndex === excludeSection) return;
      const along = (q.x - p.x) * dx + (q.y - p.y) * dy;
      if (along < 0.5) return;
      const across = Math.abs((q.x - p.x) * dy - (q.y - p.y) * dx);
      const score = along + 3 * across;
      if (score < bestScore) { bestScore = score; bestI = j; }
    });
    return bestI;
  }

  /** Left/Right: neighbouring seat number; Up/Down: closest seat of the previous/next row. */
  function neighbour(i, key) {
    const p = L.seats[i], row = L.rows[p.rowIndex], sec = L.sections[p.sectionIndex];
    const dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key];
    if (key === "Home") return row.start;
    if (key === "End") return row.start + row.count - 1;
    if (dir[0]) {
      // Right goes to the seat on the right: the next number, unless the numbers run leftward
      // (numbering right to left, or a section turned around).
      const last = row.start + row.count - 1;
      const flip = row.count > 1 && L.seats[last].x < L.seats[row.start].x - 1e-6 ? -1 : 1;
      const j = i + dir[0] * flip;
      if (j >= row.start && j < row.start + row.count) return j;
    } else {
      const ri = row.index + dir[1];
      if (ri >= 0 && ri < sec.rows.length) {
        const r = L.rows[sec.rows[ri]];
        let bestJ = -1, bd = Infinity;
        for (let j = r.start; j < r.start + r.count; j++) {
          const dd = (L.seats[j].x - p.x) ** 2 + (L.seats[j].y - p.y) ** 2;
          if (dd < bd) { bd = dd; bestJ = j; }
        }
        if (bestJ >= 0) return bestJ;
      }
    }
    // Past the edge of the section: the nearest seat of another section in that direction.
    const j = nearestToward(i, dir[0], dir[1], p.sectionIndex);
    return j >= 0 ? j : i;
  }

  // ---- Events ----

  function wire() {
    new ResizeObserver(() => resize()).observe(map);
    zoomIn.addEventListener("click", () => zoomAt(W / 2, H / 2, 1.5));
    zoomOut.addEventListener("click", () => zoomAt(W / 2, H / 2, 1 / 1.5));
    zoomFit.addEventListener("click", fit);
    jumpSec.addEventListener("change", fillRows);
    jumpForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const r = L.rows[+jumpRow.value];
      if (!r || !r.count) return;
      const b = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
      for (let j = r.start; j < r.start + r.count; j++) {
        const s = L.seats[j];
        b.minX = Math.min(b.minX, s.x); b.maxX = Math.max(b.maxX, s.x);
        b.minY = Math.min(b.minY, s.y); b.maxY = Math.max(b.maxY, s.y);
      }
      zoomToBox(b, 3, large ? SEAT_ZOOM * 1.5 : fitK, 40);
      setRove(r.start, true);
    });
    holdBtn.addEventListener("click", hold);
    // Back from the booking page via the back/forward cache: the hold is no longer in flight.
    addEventListener("pageshow", (e) => { if (e.persisted && busy) finish(); });
    bestForm.addEventListener("submit", (e) => { e.preventDefault(); best(); });
    bestQty.addEventListener("input", syncBest);

    map.addEventListener("keydown", (e) => {
      const sec = e.target.closest?.(".sm-sec[role=button]");
      if (sec) {
        const si = +sec.dataset.section, n = secGroups.length;
        const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
        if (e.key === "Enter" || e.key === " ") openSection(si, true);
        else if (step) {
          const g = secGroups[(si + step + n) % n];
          sec.setAttribute("tabindex", "-1");
          g.setAttribute("tabindex", "0");
          g.focus();
        } else return;
        return e.preventDefault();
      }
      const id = e.target.getAttribute?.("data-seat");
      if (id == null) return;
      const i = idIndex.get(id);
      if (e.key === "Enter" || e.key === " ") toggle(i);
      else if (/^Arrow|^Home$|^End$/.test(e.key)) setRove(neighbour(i, e.key), true);
      else if (e.key === "+" || e.key === "=") zoomAt(tx + k * L.seats[i].x, ty + k * L.seats[i].y, 1.5);
      else if (e.key === "-") zoomAt(tx + k * L.seats[i].x, ty + k * L.seats[i].y, 1 / 1.5);
      else return;
      e.preventDefault();
    });
    // Focus listeners go on the wrapper: Chromium makes an <svg> with focus listeners a tab stop.
    mapWrap.addEventListener("focusin", (e) => {
      const id = e.target.getAttribute?.("data-seat");
      if (id == null) return;
      const i = idIndex.get(id);
      if (i !== rove) setRove(i, false);
      ring.setAttribute("transform", `translate(${L.seats[i].x.toFixed(2)} ${L.seats[i].y.toFixed(2)})`);
      ring.removeAttribute("display");
    });
    mapWrap.addEventListener("focusout", () => ring.setAttribute("display", "none"));

    // Pointers: one drags (pans), two pinch-zoom. A drag sets `moved`, which swallows the click
    // that ends it, so dragging never toggles a seat.
    const pointers = new Map();
    let start = null, moved = false;
    map.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      e.preventDefault(); // no focus on mouse down (keyboard focus ring stays meaningful), no text drag
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pointers.size === 1) { start = { x: e.clientX, y: e.clientY }; moved = false; }
    });
    map.addEventListener("pointermove", (e) => {
      const p = pointers.get(e.pointerId);
      if (!p) return;
      if (pointers.size === 1) {
        if (!moved && Math.hypot(e.clientX - start.x, e.clientY - start.y) < DRAG_PX) return;
        if (!moved) { moved = true; map.setPointerCapture(e.pointerId); map.classList.add("sm-dragging"); }
        tx += e.clientX - p.x;
        ty += e.clientY - p.y;
        userMoved = true;
      } else if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const oldMid = [(a.x + b.x) / 2, (a.y + b.y) / 2], oldDist = Math.hypot(a.x - b.x, a.y - b.y);
        p.x = e.clientX; p.y = e.clientY;
        const newMid = [(a.x + b.x) / 2, (a.y + b.y) / 2], newDist = Math.hypot(a.x - b.x, a.y - b.y);
        const r = map.getBoundingClientRect();
        tx += newMid[0] - oldMid[0];
        ty += newMid[1] - oldMid[1];
        moved = true;
        if (oldDist > 0) zoomAt(newMid[0] - r.left, newMid[1] - r.top, newDist / oldDist);
      }
      p.x = e.clientX;
      p.y = e.clientY;
      schedule();
    });
    const up = (e) => {
      pointers.delete(e.pointerId);
      if (!pointers.size) map.classList.remove("sm-dragging");
    };
    map.addEventListener("pointerup", up);
    map.addEventListener("pointercancel", up);
    map.addEventListener("click", (e) => {
      if (moved) { moved = false; return; }
      const seat = e.target.closest?.("[data-seat]");
      if (seat) {
        const i = idIndex.get(seat.getAttribute("data-seat"));
        setRove(i, false);
        return toggle(i);
      }
      const sec = e.target.closest?.(".sm-sec");
      if (sec && inOverview) openSection(+sec.dataset.section, false);
    });
    map.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = map.getBoundingClientRect();
      const dy = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1);
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-Math.max(-300, Math.min(300, dy)) * 0.002));
    }, { passive: false });
  }
}

if (typeof document !== "undefined") {
  const el = document.getElementById("seatmap");
  if (el) {
    mount(el);
    // The page's plain "best available" form is for browsers without script; the map has its own.
    for (const form of document.querySelectorAll("form.hold-form[data-seated-only]")) form.hidden = true;
  }
}
