// Organizer's live sales dashboard (/organize/events/{id}): keeps the figures table current from
// the event's stats stream, marks what changed, and draws holds and sales per minute as an SVG
// chart (the server's data table stays for screen readers and is kept current too). The page
// works without it. No dependencies; strict-CSP safe (no inline styles, text only via textContent).
//
// Hooks (the server-rendered #dashboard section): [data-dashboard][data-stats-stream]
// [data-currency], #dashboard-live, #stats tr[data-category] > [data-stat], #rate-chart-plot,
// #rate-table. Announces every reading as `boxoffice:stats` on window.

import { formatPrice, h, svg } from "./dom.js";
const STATS = ["sold", "held", "available", "revenue", "checked_in", "waiting"];
const FLASH_MS = 1600;
const GIVE_UP_MS = 60000; // failing this long without a reading: "Not live"

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const minuteClock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });



const plural = (n, one, many) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const count = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** A round step and top for an axis from 0 to at least `max`, about `ticks` steps. */
export function niceScale(max, ticks) {
  const raw = Math.max(1, max) / Math.max(1, ticks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = Math.max(1, (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag);
  return { step, top: Math.max(step, Math.ceil(Math.max(1, max) / step) * step) };
}

/** Per-minute buckets of an `activity` reading: [{start: Date, holds, sales}], oldest first. */
export function buckets(activity) {
  const holds = Array.isArray(activity?.holds) ? activity.holds : [];
  const sales = Array.isArray(activity?.sales) ? activity.sales : [];
  const n = Math.max(holds.length, sales.length);
  const seconds = count(activity?.bucket_seconds) || 60;
  let until = Date.parse(activity?.until);
  if (Number.isNaN(until)) until = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    start: new Date(until - (n - i) * seconds * 1000),
    holds: Math.max(0, count(holds[i])),
    sales: Math.max(0, count(sales[i])),
  }));
}

/** What the chart says, in words (its aria-label). */
export function summary(activity) {
  const bs = buckets(activity);
  const seconds = count(activity?.bucket_seconds) || 60;
  const span = Math.round((bs.length * seconds) / 60);
  const holds = bs.reduce((s, b) => s + b.holds, 0);
  const sales = bs.reduce((s, b) => s + b.sales, 0);
  let text = `Last ${plural(span, "minute", "minutes")}: ${plural(holds, "hold", "holds")}, ${plural(sales, "sale", "sales")}`;
  if (holds + sales > 0) {
    const busiest = bs.reduce((a, b) => (b.holds + b.sales > a.holds + a.sales ? b : a));
    text += `; busiest minute ${minuteClock.format(busiest.start)} with ${plural(busiest.holds, "hold", "holds")} and ${plural(busiest.sales, "sale", "sales")}`;
  }
  return `${text}.`;
}

