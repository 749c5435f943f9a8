// What the page modules share: building DOM and SVG elements (strings passed as children become
// text nodes, never markup), and prices written as the server's pages write them. Imported by
// its plain name (`./dom.js`), which the gateway serves beside the hashed one.

export const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) el.setAttribute(k, v === true ? "" : v);
  el.append(...kids.filter((k) => k != null));
  return el;
}

export function svg(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, v);
  el.append(...kids);
  return el;
}

const formatters = new Map();

/** "EUR 45.00": the same form as the server's pages, so one price reads one way everywhere. */
export function formatPrice(cents, currency) {
  let f = formatters.get(currency);
  if (!f) {
    try {
      const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
      f = { digits, fmt: new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "code" }) };
    } catch {
      f = { digits: 2, fmt: { format: (v) => `${v.toFixed(2)} ${currency}` } };
    }
    formatters.set(currency, f);
  }
  return f.fmt.format(cents / 10 ** f.digits);
}
