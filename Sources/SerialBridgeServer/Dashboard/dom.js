// Building DOM without a framework. Text always goes in as text nodes, never as HTML, so nothing a
// device or gateway reports can inject markup into the page.

/**
 * Creates an element. `props`: `class`, `dataset` (object), `on…` (event listeners), `text`, or any
 * attribute (`true` sets it empty, `null`/`false`/`undefined` leave it out). Children are nodes or
 * strings; arrays are flattened and `null`/`false` skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces `element`'s children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A badge (`ok`, `warn`, `bad` or neutral) with a dot. */
export function badge(text, tone = "", extraClass = "") {
  return h("span", { class: `badge ${tone} ${extraClass}`.trim() }, text);
}

/** A stat tile: label, value (with an optional unit), and a muted detail line. */
export function stat(label, value, { unit, detail, tone, key } = {}) {
  return h("div", { class: `panel stat ${tone ?? ""}`.trim(), dataset: key ? { stat: key } : undefined },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value, unit ? h("small", {}, unit) : null),
    detail ? h("div", { class: "detail" }, detail) : null);
}

/** Shows a message in the banner under the top bar until `clearBanner` (or the next message). */
export function showBanner(message, { error = false } = {}) {
  const banner = document.getElementById("banner");
  if (!banner) return;
  banner.textContent = message;
  banner.classList.toggle("error", error);
  banner.hidden = false;
}

/** Hides the banner. */
export function clearBanner() {
  const banner = document.getElementById("banner");
  if (banner) banner.hidden = true;
}