/** The chart as an SVG `width` px wide (drawn at its real size, so text stays readable). */
export function chart(activity, width) {
  const bs = buckets(activity);
  const n = Math.max(1, bs.length);
  const seconds = count(activity?.bucket_seconds) || 60;
  const W = Math.max(260, Math.round(width) || 600);
  const narrow = W < 480;
  const H = narrow ? 210 : 250;
  const font = narrow ? 12 : 13;
  const end = bs.length ? bs[bs.length - 1].start.getTime() + seconds * 1000 : Date.now();
  // Room for a time label ("10:48 AM" or "10:48"), centred under its tick.
  const labelW = minuteClock.format(new Date(end)).length * font * 0.62 + 14;
  const m = { l: Math.max(40, labelW / 2), r: Math.max(14, labelW / 2), t: 12, b: 44 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const max = Math.max(1, ...bs.map((b) => Math.max(b.holds, b.sales)));
  const { step, top } = niceScale(max, narrow ? 3 : 5);
  const y = (v) => m.t + ph - (v / top) * ph;
  const slot = pw / n;
  const barW = Math.max(2, Math.min(24, slot * 0.62));
  const cx = (i) => m.l + (i + 0.5) * slot;

  const root = svg("svg", {
    class: "rc-svg", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-label": summary(activity), focusable: "false", "font-size": font,
  });
  const grid = svg("g", { class: "rc-grid" });
  for (let v = 0; v <= top; v += step) {
    grid.append(
      svg("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: v === 0 ? "rc-base" : "rc-gridline" }),
      svg("text", { x: m.l - 6, y: y(v), "text-anchor": "end", "dominant-baseline": "middle", class: "rc-label" }, v.toLocaleString("en")),
    );
  }
  // x ticks at bucket boundaries counted back from now, as close as their labels allow: local
  // time, and minutes ago under it.
  const steps = [1, 2, 3, 5, 10, 15, 20, 30, 60, 120].map((k) => Math.max(1, Math.round((k * 60) / seconds)));
  const every = steps.find((k) => k * slot >= labelW) || n;
  const ticks = [];
  for (let k = n; k >= 0; k -= every) ticks.unshift(k);
  for (const k of ticks) {
    const x = m.l + k * slot;
    const anchor = "middle";
    const ago = Math.round(((n - k) * seconds) / 60);
    grid.append(
      svg("line", { x1: x, x2: x, y1: m.t + ph, y2: m.t + ph + 5, class: "rc-base" }),
      svg("text", { x, y: m.t + ph + 19, "text-anchor": anchor, class: "rc-label" }, minuteClock.format(new Date(end - (n - k) * seconds * 1000))),
      svg("text", { x, y: m.t + ph + 36, "text-anchor": anchor, class: "rc-label rc-ago" }, ago === 0 ? "now" : `${ago} min ago`),
    );
  }
  root.append(grid);

  // Sales: solid bars. Holds: a dashed line with hollow dots (told apart by shape, not colour).
  const sales = svg("g", { class: "rc-sales" });
  bs.forEach((b, i) => {
    if (b.sales > 0) sales.append(svg("rect", { x: cx(i) - barW / 2, y: y(b.sales), width: barW, height: Math.max(1, m.t + ph - y(b.sales)), class: "rc-sale" }));
  });
  const points = bs.map((b, i) => `${cx(i).toFixed(1)},${y(b.holds).toFixed(1)}`).join(" ");
  const holds = svg("g", { class: "rc-holds" }, svg("polyline", { points, class: "rc-hold-line", fill: "none" }));
  const r = slot >= 9 ? 3 : 2;
  bs.forEach((b, i) => { if (b.holds > 0) holds.append(svg("circle", { cx: cx(i), cy: y(b.holds), r, class: "rc-hold-dot" })); });
  root.append(sales, holds);

  // Hover targets: one per minute, with a tooltip (the figures are in the table for everyone).
  const hits = svg("g", { class: "rc-hits" });
  bs.forEach((b, i) => hits.append(svg("rect", { x: m.l + i * slot, y: m.t, width: slot, height: ph, class: "rc-hit" },
    svg("title", {}, `${minuteClock.format(b.start)}: ${plural(b.holds, "hold", "holds")}, ${plural(b.sales, "sale", "sales")}`))));
  root.append(hits);
  return root;
}

function legend() {
  const swatch = (...kids) => svg("svg", { viewBox: "0 0 28 14", width: 28, height: 14, "aria-hidden": "true", focusable: "false" }, ...kids);
  return h("ul", { class: "rc-legend" },
    h("li", {}, swatch(svg("rect", { x: 8, y: 1, width: 12, height: 12, class: "rc-sale" })), "Sales (bars)"),
    h("li", {}, swatch(svg("line", { x1: 1, x2: 27, y1: 7, y2: 7, class: "rc-hold-line" }), svg("circle", { cx: 14, cy: 7, r: 3, class: "rc-hold-dot" })), "Holds (dashed line)"));
}

export function mount(root) {
  if (root.dataset.mounted) return;
  root.dataset.mounted = "1";
  const url = root.dataset.statsStream;
  if (!url || !("EventSource" in window)) return;
  const live = root.querySelector("#dashboard-live");
  const table = root.querySelector("#stats");
  const plot = root.querySelector("#rate-chart-plot");
  const rateTable = root.querySelector("#rate-table");
  const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)");

  // The status line: screen readers hear the state (Live, Reconnecting, Not live), not the
  // clock ticking every second, so the time sits in an aria-hidden span.
  const state = h("span", { class: "live-state" });
  const when = h("span", { class: "live-when", "aria-hidden": "true" });
  if (live) live.replaceChildren(state, when);
  let lastUpdate = null;
  const setLive = (mode, text) => {
    if (!live) return;
    live.dataset.state = mode;
    if (state.textContent !== text) state.textContent = text;
    if (!lastUpdate) when.textContent = "";
    else when.textContent = mode === "live" ? ` · updated ${clock.format(lastUpdate)}` : ` · last update ${clock.format(lastUpdate)}`;
  };

  // --- The figures.
  const setCell = (cell, text) => {
    // The server writes a plain space where Intl writes a no-break space: the same text.
    if (cell.textContent.replace(/\s/g, " ") === text.replace(/\s/g, " ")) return;
    cell.textContent = text;
    clearTimeout(cell._flash);
    cell.classList.remove("changed");
    if (!reduceMotion.matches) void cell.offsetWidth; // restart the highlight
    cell.classList.add("changed");
    cell._flash = setTimeout(() => cell.classList.remove("changed"), FLASH_MS);
  };
  const fill = (row, figures, currency) => {
    if (!row) return;
    for (const cell of row.querySelectorAll("[data-stat]")) {
      const key = cell.dataset.stat;
      if (key === "revenue") {
        if (typeof figures.revenue_cents === "number") setCell(cell, formatPrice(figures.revenue_cents, currency));
      } else if (typeof figures[key] === "number") {
        setCell(cell, figures[key].toLocaleString("en"));
      }
    }
  };
  const showFigures = (stats) => {
    if (!table) return;
    const currency = stats.currency || root.dataset.currency || "";
    for (const category of stats.categories || []) {
      if (category?.category_id == null) continue;
      fill(table.querySelector(`tr[data-category="${CSS.escape(String(category.category_id))}"]`), category, currency);
    }
    fill(table.querySelector('tr[data-category="total"]'), stats, currency);
  };

  // --- The chart and its table.
  let activity = null;
  let lastActivity = "";
  let svgBox = null;
  const draw = () => {
    if (!plot || !activity) return;
    const width = plot.clientWidth || plot.getBoundingClientRect().width || 600;
    const drawn = chart(activity, width);
    if (!svgBox) {
      svgBox = h("div", { class: "rc-box" });
      plot.replaceChildren(legend(), svgBox);
      rateTable?.classList.add("visually-hidden");
    }
    svgBox.replaceChildren(drawn);
  };
  const showTable = () => {
    if (!rateTable) return;
    let body = rateTable.tBodies[0];
    if (!body) body = rateTable.appendChild(h("tbody"));
    body.replaceChildren(...buckets(activity).map((b) => h("tr", {},
      h("th", { scope: "row" }, h("time", { datetime: b.start.toISOString() }, minuteClock.format(b.start))),
      h("td", {}, b.holds.toLocaleString("en")),
      h("td", {}, b.sales.toLocaleString("en")))));
  };
  const showActivity = (next) => {
    if (!next || (!Array.isArray(next.holds) && !Array.isArray(next.sales))) return;
    const key = JSON.stringify(next);
    if (key === lastActivity) return;
    lastActivity = key;
    activity = next;
    draw();
    showTable();
  };
  if (plot && "ResizeObserver" in window) {
    let width = 0, frame = 0;
    new ResizeObserver((entries) => {
      const w = Math.round(entries[0].contentRect.width);
      if (w === width) return;
      width = w;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(draw);
    }).observe(plot);
  }

  // --- The stream.
  let stream = null;
  let failingSince = 0;
  let giveUp = 0;
  let gaveUp = false;
  const notLive = () => {
    gaveUp = true;
    setLive("closed", "Not live: reload the page");
  };
  const open = () => {
    gaveUp = false;
    stream = new EventSource(url);
    stream.addEventListener("open", () => { failingSince = 0; clearTimeout(giveUp); });
    stream.addEventListener("stats", (event) => {
      let stats;
      try { stats = JSON.parse(event.data); } catch { return; }
      if (!stats || typeof stats !== "object") return;
      failingSince = 0;
      gaveUp = false;
      clearTimeout(giveUp);
      lastUpdate = new Date();
      setLive("live", "Live");
      showFigures(stats);
      showActivity(stats.activity);
      window.dispatchEvent(new CustomEvent("boxoffice:stats", { detail: stats }));
    });
    stream.addEventListener("closed", () => {
      stream.close();
      clearTimeout(giveUp);
      notLive();
    });
    stream.addEventListener("error", () => {
      // EventSource reconnects by itself unless the server refused (then it is CLOSED).
      if (stream.readyState === EventSource.CLOSED) {
        clearTimeout(giveUp);
        notLive();
        return;
      }
      if (!gaveUp) setLive("reconnecting", "Reconnecting…");
      if (!failingSince) {
        failingSince = Date.now();
        clearTimeout(giveUp);
        giveUp = setTimeout(() => { if (failingSince) notLive(); }, GIVE_UP_MS);
      }
    });
  };
  open();
  // An open stream keeps a page out of the back/forward cache: close it on the way out, and
  // open it again if the page comes back.
  addEventListener("pagehide", () => { stream?.close(); clearTimeout(giveUp); });
  addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    setLive("reconnecting", "Reconnecting…");
    open();
  });
}

if (typeof document !== "undefined") {
  const el = document.querySelector("[data-dashboard]");
  if (el) mount(el);
}
