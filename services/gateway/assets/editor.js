// Venue editor: organizers draw a venue's sections on a canvas (move, rotate, resize, curve) and
// edit their rows in a panel; the drawing is the buyers' seat map (same geometry, seatmap.js).
// No dependencies, no build step, strict-CSP safe: no inline styles from HTML, no innerHTML
// (user data only ever goes in via textContent; positions are set through the CSSOM).
//
// Hooks (server-rendered): form#venue-editor with data-save-url, data-save-method,
// data-done-url, data-limits (JSON), data-frozen (seats may no longer change);
// script#venue-json (the venue, sections used); #venue-name, #venue-city, #venue-address with
// #error-name, #error-city, #error-address; #editor-problem (role=alert); [data-editor-root]
// (replaced by the editor); button[type=submit] (save); <meta name="csrf-token">.
//
// Hooks built here (stable, used by tests): #editor-canvas (svg), #add-section, #editor-undo,
// #editor-redo, section list items [data-section-index], #section-name, #section-x,
// #section-y, #section-rotation, #section-curve, #section-numbering, #section-seat-spacing,
// #section-row-spacing, rows table tr[data-row-index] with input[name=row-label],
// input[name=row-seats] and button.row-remove, #add-row, #bulk-count, #bulk-seats,
// #bulk-first, #bulk-add, #duplicate-section, #remove-section, #venue-seat-count (just the
// number), #error-sections, #seat-ids, and window.boxofficeEditor = { state(), select(i) }.
//
// Nothing is checked here that the server checks: save always sends, and the server's problem
// ("<path>: message") is shown beside the element it names.
//
// State is immutable: an edit makes a new venue object that shares every unchanged section
// (and rows array) with the previous one, so undo keeps whole snapshots cheaply and the canvas
// re-lays out only the sections whose geometry changed (a cache keyed by rows array + shape).

import { h, svg } from "./dom.js";
import { localSection, placeSections, venueFrame, convexHull, seatIds, isPlaced } from "./seatmap.js";

const SECTION_GAP = 3; // as in seatmap.js, in seat pitches (world units)
const DRAG_PX = 5; // a pointer that moved less than this is a click, not a drag
const MAX_ZOOM = 80; // px per seat pitch
const SEAT_D = 0.72; // drawn seat diameter, in pitches
const HISTORY_MAX = 300;
const COALESCE_MS = 1200; // typing in one field within this time is one undo step
const DEBOUNCE_MS = 120; // typed geometry (seat counts, spacing) redraws after this pause
const ID_LINE_PX = 24; // line height of the virtual seat-id list (editor.css agrees)
const SHAPE_DEFAULTS = { rotation: 0, curve: 0, seat_spacing: 100, row_spacing: 100 }; // x, y: none
const DEFAULT_LIMITS = {
  sections: 500, rows: 1000, seats_per_row: 2000, seats: 250000, offset: 10000, rotation: 180,
  curve: 180, spacing_min: 50, spacing_max: 400, section_name_chars: 50, row_label_chars: 20,
};
// Section fields edited in the panel: input id suffix → [state key, label, kind].
const SHAPE_FIELDS = [
  ["x", "x", "X (centre, in seats)"],
  ["y", "y", "Y (centre, away from the stage)"],
  ["rotation", "rotation", "Rotation (degrees)"],
  ["curve", "curve", "Curve (degrees of arc)"],
  ["seat-spacing", "seat_spacing", "Seat spacing (%)"],
  ["row-spacing", "row_spacing", "Row spacing (%)"],
];

// ---------------------------------------------------------------------------------------------
// Pure functions (no DOM), exported for unit tests.

/** The label after `label`: 9 → 10, 09 → 10, A → B, Z → AA, AZ → BA, z → aa, R9 → R10. */
export function nextLabel(label) {
  const s = String(label);
  let m = /^(.*?)(\d+)$/.exec(s);
  if (m) {
    const n = String(BigInt(m[2]) + 1n);
    return m[1] + n.padStart(m[2].length, "0");
  }
  m = /^(.*?)([A-Z]+|[a-z]+)$/.exec(s);
  if (m) {
    const upper = m[2] === m[2].toUpperCase(), base = upper ? 65 : 97;
    const chars = [...m[2]];
    let i = chars.length - 1;
    for (; i >= 0; i--) {
      const c = chars[i].charCodeAt(0) - base;
      if (c < 25) { chars[i] = String.fromCharCode(base + c + 1); break; }
      chars[i] = String.fromCharCode(base); // Z → A, carry
    }
    return m[1] + (i < 0 ? String.fromCharCode(base) : "") + chars.join("");
  }
  return s ? `${s}2` : "A";
}

/** `count` labels starting at `first`, each the next of the previous. */
export function labelSeries(first, count) {
  const out = [];
  for (let l = String(first); out.length < count; l = nextLabel(l)) out.push(l);
  return out;
}

/** `base`, or `base 2`, `base 3`... whichever is not taken (case-insensitively), ≤ max chars. */
export function uniqueName(base, taken, max = 50) {
  const used = new Set([...taken].map((t) => String(t).toLowerCase()));
  const cut = (s, tail = "") => [...s].slice(0, Math.max(1, max - [...tail].length)).join("") + tail;
  if (!used.has(cut(base).toLowerCase())) return cut(base);
  for (let n = 2; ; n++) {
    const name = cut(base, ` ${n}`);
    if (!used.has(name.toLowerCase())) return name;
  }
}

/**
 * Where a problem's detail points: "sections[3].rows[7].label: ..." →
 * { path: "sections[3].rows[7].label", message, top: "sections", section: 3, field: "rows",
 *   row: 7, rowField: "label" }; null when the detail does not start with a path.
 */
export function problemPath(detail) {
  const m = /^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): /.exec(String(detail || ""));
  if (!m) return null;
  const parts = m[1].split(".").map((p) => {
    const q = /^([a-z_]+)(?:\[(\d+)\])?$/.exec(p);
    return { name: q[1], index: q[2] == null ? null : +q[2] };
  });
  const out = { path: m[1], message: String(detail), top: parts[0].name, section: null, field: null, row: null, rowField: null };
  if (out.top !== "sections") return out;
  out.section = parts[0].index;
  if (parts[1]) {
    out.field = parts[1].name;
    if (out.field === "rows" && parts[1].index != null) {
      out.row = parts[1].index;
      out.rowField = parts[2] ? parts[2].name : null;
    }
  }
  return out;
}

const int = (v) => (typeof v === "number" && Number.isFinite(v) ? Math.round(v) : undefined);

/** The JSON that save sends: known fields only, integers only, x/y and defaults left out. */
export function payload(venue) {
  return {
    name: String(venue.name ?? ""),
    city: String(venue.city ?? ""),
    address: String(venue.address ?? ""),
    sections: (venue.sections || []).map((s) => {
      const o = { name: String(s.name ?? ""), rows: (s.rows || []).map((r) => ({ label: String(r.label ?? ""), seats: int(r.seats) ?? 0 })) };
      // x and y go separately: a half-given position reaches the server, which says so.
      if (int(s.x) !== undefined) o.x = int(s.x);
      if (int(s.y) !== undefined) o.y = int(s.y);
      if (int(s.rotation)) o.rotation = int(s.rotation);
      if (int(s.curve)) o.curve = int(s.curve);
      if (s.numbering != null && s.numbering !== "left_to_right") o.numbering = String(s.numbering);
      if (int(s.seat_spacing) !== undefined && int(s.seat_spacing) !== 100) o.seat_spacing = int(s.seat_spacing);
      if (int(s.row_spacing) !== undefined && int(s.row_spacing) !== 100) o.row_spacing = int(s.row_spacing);
      return o;
    }),
  };
}

/** A section from JSON as the editor keeps it (plus an internal key `_k`). */
function normalise(s, key) {
  const o = { _k: key, name: String(s?.name ?? ""), rows: (s?.rows || []).map((r) => ({ label: String(r?.label ?? ""), seats: Number(r?.seats) || 0 })) };
  for (const f of ["x", "y", "rotation", "curve", "seat_spacing", "row_spacing"]) if (typeof s?.[f] === "number") o[f] = s[f];
  if (typeof s?.numbering === "string") o.numbering = s.numbering;
  return o;
}

const seatCount = (sec) => sec.rows.reduce((a, r) => a + Math.max(0, r.seats | 0), 0);
const rangeText = (name, label, n) =>
  n > 1 ? `${name}/${label}/1 \u2013 ${name}/${label}/${n}` : n === 1 ? `${name}/${label}/1` : "no seats";
const fmt = (v) => v.toFixed(2);

// ---------------------------------------------------------------------------------------------
// DOM helpers. Strings passed as children become text nodes, never markup.


/** Adds or removes `id` from an element's aria-describedby. */
function describe(el, id, on) {
  const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== id);
  if (on) ids.push(id);
  if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
  else el.removeAttribute("aria-describedby");
}

// ---------------------------------------------------------------------------------------------
// The editor.

