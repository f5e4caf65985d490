// Pieces several pages show the same way: a device's state, its error counters, its latest
// values, a gateway's status, a "… ago" that keeps ticking.

import { badge, h } from "../dom.js";
import { ago, formatValue } from "../format.js";

/** A device session's state (from its newest device event) as a badge. */
export function deviceStateBadge(device) {
  const tone = { attached: "ok", detached: "warn", error: "bad" }[device.state] ?? "";
  const badgeElement = badge(device.state ?? "no events yet", tone, "device-state");
  if (device.stateMessage) badgeElement.title = device.stateMessage;
  return badgeElement;
}

/** A gateway's connection as a badge. */
export function gatewayBadge(gateway) {
  return badge(gateway.online ? "online" : "offline", gateway.online ? "ok" : "bad", "gateway-state");
}

/**
 * The error counters shown for every device, in this order. Which a device has depends on its
 * session: streaming devices count framing errors, polled ones timeouts. Absent ones show "—".
 */
export const errorCounters = [
  { key: "checksumErrors", label: "Checksum errors", short: "Checksum" },
  { key: "framingErrors", label: "Framing errors", short: "Framing" },
  { key: "timeouts", label: "Timeouts", short: "Timeouts" },
  { key: "decodeErrors", label: "Decode errors", short: "Decode" },
];

/** Other counters of device events, with their labels (docs/PROTOCOL.md, `device`). */
export const otherCounters = [
  { key: "bytes", label: "Bytes read" },
  { key: "frames", label: "Frames" },
  { key: "readings", label: "Readings (session)" },
  { key: "requests", label: "Requests" },
  { key: "answers", label: "Answers" },
  { key: "retries", label: "Retries" },
  { key: "exceptions", label: "Modbus exceptions" },
  { key: "failedCycles", label: "Failed poll cycles" },
  { key: "resyncs", label: "Resyncs" },
  { key: "outOfRange", label: "Out of range" },
  { key: "reopens", label: "Reopens" },
];

/** A device's latest values with their units; out-of-range ones flagged. */
export function valueList(values = {}, units = {}, outOfRange = []) {
  return h("div", { class: "values" }, Object.entries(values).map(([name, value]) => {
    const flagged = outOfRange.includes(name);
    return h("span", { class: flagged ? "value out-of-range" : "value", dataset: { name }, title: flagged ? "outside the profile's valid range" : null },
      h("span", { class: "name" }, name),
      h("b", {}, formatValue(value)),
      units[name] ? h("span", { class: "unit" }, units[name]) : null);
  }));
}

/** "12 s ago" for `ts`, kept current by the page's ticker (it updates every `.ago`). */
export function agoText(ts) {
  return h("span", { class: "ago", dataset: { ts: ts ?? "" }, title: ts ? new Date(ts).toLocaleString() : null }, ago(ts, Date.now()));
}

/** Updates every `.ago` under `root` to the current time. */
export function tickAges(root, now = Date.now()) {
  for (const element of root.querySelectorAll(".ago")) {
    const ts = element.dataset.ts ? Number(element.dataset.ts) : undefined;
    element.textContent = ago(ts, now);
  }
}

/** A message for a failed load, shown in place of the page's content. */
export function loadError(what, error) {
  return h("div", { class: "panel pad error-text load-error" }, `Could not load ${what}: ${error.message}`);
}