/** Builds the editor in `form` (#venue-editor). */
export function mountEditor(form) {
  if (form.dataset.mounted) return;
  form.dataset.mounted = "1";
  const d = form.dataset;
  const root = form.querySelector("[data-editor-root]");
  const frozen = "frozen" in d;
  let limits = DEFAULT_LIMITS;
  try { limits = { ...DEFAULT_LIMITS, ...JSON.parse(d.limits || "{}") }; } catch { /* defaults */ }
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const venueInputs = { name: form.querySelector("#venue-name"), city: form.querySelector("#venue-city"), address: form.querySelector("#venue-address") };
  const problemBox = form.querySelector("#editor-problem");
  const saveBtn = form.querySelector("button[type=submit]");

  let initial = {};
  try { initial = JSON.parse(form.querySelector("#venue-json")?.textContent || "{}") || {}; } catch (err) { console.error("editor: bad venue JSON", err); }
  let nextKey = 1;
  const newKey = () => `s${nextKey++}`;

  // ---- State and history ----
  let cur = {
    name: venueInputs.name?.value ?? String(initial.name ?? ""),
    city: venueInputs.city?.value ?? String(initial.city ?? ""),
    address: venueInputs.address?.value ?? String(initial.address ?? ""),
    sections: (Array.isArray(initial.sections) ? initial.sections : []).map((s) => normalise(s, newKey())),
  };
  let selK = cur.sections[0]?._k ?? null; // the selected section, by key
  const undoStack = [], redoStack = [];
  let coalesce = { key: null, at: 0 };
  let problem = null; // the server's last problem placed in the editor: {sk, kind, row, message}

  const selIndex = () => (selK == null ? -1 : cur.sections.findIndex((s) => s._k === selK));
  const selSec = () => cur.sections[selIndex()] || null;

  /** Makes `next` the current venue, as one undo step (merged with the previous step when it
   *  has the same coalescing key and follows it closely, e.g. typing in one field). */
  function commit(next, { key = null, slow = false } = {}) {
    if (next === cur) return;
    const now = performance.now();
    if (!(key && coalesce.key === key && now - coalesce.at < COALESCE_MS && undoStack.length)) {
      undoStack.push({ venue: cur, selK });
      if (undoStack.length > HISTORY_MAX) undoStack.shift();
    }
    coalesce = { key, at: now };
    redoStack.length = 0;
    cur = next;
    invalidate({ slow });
  }

  function travel(from, to, word) {
    if (!from.length) return;
    // Where the focus is, to put it back on the same control if the panel is rebuilt.
    const a = document.activeElement, tr = a?.closest?.("tr[data-row-index]");
    const back = tr ? [tr.dataset.rowIndex, a.name] : a?.id ? a.id : null;
    to.push({ venue: cur, selK });
    const step = from.pop();
    cur = step.venue;
    if (cur.sections.some((s) => s._k === step.selK)) selK = step.selK;
    else if (!cur.sections.some((s) => s._k === selK)) selK = cur.sections[0]?._k ?? null;
    coalesce = { key: null, at: 0 };
    invalidate({ force: true });
    flush();
    if (a && !a.isConnected && back) {
      const el = Array.isArray(back)
        ? rowsBody.querySelector(`tr[data-row-index="${back[0]}"] [name="${back[1]}"]`) || rowsBody.lastElementChild?.querySelector(`[name="${back[1]}"]`)
        : document.getElementById(back);
      (el || panelHeading).focus();
    }
    say(word);
  }
  const undo = () => travel(undoStack, redoStack, "Undone.");
  const redo = () => travel(redoStack, undoStack, "Redone.");

  /** Returns a copy of the venue with section i replaced by `patch` applied to it. */
  function withSection(venue, i, patch) {
    const sections = venue.sections.slice();
    const s = { ...sections[i], ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete s[k];
    sections[i] = s;
    return { ...venue, sections };
  }

  /** Every section without a position gets the one it is drawn at now, so that nothing jumps
   *  when one of them leaves the automatic layout. */
  function frozenPositions(venue) {
    const { centres } = layout();
    return { ...venue, sections: venue.sections.map((s, i) => (isPlaced(s) ? s : { ...s, x: Math.round(centres[i][0]), y: Math.round(centres[i][1]) })) };
  }

  // ---- Geometry: per-section local geometry, cached by seat counts and shape ----

  // Keyed by the seat counts and the shape (row labels do not move seats), so that renaming a
  // row or moving a section never lays it out again; least recently used entries go first.
  const geoCache = new Map();
  const countsOf = new WeakMap(); // rows array → "10,10,12"

  function geoOf(sec) {
    let counts = countsOf.get(sec.rows);
    if (counts == null) countsOf.set(sec.rows, (counts = sec.rows.map((r) => r.seats | 0).join(",")));
    const key = [counts, sec.rotation, sec.curve, sec.numbering, sec.seat_spacing, sec.row_spacing].join("|");
    let g = geoCache.get(key);
    if (g) geoCache.delete(key);
    else g = buildGeo(sec);
    geoCache.set(key, g);
    const cap = 2 * cur.sections.length + 32;
    while (geoCache.size > cap) geoCache.delete(geoCache.keys().next().value);
    return g;
  }

  /** A section's seats relative to its centre, drawn as one path of dots (zero-length strokes
   *  with round caps), its padded outline, and what hover needs to name a seat. */
  function buildGeo(sec) {
    // Never draw more than the limits allow (a typo of 200000 seats must not hang the page).
    let budget = limits.seats, truncated = false;
    const rows = [];
    for (const r of sec.rows.slice(0, limits.rows)) {
      const n = Math.min(Math.max(0, r.seats | 0), limits.seats_per_row, budget);
      if (n !== Math.max(0, r.seats | 0)) truncated = true;
      budget -= n;
      rows.push({ seats: n });
    }
    if (sec.rows.length > limits.rows) truncated = true;
    const l = localSection({ rows: rows.map((r) => ({ label: "", seats: r.seats })), rotation: sec.rotation, curve: sec.curve, numbering: sec.numbering, seat_spacing: sec.seat_spacing, row_spacing: sec.row_spacing });
    const n = l.pts.length, xs = new Float64Array(n), ys = new Float64Array(n);
    const rowStart = new Int32Array(rows.length + 1);
    const dots = [], first = [], cand = [];
    let p = 0;
    rows.forEach((r, ri) => {
      rowStart[ri] = p;
      for (let k = 0; k < r.seats; k++, p++) {
        const [x, y] = l.pts[p];
        xs[p] = x;
        ys[p] = y;
        dots.push(`M${fmt(x)} ${fmt(y)}h0`);
        if (k === 0) first.push(`M${fmt(x)} ${fmt(y)}h0`);
        // The outline's hull only needs the first and last rows and the ends of every row.
        if (k === 0 || k === r.seats - 1 || ri === 0 || ri === rows.length - 1) cand.push([x, y]);
      }
    });
    rowStart[rows.length] = p;
    const pad = 0.75;
    const hull = convexHull(cand.flatMap(([x, y]) => [[x - pad, y - pad], [x + pad, y - pad], [x - pad, y + pad], [x + pad, y + pad]]));
    return {
      rows, xs, ys, rowStart, count: n, box: l.box, scale: l.scale, truncated,
      pitch: l.pitch, rowPitch: l.rowPitch, near: Math.min(l.pitch, l.rowPitch),
      d: dots.join(""), firstD: first.join(""),
      hull: hull.map((q) => `${fmt(q[0])},${fmt(q[1])}`).join(" "),
    };
  }

  let layMemo = null;
  /** The current venue's geometry: geos, centres, world boxes, the stage and the drawing box. */
  function layout() {
    if (layMemo && layMemo.sections === cur.sections) return layMemo;
    const geos = cur.sections.map(geoOf);
    const centres = placeSections(cur.sections, geos.map((g) => g.box));
    const all = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
    geos.forEach((g, i) => {
      if (!g.count) return;
      const [cx, cy] = centres[i];
      all.minX = Math.min(all.minX, cx + g.box.minX); all.maxX = Math.max(all.maxX, cx + g.box.maxX);
      all.minY = Math.min(all.minY, cy + g.box.minY); all.maxY = Math.max(all.maxY, cy + g.box.maxY);
    });
    if (!isFinite(all.minX)) Object.assign(all, { minX: -10, maxX: 10, minY: 0, maxY: 10 });
    return (layMemo = { sections: cur.sections, geos, centres, ...venueFrame(all) });
  }

  // ---- Static UI ----

  const btn = (attrs, text) => h("button", { type: "button", class: "ed-btn", ...attrs }, text);
  const zoomIn = btn({ "aria-label": "Zoom in" }, "+");
  const zoomOut = btn({ "aria-label": "Zoom out" }, "\u2212");
  const zoomFit = btn({ "aria-label": "Fit the whole venue" }, "Fit");
  const undoBtn = btn({ id: "editor-undo", "aria-keyshortcuts": "Control+Z Meta+Z" }, "Undo");
  const redoBtn = btn({ id: "editor-redo", "aria-keyshortcuts": "Control+Shift+Z Meta+Shift+Z Control+Y" }, "Redo");
  const toolbar = h("div", { class: "ed-toolbar" },
    h("div", { class: "ed-group", role: "group", "aria-label": "Zoom" }, zoomIn, zoomOut, zoomFit),
    h("div", { class: "ed-group", role: "group", "aria-label": "History" }, undoBtn, redoBtn));

  const canvas = svg("svg", {
    id: "editor-canvas", class: "ed-canvas", tabindex: "0", role: "application",
    "aria-roledescription": "venue drawing", "aria-label": "Venue drawing", "aria-describedby": "editor-canvas-hint",
  });
  const view = svg("g", { class: "ed-view" });
  const stageLayer = svg("g", { class: "ed-stage", "aria-hidden": "true" });
  const stageRect = svg("rect", {}), stageText = svg("text", { "text-anchor": "middle", "dominant-baseline": "central" }, "Stage");
  stageLayer.append(stageRect, stageText);
  const secLayer = svg("g", { class: "ed-sections", "aria-hidden": "true" });
  // The selected section's extras, drawn above every section with the same transform.
  const overlay = svg("g", { class: "ed-overlay", "aria-hidden": "true" });
  const rowMark = svg("path", { class: "ed-rowmark" });
  const rowLabels = svg("g", { class: "ed-rowlabels" });
  const outline = svg("rect", { class: "ed-outline", "vector-effect": "non-scaling-stroke" });
  const rotLine = svg("line", { class: "ed-handle-line", "vector-effect": "non-scaling-stroke" });
  const rotKnob = svg("circle", { class: "ed-knob" });
  const rotHit = svg("circle", { class: "ed-hit ed-rotate", "data-handle": "rotate" });
  const sizeKnob = svg("rect", { class: "ed-knob" });
  const sizeHit = svg("circle", { class: "ed-hit ed-resize", "data-handle": "resize" });
  const handles = svg("g", { class: "ed-handles" }, outline, rotLine, rotKnob, sizeKnob, rotHit, sizeHit);
  overlay.append(rowMark, rowLabels, handles);
  view.append(stageLayer, secLayer, overlay);
  canvas.append(view);
  const tip = h("div", { class: "ed-tip", "aria-hidden": "true", hidden: true });
  const empty = h("p", { class: "ed-empty", hidden: true }, "No sections yet. Use \u201cAdd section\u201d to start drawing.");
  const canvasHint = h("p", { class: "ed-hint", id: "editor-canvas-hint" },
    "Click a section (or pick it from the list) to select it. Drag it to move it, the round handle to turn it " +
    "and the square one to space its seats. On the drawing, the arrow keys move the selected section " +
    "(Shift: by 10). Drag the background to pan; scroll, pinch or use + and \u2212 to zoom. " +
    "Seat 1 of each row is drawn as a blue square.");
  const readout = h("p", { class: "ed-readout" });
  const stage = h("div", { class: "ed-stagebox" }, toolbar, h("div", { class: "ed-canvaswrap" }, canvas, tip, empty), readout, canvasHint);

  // Sections list.
  const seatCountEl = h("strong", { id: "venue-seat-count" }, "0");
  const sectionCountEl = h("span", {});
  const sectionsError = h("p", { class: "field-error", id: "error-sections", tabindex: "-1", hidden: true });
  const list = h("ul", { class: "ed-list", "aria-labelledby": "editor-sections-heading" });
  const addSection = btn({ id: "add-section", class: "ed-btn ed-primary" }, "Add section");
  const sectionsBox = h("section", { class: "ed-sectionsbox", "aria-labelledby": "editor-sections-heading" },
    h("h2", { id: "editor-sections-heading" }, "Sections"),
    h("p", { class: "ed-total" }, "Venue total: ", seatCountEl, " seats in ", sectionCountEl),
    sectionsError, list, addSection);

  // Selected-section panel.
  const panelHeading = h("h2", { id: "editor-panel-heading", tabindex: "-1" }, "Section");
  const sectionError = h("p", { class: "field-error", id: "error-section", tabindex: "-1", hidden: true });
  const field = (id, label, input, extra) => {
    const err = h("p", { class: "field-error", id: `error-${id}`, tabindex: "-1", hidden: true });
    return { el: h("div", { class: `ed-field ed-f-${id}` }, h("label", { for: id }, label), input, extra, err), input, err };
  };
  const nameInput = h("input", { id: "section-name", type: "text", autocomplete: "off", spellcheck: "false" });
  const nameWarn = h("p", { class: "hint ed-warn", id: "warn-section-name", hidden: true });
  const fields = { name: field("section-name", "Name", nameInput, nameWarn) };
  for (const [suffix, key, label] of SHAPE_FIELDS) {
    const [min, max] = {
      x: [-limits.offset, limits.offset], y: [-limits.offset, limits.offset], rotation: [-limits.rotation, limits.rotation],
      curve: [0, limits.curve], seat_spacing: [limits.spacing_min, limits.spacing_max], row_spacing: [limits.spacing_min, limits.spacing_max],
    }[key];
    const input = h("input", {
      id: `section-${suffix}`, type: "number", step: "1", min, max, inputmode: "numeric", "data-key": key,
      placeholder: key in SHAPE_DEFAULTS ? String(SHAPE_DEFAULTS[key]) : "auto",
    });
    fields[key] = field(`section-${suffix}`, label, input);
  }
  // Which end of a row is seat 1 says which chair a sold ticket is for: locked with the seats.
  const numbering = h("select", { id: "section-numbering", disabled: frozen },
    h("option", { value: "left_to_right" }, "Left to right"), h("option", { value: "right_to_left" }, "Right to left"));
  fields.numbering = field("section-numbering", "Seat 1 is at the", numbering, h("p", { class: "hint" }, "as seen with the stage at the top"));
  const duplicateBtn = btn({ id: "duplicate-section" }, "Duplicate section");
  const removeBtn = btn({ id: "remove-section", class: "ed-btn ed-danger" }, "Remove section");
  const sectionSeats = h("p", { class: "ed-secseats" });
  const truncNote = h("p", { class: "hint", hidden: true }, "This section is larger than a venue may be: only part of it is drawn.");

  const rowsBody = h("tbody", {});
  const rowsError = h("p", { class: "field-error", id: "error-section-rows", tabindex: "-1", hidden: true });
  const rowsTable = h("table", { class: "ed-rows" },
    h("caption", { class: "visually-hidden" }, "Rows of the section"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Label"), h("th", { scope: "col" }, "Seats"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Remove")))),
    rowsBody);
  const addRowBtn = btn({ id: "add-row" }, "Add row");
  const bulkCount = h("input", { id: "bulk-count", type: "number", min: "1", max: String(limits.rows), step: "1", value: "5", inputmode: "numeric" });
  const bulkSeats = h("input", { id: "bulk-seats", type: "number", min: "1", max: String(limits.seats_per_row), step: "1", value: "10", inputmode: "numeric" });
  const bulkFirst = h("input", { id: "bulk-first", type: "text", autocomplete: "off", spellcheck: "false" });
  const bulkAdd = btn({ id: "bulk-add" }, "Add rows");
  const bulkNote = h("p", { class: "hint", id: "bulk-note", "aria-live": "polite" });
  const bulk = h("fieldset", { class: "ed-bulk" }, h("legend", {}, "Add several rows"),
    h("div", { class: "ed-bulkgrid" },
      h("div", { class: "ed-field" }, h("label", { for: "bulk-count" }, "Rows"), bulkCount),
      h("div", { class: "ed-field" }, h("label", { for: "bulk-seats" }, "Seats per row"), bulkSeats),
      h("div", { class: "ed-field" }, h("label", { for: "bulk-first" }, "First label"), bulkFirst)),
    h("p", { class: "hint" }, "Labels continue A, B \u2026 Z, AA or 1, 2, 3."), bulkAdd, bulkNote);

  // Scrolling boxes are focusable so that keyboards can scroll them.
  const rangesList = h("ul", { class: "ed-ranges", "aria-label": "Seat ids by row", tabindex: "0" });
  const idsSummary = h("summary", {}, "All seat ids");
  const idsWindow = h("ol", { class: "ed-idwin" });
  const idsSizer = h("div", { class: "ed-idsizer" }, idsWindow);
  const idsScroll = h("div", { class: "ed-idscroll", tabindex: "0", role: "region", "aria-label": "All seat ids of the section" }, idsSizer);
  const copyIds = btn({}, "Copy all seat ids");
  const idsDetails = h("details", { class: "ed-alldetails" }, idsSummary, idsScroll, copyIds);
  const idsBox = h("section", { class: "ed-ids", id: "seat-ids", "aria-labelledby": "seat-ids-heading" },
    h("h3", { id: "seat-ids-heading" }, "Seat ids"), rangesList, idsDetails);

  const panelBody = h("div", { class: "ed-panelbody" },
    sectionError, sectionSeats, truncNote,
    h("div", { class: "ed-fields" }, ...["name", "x", "y", "rotation", "curve", "numbering", "seat_spacing", "row_spacing"].map((k) => fields[k].el)),
    h("div", { class: "ed-actions" }, duplicateBtn, removeBtn),
    h("h3", { id: "editor-rows-heading" }, "Rows"), rowsError, h("div", { class: "ed-rowsscroll", role: "region", "aria-labelledby": "editor-rows-heading", tabindex: "0" }, rowsTable), addRowBtn, bulk, idsBox);
  const noSelection = h("p", { class: "hint ed-nosel" }, "Select a section on the drawing or in the list to edit it.");
  const panel = h("section", { class: "ed-panel", "aria-labelledby": "editor-panel-heading" }, panelHeading, noSelection, panelBody);

  const status = h("p", { class: "ed-status", role: "status", "aria-live": "polite" });
  const side = h("div", { class: "ed-side" }, sectionsBox, panel);
  const app = h("div", { class: "ed-app" }, h("div", { class: "ed-body" }, stage, side), status);
  root.replaceChildren(app);

  if (frozen) {
    for (const el of [nameInput, addSection, duplicateBtn, removeBtn, addRowBtn, bulkCount, bulkSeats, bulkFirst, bulkAdd]) el.disabled = true;
    panelBody.insertBefore(h("p", { class: "hint ed-frozen" }, "Seats are on sale: names, rows, seat counts and numbering are locked. Position, rotation, curve and spacing can still change."), sectionSeats);
  }

  const say = (text) => { status.textContent = text; };
  let sayTimer = 0;
  const sayLater = (text) => { clearTimeout(sayTimer); sayTimer = setTimeout(() => say(text), 500); };

  // ---- Rendering: one flush per frame; geometry typed in inputs waits for a pause ----

  let raf = 0, slowTimer = 0;
  const dirty = { force: false };
  function invalidate({ slow = false, force = false } = {}) {
    if (force) dirty.force = true;
    if (slow) {
      clearTimeout(slowTimer);
      slowTimer = setTimeout(() => { slowTimer = 0; schedule(); }, DEBOUNCE_MS);
      updateHistoryButtons();
    } else if (!slowTimer) schedule();
  }
  function schedule() { if (!raf) raf = requestAnimationFrame(flush); }

  function flush() {
    cancelAnimationFrame(raf);
    raf = 0;
    clearTimeout(slowTimer);
    slowTimer = 0;
    const force = dirty.force;
    dirty.force = false;
    renderCanvas();
    renderList();
    renderPanel(force);
    if (force) for (const k of Object.keys(venueInputs)) if (venueInputs[k] && venueInputs[k].value !== cur[k]) venueInputs[k].value = cur[k];
    updateHistoryButtons();
  }

  function updateHistoryButtons() {
    undoBtn.disabled = !undoStack.length;
    redoBtn.disabled = !redoStack.length;
  }

  // ---- Canvas ----

  const groups = new Map(); // section key → {g, hull, dots, first, label, geo, name, tr}

  function makeGroup(key) {
    const hull = svg("polygon", { class: "ed-hull", "vector-effect": "non-scaling-stroke" });
    const dots = svg("path", { class: "ed-dots" });
    const first = svg("path", { class: "ed-first" });
    const label = svg("text", { class: "ed-name", "text-anchor": "middle" });
    const g = svg("g", { class: "ed-sec" }, hull, dots, first, label);
    return { key, g, hull, dots, first, label, geo: null, name: null, tr: "" };
  }

  function renderCanvas() {
    const lay = layout();
    const si = selIndex();
    let prev = null;
    const seen = new Set();
    cur.sections.forEach((sec, i) => {
      let G = groups.get(sec._k);
      if (!G) groups.set(sec._k, (G = makeGroup(sec._k)));
      seen.add(sec._k);
      const geo = lay.geos[i];
      if (G.geo !== geo) {
        G.geo = geo;
        G.hull.setAttribute("points", geo.hull);
        G.dots.setAttribute("d", geo.d);
        G.first.setAttribute("d", geo.firstD);
        const w = fmt(SEAT_D * geo.scale);
        G.dots.setAttribute("stroke-width", w);
        G.first.setAttribute("stroke-width", fmt(SEAT_D * geo.scale * 0.85)); // a square: seat 1
        G.label.setAttribute("x", fmt((geo.box.minX + geo.box.maxX) / 2));
        G.label.setAttribute("y", fmt(geo.box.minY - 1.1));
      }
      if (G.name !== sec.name) G.label.textContent = G.name = sec.name;
      setTransform(G, `translate(${fmt(lay.centres[i][0])} ${fmt(lay.centres[i][1])})`);
      G.g.setAttribute("data-sec", i);
      G.g.classList.toggle("is-selected", i === si);
      G.g.classList.toggle("has-error", problem?.sk === sec._k);
      if (i === si) return; // drawn last, above the others (below)
      if (G.g.previousElementSibling !== prev || G.g.parentNode !== secLayer) secLayer.insertBefore(G.g, prev ? prev.nextSibling : secLayer.firstChild);
      prev = G.g;
    });
    const top = si >= 0 && groups.get(cur.sections[si]._k);
    if (top && secLayer.lastElementChild !== top.g) secLayer.append(top.g);
    for (const [k, G] of groups) if (!seen.has(k)) { G.g.remove(); groups.delete(k); }
    const st = lay.stage;
    Object.entries({ x: st.x - st.w / 2, y: st.y - st.h / 2, width: st.w, height: st.h, rx: st.h / 5 }).forEach(([k, v]) => stageRect.setAttribute(k, fmt(v)));
    stageText.setAttribute("x", fmt(st.x));
    stageText.setAttribute("y", fmt(st.y));
    stageText.setAttribute("font-size", fmt(st.h * 0.6));
    empty.hidden = cur.sections.length > 0;
    renderOverlay();
    resizeView(false);
    const s = selSec();
    canvas.setAttribute("aria-label", s ? `Venue drawing; selected section: ${s.name}` : "Venue drawing");
  }

  function setTransform(G, tr) {
    if (G.tr === tr) return;
    G.tr = tr;
    G.g.setAttribute("transform", tr);
    if (overlay.dataset.k === G.key) overlay.setAttribute("transform", tr);
  }

  let overlayGeo = null, overlayRows = null, overlayRow = -1;
  /** Handles, row labels and the row highlight of the selected section. */
  function renderOverlay() {
    const i = selIndex();
    if (i < 0) { overlay.setAttribute("display", "none"); overlayGeo = null; return; }
    const sec = cur.sections[i], G = groups.get(sec._k), geo = layout().geos[i];
    overlay.dataset.k = sec._k;
    overlay.removeAttribute("display");
    overlay.setAttribute("transform", G.tr);
    if (overlayGeo !== geo || overlayRows !== sec.rows) {
      overlayGeo = geo;
      overlayRows = sec.rows;
      // Row labels just before seat 1 of each row, away from seat 2.
      const labels = [];
      geo.rows.forEach((r, ri) => {
        if (!r.seats) return;
        const a = geo.rowStart[ri];
        let ux = -1, uy = 0;
        if (r.seats > 1) {
          const dx = geo.xs[a] - geo.xs[a + 1], dy = geo.ys[a] - geo.ys[a + 1], n = Math.hypot(dx, dy) || 1;
          ux = dx / n; uy = dy / n;
        }
        const off = 1.1 * Math.max(0.8, geo.pitch);
        labels.push(svg("text", { x: fmt(geo.xs[a] + ux * off), y: fmt(geo.ys[a] + uy * off), "text-anchor": "middle", "dominant-baseline": "central" }, sec.rows[ri].label));
      });
      rowLabels.replaceChildren(...labels);
    }
    highlightRow(overlayRow); // a focused row keeps its mark while its seats change
    placeHandles();
  }

  /** Marks the seats of row `ri` of the selected section (while its inputs have focus). */
  function highlightRow(ri) {
    overlayRow = ri;
    const geo = overlayGeo;
    if (!geo || ri < 0 || ri >= geo.rows.length) { rowMark.removeAttribute("d"); return; }
    const parts = [];
    for (let p = geo.rowStart[ri]; p < geo.rowStart[ri + 1]; p++) parts.push(`M${fmt(geo.xs[p])} ${fmt(geo.ys[p])}h0`);
    rowMark.setAttribute("d", parts.join(""));
    rowMark.setAttribute("stroke-width", fmt(SEAT_D * geo.scale * 1.5));
  }

  /** Handles keep a constant size on screen, so they follow the zoom. */
  function placeHandles() {
    const geo = overlayGeo;
    if (!geo) return;
    const b = geo.box, pad = 0.9, px = 1 / k;
    const x0 = b.minX - pad, y0 = b.minY - pad, x1 = b.maxX + pad, y1 = b.maxY + pad;
    const set = (el, attrs) => { for (const [a, v] of Object.entries(attrs)) el.setAttribute(a, fmt(v)); };
    set(outline, { x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
    // Turn: a knob out from the top-right corner (the name label sits above the middle).
    const kx = x1 + 22 * px, ky = y0 - 22 * px;
    set(rotLine, { x1, y1: y0, x2: kx, y2: ky });
    set(rotKnob, { cx: kx, cy: ky, r: 8 * px });
    set(rotHit, { cx: kx, cy: ky, r: 20 * px });
    set(sizeKnob, { x: x1 - 7 * px, y: y1 - 7 * px, width: 14 * px, height: 14 * px });
    set(sizeHit, { cx: x1, cy: y1, r: 20 * px });
    for (const el of [rotKnob, sizeKnob]) el.setAttribute("stroke-width", fmt(2 * px));
    const labelsOn = k * geo.rowPitch >= 11;
    rowLabels.setAttribute("display", labelsOn ? "inline" : "none");
  }

  // ---- Zoom and pan: a translate+scale transform on one <g>; k = px per seat pitch ----

  let k = 1, tx = 0, ty = 0, W = 1, H = 1, fitK = 1, userMoved = false, viewRaf = 0;

  function resizeView(measure = true) {
    if (measure) {
      const r = canvas.getBoundingClientRect();
      const cx = (W / 2 - tx) / k, cy = (H / 2 - ty) / k;
      W = Math.max(1, r.width);
      H = Math.max(1, r.height);
      if (userMoved) { tx = W / 2 - cx * k; ty = H / 2 - cy * k; }
    }
    const b = layout().box;
    // 40px margins: room for the handles of a section at the edge.
    fitK = Math.max(0.02, Math.min((W - 80) / Math.max(1, b.maxX - b.minX), (H - 80) / Math.max(1, b.maxY - b.minY)));
    if (!userMoved) fit(); else scheduleView();
  }

  function fit() {
    const b = layout().box;
    k = Math.min(MAX_ZOOM, fitK);
    tx = W / 2 - k * (b.minX + b.maxX) / 2;
    ty = H / 2 - k * (b.minY + b.maxY) / 2;
    userMoved = false;
    applyView();
  }

  function zoomAt(px, py, f) {
    const k2 = Math.min(MAX_ZOOM, Math.max(fitK * 0.2, k * f));
    tx = px - ((px - tx) * k2) / k;
    ty = py - ((py - ty) * k2) / k;
    k = k2;
    userMoved = true;
    scheduleView();
  }

  function scheduleView() { if (!viewRaf) viewRaf = requestAnimationFrame(applyView); }

  function applyView() {
    cancelAnimationFrame(viewRaf);
    viewRaf = 0;
    // Keep some of the venue in view: the view's centre stays within the venue's box, widened.
    const b = layout().box, mw = (b.maxX - b.minX) / 2 + 10, mh = (b.maxY - b.minY) / 2 + 10;
    tx = Math.min(W / 2 - k * (b.minX - mw), Math.max(W / 2 - k * (b.maxX + mw), tx));
    ty = Math.min(H / 2 - k * (b.minY - mh), Math.max(H / 2 - k * (b.maxY + mh), ty));
    view.setAttribute("transform", `translate(${tx.toFixed(1)} ${ty.toFixed(1)}) scale(${k.toFixed(4)})`);
    view.style.setProperty("--k", k.toFixed(4)); // labels keep a constant pixel size (editor.css)
    // Seats a few pixels wide look the same as squares, which draw much faster (100k seats).
    canvas.classList.toggle("ed-tiny", k * SEAT_D < 4);
    placeHandles();
  }

  const toWorld = (clientX, clientY) => {
    const r = canvas.getBoundingClientRect();
    return [(clientX - r.left - tx) / k, (clientY - r.top - ty) / k];
  };

  /** Pans so that section i is in view, if it is not. */
  function reveal(i) {
    const lay = layout(), g = lay.geos[i], [cx, cy] = lay.centres[i];
    const x0 = tx + k * (cx + g.box.minX), x1 = tx + k * (cx + g.box.maxX);
    const y0 = ty + k * (cy + g.box.minY), y1 = ty + k * (cy + g.box.maxY);
    if (x1 < 20 || x0 > W - 20 || y1 < 20 || y0 > H - 20) {
      tx = W / 2 - k * (cx + (g.box.minX + g.box.maxX) / 2);
      ty = H / 2 - k * (cy + (g.box.minY + g.box.maxY) / 2);
      userMoved = true;
      applyView();
    }
  }

  // ---- Sections list ----

  function renderList() {
    const si = selIndex();
    const items = list.children;
    while (items.length > cur.sections.length) items[items.length - 1].remove();
    let total = 0;
    cur.sections.forEach((sec, i) => {
      let li = items[i];
      if (!li) {
        li = h("li", {}, h("button", { type: "button", class: "ed-item" }, h("span", { class: "ed-itemname" }), " ", h("span", { class: "ed-itemcount" })));
        list.append(li);
      }
      const n = seatCount(sec);
      total += n;
      li.setAttribute("data-section-index", i);
      li.classList.toggle("has-error", problem?.sk === sec._k);
      const b = li.firstChild;
      if (i === si) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
      b.firstChild.textContent = sec.name || "(no name)";
      b.lastChild.textContent = `${n} ${n === 1 ? "seat" : "seats"}`;
    });
    seatCountEl.textContent = String(total);
    sectionCountEl.textContent = `${cur.sections.length} ${cur.sections.length === 1 ? "section" : "sections"}`;
  }

  // ---- The selected section's panel ----

  let panelFor = { k: null, rows: null, name: null }; // what the rows table and seat ids show

  /** Brings the panel in line with the state. Inputs being typed in keep their text unless
   *  `force` (undo, redo), and the rows table is rebuilt only when its rows changed shape. */
  function renderPanel(force) {
    const sec = selSec();
    noSelection.hidden = !!sec;
    panelBody.hidden = !sec;
    if (!sec) {
      panelHeading.textContent = "Section";
      panelFor = { k: null, rows: null, name: null };
      return;
    }
    const other = sec._k !== panelFor.k;
    if (other) clearErrors(panel); // another section's messages; applyProblem shows its own
    panelHeading.textContent = `Section \u201c${sec.name}\u201d`;
    const put = (input, v) => {
      const text = v == null ? "" : String(v);
      if ((force || other || document.activeElement !== input) && input.value !== text) input.value = text;
    };
    put(nameInput, sec.name);
    // Absent shape fields stay empty: their placeholders show the defaults ("auto" for x, y).
    for (const [, key] of SHAPE_FIELDS) put(fields[key].input, sec[key]);
    put(numbering, sec.numbering === "right_to_left" ? "right_to_left" : "left_to_right");
    const n = seatCount(sec);
    sectionSeats.textContent = `${n} ${n === 1 ? "seat" : "seats"} in ${sec.rows.length} ${sec.rows.length === 1 ? "row" : "rows"}${isPlaced(sec) ? "" : " \u00b7 placed automatically until moved"}`;
    truncNote.hidden = !geoOf(sec).truncated;
    // Live hint (the server decides): another section with the same name.
    // Not beside the server's own message about the name, which says the same.
    const dup = sec.name && !(problem?.sk === sec._k && problem?.kind === "name")
      && cur.sections.some((s) => s !== sec && s.name.toLowerCase() === sec.name.toLowerCase());
    nameWarn.hidden = !dup;
    nameWarn.textContent = dup ? `Another section is also called \u201c${sec.name}\u201d; names must differ.` : "";
    describe(nameInput, nameWarn.id, dup);
    duplicateBtn.disabled = frozen;
    removeBtn.disabled = frozen;

    if (other || sec.rows.length !== rowsBody.children.length) buildRows(sec);
    else if (force || sec.rows !== panelFor.rows) syncRows(sec, force);
    if (other || !idsSec || idsSec.rows !== sec.rows || idsSec.name !== sec.name) renderIds(sec, other);
    if (other || force) {
      const last = sec.rows[sec.rows.length - 1];
      bulkFirst.value = last ? nextLabel(last.label) : "A";
      if (last) bulkSeats.value = String(Math.max(1, last.seats | 0));
    }
    panelFor = { k: sec._k, rows: sec.rows, name: sec.name };
    applyProblem();
  }

  function buildRows(sec) {
    const frag = document.createDocumentFragment();
    sec.rows.forEach((r, j) => {
      const label = h("input", { name: "row-label", type: "text", value: r.label, autocomplete: "off", spellcheck: "false", "aria-label": `Label, row ${j + 1}`, disabled: frozen });
      const seats = h("input", { name: "row-seats", type: "number", min: "1", max: String(limits.seats_per_row), step: "1", inputmode: "numeric", value: r.seats == null ? "" : String(r.seats), "aria-label": `Seats, row ${j + 1}`, disabled: frozen });
      const rm = h("button", { type: "button", class: "ed-btn row-remove", "aria-label": `Remove row ${r.label || j + 1}`, disabled: frozen }, "Remove");
      frag.append(h("tr", { "data-row-index": j }, h("td", {}, label), h("td", {}, seats), h("td", {}, rm)));
    });
    rowsBody.replaceChildren(frag);
  }

  /** Same number of rows: update the inputs (not the one being typed in, unless `force`). */
  function syncRows(sec, force) {
    sec.rows.forEach((r, j) => {
      const tr = rowsBody.children[j];
      const [label, seats] = tr.querySelectorAll("input");
      if ((force || document.activeElement !== label) && label.value !== r.label) label.value = r.label;
      const text = r.seats == null ? "" : String(r.seats);
      if ((force || document.activeElement !== seats) && seats.value !== text) seats.value = text;
      tr.querySelector(".row-remove").setAttribute("aria-label", `Remove row ${r.label || j + 1}`);
    });
  }

  // ---- Seat ids: per-row ranges and a virtual list of all of them ----

  let idsSec = null, idsPrefix = null;

  function renderIds(sec, reset) {
    idsSec = sec;
    rangesList.replaceChildren(...sec.rows.map((r) => h("li", {}, h("span", { class: "ed-rangelabel" }, `Row ${r.label}: `), rangeText(sec.name, r.label, Math.max(0, r.seats | 0)))));
    idsPrefix = new Float64Array(sec.rows.length + 1);
    sec.rows.forEach((r, j) => { idsPrefix[j + 1] = idsPrefix[j] + Math.max(0, r.seats | 0); });
    const n = idsPrefix[sec.rows.length];
    idsSummary.textContent = `All ${n} seat ids of ${sec.name}, in seat order`;
    idsScroll.setAttribute("aria-label", `All seat ids of ${sec.name}`);
    idsSizer.style.height = `${n * ID_LINE_PX}px`;
    if (reset) idsScroll.scrollTop = 0;
    renderIdWindow();
  }

  function idAt(i) {
    // Binary search of the row holding seat i of the section.
    let lo = 0, hi = idsSec.rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (idsPrefix[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return `${idsSec.name}/${idsSec.rows[lo].label}/${i - idsPrefix[lo] + 1}`;
  }

  let idsRaf = 0;
  function renderIdWindow() {
    cancelAnimationFrame(idsRaf);
    idsRaf = 0;
    if (!idsDetails.open || !idsSec) return;
    const n = idsPrefix[idsSec.rows.length];
    const from = Math.max(0, Math.floor(idsScroll.scrollTop / ID_LINE_PX) - 10);
    const to = Math.min(n, from + Math.ceil((idsScroll.clientHeight || 400) / ID_LINE_PX) + 20);
    const items = [];
    for (let i = from; i < to; i++) items.push(h("li", {}, idAt(i)));
    idsWindow.setAttribute("start", String(from + 1));
    idsWindow.style.transform = `translateY(${from * ID_LINE_PX}px)`;
    idsWindow.replaceChildren(...items);
  }

  // ---- Selection ----

  function select(i, { focusPanel = false } = {}) {
    const sec = cur.sections[i];
    if (!sec) return;
    selK = sec._k;
    flush();
    reveal(i);
    say(`Selected section ${sec.name}.`);
    if (focusPanel) panelHeading.focus();
  }

  // ---- Edits ----

  /** Applies `patch` to the selected section (x/y keep the rest of the drawing still). */
  function editSelected(patch, opts) {
    const i = selIndex();
    if (i < 0) return;
    let v = cur;
    const own = cur.sections[i];
    if (patch.x !== undefined || patch.y !== undefined) {
      v = frozenPositions(v);
      // A coordinate not given (nor kept by the section) comes from where it is drawn now.
      patch = { x: own.x ?? v.sections[i].x, y: own.y ?? v.sections[i].y, ...patch };
    }
    commit(withSection(v, i, patch), opts);
  }

  function setRows(rows, opts = {}) {
    const i = selIndex();
    if (i >= 0) commit(withSection(cur, i, { rows }), opts);
  }

  function newSectionAt(venue, sec) {
    // Below everything when the drawing has positions; else the automatic layout places it.
    if (!venue.sections.some(isPlaced)) return sec;
    const lay = layout(), l = geoOf(sec).box, b = lay.box;
    return { ...sec, x: Math.round((b.minX + b.maxX) / 2 - (l.minX + l.maxX) / 2), y: Math.round(b.maxY + SECTION_GAP - l.minY) };
  }

  function addNewSection() {
    if (frozen) return;
    const name = uniqueName(`Section ${cur.sections.length + 1}`, cur.sections.map((s) => s.name), limits.section_name_chars);
    let sec = { _k: newKey(), name, rows: labelSeries("A", 5).map((label) => ({ label, seats: 10 })) };
    let v = cur;
    if (v.sections.some(isPlaced)) { v = frozenPositions(v); sec = newSectionAt(v, sec); }
    commit({ ...v, sections: [...v.sections, sec] });
    selK = sec._k;
    flush();
    if (!userMoved) fit(); else reveal(cur.sections.length - 1);
    say(`Added section ${name}.`);
    nameInput.focus();
    nameInput.select();
  }

  function duplicateSelected() {
    const i = selIndex();
    if (frozen || i < 0) return;
    const src = cur.sections[i];
    const name = uniqueName(`${src.name} copy`, cur.sections.map((s) => s.name), limits.section_name_chars);
    let v = cur, copy = { ...src, _k: newKey(), name };
    if (v.sections.some(isPlaced)) {
      // Beside the original, to its right.
      v = frozenPositions(v);
      const o = v.sections[i], b = geoOf(o).box;
      copy = { ...copy, x: Math.round(o.x + (b.maxX - b.minX) + SECTION_GAP + 1), y: o.y };
    }
    const sections = v.sections.slice();
    sections.splice(i + 1, 0, copy);
    commit({ ...v, sections });
    selK = copy._k;
    flush();
    reveal(i + 1);
    say(`Duplicated ${src.name} as ${name}.`);
  }

  function removeSelected() {
    const i = selIndex();
    if (frozen || i < 0) return;
    const name = cur.sections[i].name;
    // Removing one must not move the others that are laid out automatically.
    const v = frozenPositions(cur);
    const sections = v.sections.filter((_, j) => j !== i);
    commit({ ...v, sections });
    selK = sections[Math.min(i, sections.length - 1)]?._k ?? null;
    flush();
    say(`Removed section ${name}. Undo brings it back.`);
    (selK ? list.children[selIndex()]?.firstChild : addSection)?.focus();
  }

  function addRows(count, seats, first) {
    const sec = selSec();
    if (frozen || !sec) return;
    const room = limits.rows - sec.rows.length;
    const n = Math.min(count, room);
    if (n <= 0) return (bulkNote.textContent = `A section has at most ${limits.rows} rows.`);
    const rows = sec.rows.concat(labelSeries(first, n).map((label) => ({ label, seats })));
    setRows(rows);
    bulkNote.textContent = n < count ? `Added ${n} rows: a section has at most ${limits.rows} rows.` : `Added ${n} ${n === 1 ? "row" : "rows"}.`;
  }

  // ---- Events ----

  // Fields commit on "input" (typing) and on "change" too (a value set without typing, e.g.
  // cleared by a script or a test driver); committing the same value twice does nothing.

  // Venue name, city, address: part of the undo history.
  for (const [key, input] of Object.entries(venueInputs)) {
    const apply = () => { if (cur[key] !== input.value) commit({ ...cur, [key]: input.value }, { key: `venue-${key}` }); };
    input?.addEventListener("input", apply);
    input?.addEventListener("change", apply);
  }

  zoomIn.addEventListener("click", () => zoomAt(W / 2, H / 2, 1.5));
  zoomOut.addEventListener("click", () => zoomAt(W / 2, H / 2, 1 / 1.5));
  zoomFit.addEventListener("click", fit);
  undoBtn.addEventListener("click", undo);
  redoBtn.addEventListener("click", redo);
  addSection.addEventListener("click", addNewSection);
  duplicateBtn.addEventListener("click", duplicateSelected);
  removeBtn.addEventListener("click", removeSelected);
  list.addEventListener("click", (e) => {
    const li = e.target.closest("[data-section-index]");
    if (li) select(+li.dataset.sectionIndex);
  });

  const applyName = () => {
    const sec = selSec();
    if (sec && sec.name !== nameInput.value) editSelected({ name: nameInput.value }, { key: `name-${sec._k}` });
  };
  nameInput.addEventListener("input", applyName);
  nameInput.addEventListener("change", applyName);
  for (const [, key] of SHAPE_FIELDS) {
    const input = fields[key].input;
    // Whole numbers change the drawing as they are typed; an unfinished number ("-" on the way
    // to "-5", which the browser reports as bad input) changes nothing; an empty field means
    // the default (the placeholder says which; x and y empty: placed automatically).
    const apply = (e) => {
      const sec = selSec();
      if (!sec) return;
      if (input.validity.badInput) {
        if (e.type === "change") input.value = sec[key] == null ? "" : String(sec[key]); // left unfinished
        return;
      }
      const v = input.value.trim() === "" ? undefined : Math.round(Number(input.value));
      if ((v !== undefined && !Number.isFinite(v)) || v === sec[key]) return;
      editSelected({ [key]: v }, { key: `${key}-${sec._k}`, slow: key.endsWith("spacing") });
    };
    input.addEventListener("input", apply);
    input.addEventListener("change", apply);
  }
  numbering.addEventListener("change", () => editSelected({ numbering: numbering.value === "right_to_left" ? "right_to_left" : undefined }));

  const applyRow = (e) => {
    const tr = e.target.closest("tr[data-row-index]"), sec = selSec();
    if (!tr || !sec) return;
    const j = +tr.dataset.rowIndex, r = sec.rows[j];
    if (!r) return;
    let patch;
    if (e.target.name === "row-label") patch = { label: e.target.value };
    else if (e.target.name === "row-seats") {
      if (e.target.validity.badInput) {
        if (e.type === "change") e.target.value = r.seats == null ? "" : String(r.seats); // unfinished
        return;
      }
      const v = e.target.value.trim() === "" ? null : Math.round(Number(e.target.value));
      if (v !== null && !Number.isFinite(v)) return;
      patch = { seats: v }; // empty: sent as 0, and the server says what is wrong
    } else return;
    if (Object.entries(patch).every(([k2, v]) => r[k2] === v)) return;
    const rows = sec.rows.slice();
    rows[j] = { ...r, ...patch };
    panelFor.rows = rows; // the table already shows it: no rebuild
    setRows(rows, { key: `${e.target.name}-${sec._k}-${j}`, slow: true });
  };
  rowsBody.addEventListener("input", applyRow);
  rowsBody.addEventListener("change", applyRow);
  rowsBody.addEventListener("click", (e) => {
    const b = e.target.closest(".row-remove"), sec = selSec();
    if (!b || !sec || frozen) return;
    const j = +b.closest("tr").dataset.rowIndex;
    const label = sec.rows[j].label;
    setRows(sec.rows.filter((_, x) => x !== j));
    flush();
    say(`Removed row ${label}.`);
    (rowsBody.children[Math.min(j, rowsBody.children.length - 1)]?.querySelector(".row-remove") || addRowBtn).focus();
  });
  // Focus in a row's inputs marks the row on the drawing and names its seats.
  rowsBody.addEventListener("focusin", (e) => {
    const tr = e.target.closest("tr[data-row-index]"), sec = selSec();
    if (!tr || !sec) return;
    const j = +tr.dataset.rowIndex, r = sec.rows[j];
    highlightRow(j);
    readout.textContent = r ? `Row ${r.label}: ${rangeText(sec.name, r.label, Math.max(0, r.seats | 0))}` : "";
  });
  rowsBody.addEventListener("focusout", () => highlightRow(-1));
  addRowBtn.addEventListener("click", () => {
    const sec = selSec();
    if (!sec || frozen) return;
    const last = sec.rows[sec.rows.length - 1];
    addRows(1, last ? Math.max(1, last.seats | 0) : 10, last ? nextLabel(last.label) : "A");
    rowsBody.lastElementChild?.querySelector("input[name=row-seats]")?.focus();
  });
  bulkAdd.addEventListener("click", () => {
    const count = Math.round(Number(bulkCount.value)), seats = Math.round(Number(bulkSeats.value));
    if (!(count >= 1)) return (bulkNote.textContent = "Give the number of rows to add (1 or more).");
    if (!(seats >= 1)) return (bulkNote.textContent = "Give the number of seats per row (1 or more).");
    addRows(count, Math.min(seats, limits.seats_per_row), bulkFirst.value.trim() || "A");
    const last = selSec()?.rows.at(-1);
    if (last) bulkFirst.value = nextLabel(last.label);
  });
  // Enter in the editor's fields must not send the form (that is the Save button's job).
  root.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.target.tagName !== "INPUT") return;
    e.preventDefault();
    if (bulk.contains(e.target)) bulkAdd.click();
    else e.target.dispatchEvent(new Event("change", { bubbles: true }));
  });

  idsDetails.addEventListener("toggle", renderIdWindow);
  idsScroll.addEventListener("scroll", () => { if (!idsRaf) idsRaf = requestAnimationFrame(renderIdWindow); });
  copyIds.addEventListener("click", async () => {
    const sec = selSec();
    if (!sec) return;
    const ids = seatIds({ sections: [sec] });
    try {
      await navigator.clipboard.writeText(ids.join("\n"));
      say(`Copied ${ids.length} seat ids.`);
    } catch {
      say("Copying is not allowed here; select the ids in the list instead.");
    }
  });

  // Undo and redo from anywhere in the form (and the page body).
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    if (e.target !== document.body && !form.contains(e.target)) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) undo();
    else if ((key === "z" && e.shiftKey) || (key === "y" && e.ctrlKey && !e.metaKey)) redo();
    else return;
    e.preventDefault();
  });

  // The canvas keyboard: arrows move the selected section, + and − zoom.
  canvas.addEventListener("keydown", (e) => {
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
    if (arrows && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      const i = selIndex();
      if (i < 0) return say("Select a section first (from the list), then move it with the arrow keys.");
      const step = e.shiftKey ? 10 : 1;
      const v = frozenPositions(cur), s = v.sections[i];
      commit(withSection(v, i, { x: s.x + arrows[0] * step, y: s.y + arrows[1] * step }), { key: `kbd-move-${s._k}` });
      flush();
      reveal(i);
      sayLater(`${s.name} at x ${s.x + arrows[0] * step}, y ${s.y + arrows[1] * step}.`);
    } else if (e.key === "+" || e.key === "=") { zoomAt(W / 2, H / 2, 1.5); e.preventDefault(); }
    else if (e.key === "-") { zoomAt(W / 2, H / 2, 1 / 1.5); e.preventDefault(); }
  });

  // Pointers: on a handle, turn or resize the selected section; on a section, select and move
  // it; elsewhere, pan. Two pointers pinch-zoom. During a drag only the section's transform
  // changes; the state (one undo step) is written when the pointer is released.
  const pointers = new Map();
  let gesture = null;

  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    canvas.focus({ preventScroll: true });
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    canvas.setPointerCapture(e.pointerId);
    tip.hidden = true;
    if (pointers.size === 2) { cancelGesture(); gesture = { kind: "pinch" }; return; }
    if (pointers.size > 2) return;
    const start = toWorld(e.clientX, e.clientY);
    const handle = e.target.closest?.("[data-handle]");
    const secEl = e.target.closest?.("[data-sec]");
    if (handle && selIndex() >= 0) {
      const i = selIndex(), [cx, cy] = layout().centres[i];
      gesture = { kind: handle.dataset.handle, i, cx, cy, start, cx0: e.clientX, cy0: e.clientY, moved: false, a0: Math.atan2(start[1] - cy, start[0] - cx), r0: Math.hypot(start[0] - cx, start[1] - cy) || 1 };
    } else if (secEl) {
      const i = +secEl.getAttribute("data-sec");
      if (i !== selIndex()) select(i);
      const [cx, cy] = layout().centres[i];
      gesture = { kind: "move", i, cx, cy, start, cx0: e.clientX, cy0: e.clientY, moved: false };
    } else gesture = { kind: "pan", cx0: e.clientX, cy0: e.clientY, moved: false };
  });

  canvas.addEventListener("pointermove", (e) => {
    const p = pointers.get(e.pointerId);
    if (!p) return hover(e);
    if (gesture?.kind === "pinch" && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const oldMid = [(a.x + b.x) / 2, (a.y + b.y) / 2], oldDist = Math.hypot(a.x - b.x, a.y - b.y);
      p.x = e.clientX; p.y = e.clientY;
      const newMid = [(a.x + b.x) / 2, (a.y + b.y) / 2], newDist = Math.hypot(a.x - b.x, a.y - b.y);
      const r = canvas.getBoundingClientRect();
      tx += newMid[0] - oldMid[0];
      ty += newMid[1] - oldMid[1];
      if (oldDist > 0) zoomAt(newMid[0] - r.left, newMid[1] - r.top, newDist / oldDist);
      return;
    }
    const g = gesture;
    const dxPx = e.clientX - p.x, dyPx = e.clientY - p.y;
    p.x = e.clientX; p.y = e.clientY;
    if (!g || g.kind === "pinch") return;
    if (!g.moved && Math.hypot(e.clientX - g.cx0, e.clientY - g.cy0) < DRAG_PX) return;
    if (!g.moved) { g.moved = true; canvas.classList.add("ed-dragging"); }
    if (g.kind === "pan") {
      tx += dxPx; ty += dyPx;
      userMoved = true;
      return scheduleView();
    }
    const [wx, wy] = toWorld(e.clientX, e.clientY);
    const G = groups.get(cur.sections[g.i]._k), base = `translate(${fmt(g.cx)} ${fmt(g.cy)})`;
    if (g.kind === "move") {
      g.dx = wx - g.start[0]; g.dy = wy - g.start[1];
      setTransform(G, `translate(${fmt(g.cx + g.dx)} ${fmt(g.cy + g.dy)})`);
      readout.textContent = `x ${Math.round(g.cx + g.dx)}, y ${Math.round(g.cy + g.dy)}`;
    } else if (g.kind === "rotate") {
      let deg = ((Math.atan2(wy - g.cy, wx - g.cx) - g.a0) * 180) / Math.PI;
      const sec = cur.sections[g.i];
      let total = Math.round((sec.rotation || 0) + deg);
      if (e.shiftKey) total = Math.round(total / 15) * 15; // Shift: steps of 15°
      total = ((((total + 180) % 360) + 360) % 360) - 180;
      if (total === -180 && (sec.rotation || 0) > 0) total = 180;
      deg = total - (sec.rotation || 0);
      g.rotation = total;
      setTransform(G, `${base} rotate(${deg})`);
      readout.textContent = `Rotation ${total}\u00b0`;
    } else if (g.kind === "resize") {
      const sec = cur.sections[g.i];
      const s = sec.seat_spacing ?? 100, r = sec.row_spacing ?? 100;
      const lo = Math.max(limits.spacing_min / s, limits.spacing_min / r), hi = Math.min(limits.spacing_max / s, limits.spacing_max / r);
      const f = Math.min(Math.max(hi, 1), Math.max(Math.min(lo, 1), Math.hypot(wx - g.cx, wy - g.cy) / g.r0));
      g.spacing = [Math.round(s * f), Math.round(r * f)];
      setTransform(G, `${base} scale(${f.toFixed(4)})`);
      readout.textContent = `Seat spacing ${g.spacing[0]} %, row spacing ${g.spacing[1]} %`;
    }
  });

  function endPointer(e) {
    if (!pointers.delete(e.pointerId)) return;
    if (pointers.size) return;
    canvas.classList.remove("ed-dragging");
    const g = gesture;
    gesture = null;
    if (!g || !g.moved || g.kind === "pan" || g.kind === "pinch" || e.type === "pointercancel") return cancelGesture(g);
    // One undo step per drag; sections laid out automatically keep where they are drawn.
    const v = frozenPositions(cur), sec = v.sections[g.i];
    if (g.kind === "move") commit(withSection(v, g.i, { x: Math.round(g.cx + (g.dx || 0)), y: Math.round(g.cy + (g.dy || 0)) }));
    else if (g.kind === "rotate" && g.rotation != null) commit(withSection(v, g.i, { rotation: g.rotation }));
    else if (g.kind === "resize" && g.spacing) commit(withSection(v, g.i, { seat_spacing: g.spacing[0], row_spacing: g.spacing[1] }));
    userMoved = true;
    flush();
    const s = cur.sections[g.i];
    say(g.kind === "move" ? `${sec.name} moved to x ${s.x}, y ${s.y}.` : g.kind === "rotate" ? `${sec.name} turned to ${s.rotation ?? 0}\u00b0.`
      : `${sec.name}: seat spacing ${s.seat_spacing} %, row spacing ${s.row_spacing} %.`);
  }

  /** A drag that does not change the state: put the section back where the state has it. */
  function cancelGesture(g = gesture) {
    if (!g || g.i == null) return;
    const sec = cur.sections[g.i], G = sec && groups.get(sec._k);
    if (G) { G.tr = ""; renderCanvas(); }
  }

  canvas.addEventListener("pointerup", endPointer);
  canvas.addEventListener("pointercancel", endPointer);
  canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const dy = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1);
    zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-Math.max(-300, Math.min(300, dy)) * 0.002));
  }, { passive: false });

  // Hover: the id of the nearest seat under the pointer (geometry, not DOM nodes).
  let hoverRaf = 0, hoverAt = null;
  function hover(e) {
    hoverAt = [e.clientX, e.clientY];
    if (!hoverRaf) hoverRaf = requestAnimationFrame(showHover);
  }
  function showHover() {
    hoverRaf = 0;
    if (!hoverAt || gesture) return;
    const [wx, wy] = toWorld(...hoverAt);
    const lay = layout(), order = cur.sections.map((_, i) => i).reverse(), si = selIndex();
    if (si >= 0) order.unshift(si); // the selected section first, then the top-most
    let found = null;
    for (const i of order) {
      const g = lay.geos[i], lx = wx - lay.centres[i][0], ly = wy - lay.centres[i][1];
      if (lx < g.box.minX - 1 || lx > g.box.maxX + 1 || ly < g.box.minY - 1 || ly > g.box.maxY + 1) continue;
      let best = -1, bd = Infinity;
      for (let p = 0; p < g.count; p++) {
        const dd = (g.xs[p] - lx) ** 2 + (g.ys[p] - ly) ** 2;
        if (dd < bd) { bd = dd; best = p; }
      }
      if (best >= 0 && Math.sqrt(bd) <= 0.6 * g.near) { found = { i, p: best, g }; break; }
    }
    if (!found) { tip.hidden = true; return; }
    const { i, p, g } = found;
    let ri = 0;
    while (g.rowStart[ri + 1] <= p) ri++;
    tip.textContent = `${cur.sections[i].name}/${cur.sections[i].rows[ri].label}/${p - g.rowStart[ri] + 1}`;
    const wrap = canvas.getBoundingClientRect();
    tip.hidden = false;
    tip.style.left = `${Math.round(hoverAt[0] - wrap.left + 12)}px`;
    tip.style.top = `${Math.round(hoverAt[1] - wrap.top + 14)}px`;
  }

  new ResizeObserver(() => resizeView(true)).observe(canvas);

  // ---- Save ----

  let saving = false;

  /** Hides the error messages inside `scope` and unmarks what they described. */
  function clearErrors(scope) {
    for (const el of scope.querySelectorAll(".field-error")) { el.hidden = true; el.textContent = ""; }
    for (const el of scope.querySelectorAll("[aria-invalid], [aria-describedby*='error-']")) {
      el.removeAttribute("aria-invalid");
      const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter((id) => id.startsWith("error-"));
      for (const id of ids) describe(el, id, false);
    }
  }

  function clearProblems() {
    problem = null;
    clearErrors(form);
    if (problemBox) { problemBox.hidden = true; problemBox.textContent = ""; }
    renderList();
    renderCanvas();
  }

  function showGeneral(text) {
    if (!problemBox) return say(text);
    problemBox.textContent = text;
    problemBox.hidden = false;
    problemBox.scrollIntoView?.({ block: "nearest" });
  }

  /** Puts `message` in error element `err` beside `input`, marks the input, focuses it. */
  function mark(input, err, message, focus = true) {
    err.textContent = message;
    err.hidden = false;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      describe(input, err.id, true);
      if (focus && !input.disabled) { input.focus(); input.scrollIntoView?.({ block: "center" }); return; }
    }
    if (focus) { err.focus?.(); err.scrollIntoView?.({ block: "center" }); }
  }

  /** Shows the placed problem again after the panel was rebuilt (not focusing anything). */
  function applyProblem(focus = false) {
    if (!problem) return;
    const sec = selSec();
    if (!sec || sec._k !== problem.sk) return;
    const { kind, row, rowField, message } = problem;
    if (kind === "section") {
      mark(null, sectionError, message, false);
      describe(panelHeading, sectionError.id, true);
      if (focus) panelHeading.focus();
    } else if (kind === "rows" || (kind === "row" && !rowsBody.children[row])) {
      mark(null, rowsError, message, false);
      describe(rowsTable, rowsError.id, true);
      if (focus) {
        const target = !frozen ? addRowBtn : null;
        if (target) { describe(target, rowsError.id, true); target.focus(); } else rowsError.focus();
        rowsError.scrollIntoView?.({ block: "center" });
      }
    } else if (kind === "row") {
      const tr = rowsBody.children[row], td = tr.querySelector(rowField === "seats" ? "input[name=row-seats]" : "input[name=row-label]");
      const id = `error-row-${row}-${rowField === "seats" ? "seats" : "label"}`;
      // In the row's first cell, spanning the row (editor.css), right under both inputs.
      let err = tr.querySelector(`#${id}`);
      if (!err) tr.firstElementChild.append((err = h("p", { class: "field-error ed-rowerror", id, tabindex: "-1" })));
      mark(td, err, message, focus);
    } else {
      const f = fields[kind];
      if (f) mark(f.input, f.err, message, focus);
    }
  }

  /** Shows a problem document next to what it concerns (see the path in its detail). */
  function place(p, httpStatus) {
    const detail = String(p.detail || p.title || `Saving failed (HTTP ${httpStatus}).`);
    const at = problemPath(detail);
    if (!at) return showGeneral(detail);
    // Beside the element it concerns, the message goes without the path that names it
    // ("sections[1].rows: give 1 to 1000 rows" shows "give 1 to 1000 rows" by that section's rows).
    const said = detail.slice(at.path.length + 2);
    if (at.top in venueInputs && venueInputs[at.top]) {
      return mark(venueInputs[at.top], form.querySelector(`#error-${at.top}`) || sectionsError, said);
    }
    const sec = at.top === "sections" && at.section != null ? cur.sections[at.section] : null;
    if (at.top !== "sections") return showGeneral(detail);
    if (!sec) return mark(null, sectionsError, said); // the venue as a whole
    const known = ["name", "x", "y", "rotation", "curve", "numbering", "seat_spacing", "row_spacing"];
    let kind = "section";
    if (at.field === "rows") kind = at.row == null ? "rows" : "row";
    else if (known.includes(at.field)) kind = at.field;
    problem = { sk: sec._k, kind, row: at.row, rowField: at.rowField, message: said };
    selK = sec._k;
    flush(); // selects the section, marks it in the list and on the drawing, fills the panel
    reveal(at.section);
    applyProblem(true);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (saving) return;
    clearProblems();
    saving = true;
    saveBtn?.setAttribute("aria-disabled", "true");
    form.setAttribute("aria-busy", "true");
    say("Saving the venue\u2026");
    const done = () => {
      saving = false;
      saveBtn?.removeAttribute("aria-disabled");
      form.removeAttribute("aria-busy");
    };
    let res;
    try {
      res = await fetch(d.saveUrl, {
        method: d.saveMethod || "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(payload(cur)),
        credentials: "same-origin",
      });
    } catch (err) {
      console.error("editor:", err);
      done();
      say("");
      return showGeneral("We could not reach the server, so nothing was saved. Your drawing is still here: check your connection and save again.");
    }
    let body = {};
    try { body = await res.json(); } catch { /* not JSON */ }
    if (res.ok && body && body.id != null) {
      say("Saved. Opening the venue\u2026");
      location.assign(`${d.doneUrl || ""}${encodeURIComponent(body.id)}?saved=1`);
      return; // stay busy: the page is leaving
    }
    done();
    say("The venue was not saved.");
    if (res.ok) showGeneral("The server's answer was not understood. Reload the page to see whether the venue was saved.");
    else if (res.status === 429) showGeneral("Too many saves in a short time: wait a moment, then save again. Your drawing is still here.");
    else if (res.status === 401) showGeneral("Your session has expired. Log in again in another tab, then save here again: your drawing is still here.");
    else if (res.status === 403) showGeneral(body.detail || "You may not change this venue.");
    else if (res.status >= 500) showGeneral(`The server could not save the venue (HTTP ${res.status}). Your drawing is still here; try again in a moment.`);
    else place(body || {}, res.status);
  });

  // ---- Start ----

  window.boxofficeEditor = {
    /** The JSON (as an object) that save would send now. */
    state: () => payload(cur),
    /** Selects section i, as a click in the list does. */
    select: (i) => select(i),
  };
  flush();
  // On phones the canvas takes the venue's shape (editor.css clamps it); set once, so that it
  // does not change size while the drawing is edited.
  const b0 = layout().box;
  if (cur.sections.length) canvas.style.setProperty("--ed-ratio", `${(b0.maxX - b0.minX + 6).toFixed(1)} / ${(b0.maxY - b0.minY + 6).toFixed(1)}`);
  resizeView(true);
  fit();
  updateHistoryButtons();
}

if (typeof document !== "undefined") {
  const form = document.getElementById("venue-editor");
  if (form) mountEditor(form);
}
