// A device's charts: one per numeric value, over the last 15 minutes (raw readings, then live) or
// hours to days (downsampled buckets from the API, drawn as mean with a min–max band). Live
// readings are appended whatever the range; the window slides with the clock.

import { api, devicePath } from "../api.js";
import { TimeChart } from "../chart.js";
import { fill, h } from "../dom.js";
import { formatValue } from "../format.js";

const minute = 60_000;
const hour = 60 * minute;

/** The ranges offered, with how many points to ask the API for. */
export const ranges = [
  // Raw readings for devices up to about 6 per second; faster ones get 1-minute buckets.
  { key: "15m", label: "15 min", span: 15 * minute, points: 6000 },
  { key: "6h", label: "6 h", span: 6 * hour, points: 360 },
  { key: "24h", label: "24 h", span: 24 * hour, points: 288 },
  { key: "7d", label: "7 d", span: 7 * 24 * hour, points: 336 },
];

/** Points per value of a readings answer (raw or buckets), and how far apart points may be joined. */
export function seriesOf(answer) {
  const series = new Map();
  const push = (name, point) => {
    if (!series.has(name)) series.set(name, []);
    series.get(name).push(point);
  };
  if (answer.mode === "buckets") {
    for (const bucket of answer.buckets) {
      for (const [name, cell] of Object.entries(bucket.values)) {
        push(name, { t: bucket.ts + answer.stepMs / 2, v: cell.mean, lo: cell.min, hi: cell.max });
      }
    }
    return { series, gapMs: answer.stepMs * 1.5 };
  }
  const readings = answer.readings ?? answer;
  for (const reading of readings) {
    for (const [name, value] of Object.entries(reading.values)) {
      if (typeof value === "number") push(name, { t: reading.ts, v: value });
    }
  }
  // Raw readings: a silence of five usual intervals (at least 10 s) is shown as a gap.
  const intervals = readings.slice(1).map((r, i) => r.ts - readings[i].ts).sort((a, b) => a - b);
  const median = intervals[Math.floor(intervals.length / 2)];
  return { series, gapMs: median === undefined ? Infinity : Math.max(10_000, median * 5) };
}

export class HistoryCharts {
  #id;
  #range = ranges[0];
  #cards = new Map();
  #units = {};
  #grid = h("div", { class: "charts", id: "charts" });
  #tabs = h("div", { class: "range-tabs", role: "group", "aria-label": "Time range" });
  #note = h("span", { class: "muted", id: "history-mode" });
  #loading = 0;

  constructor(id) {
    this.#id = id;
    for (const range of ranges) {
      this.#tabs.append(h("button", {
        type: "button", dataset: { range: range.key }, "aria-pressed": String(range === this.#range),
        onclick: () => this.#select(range),
      }, range.label));
    }
  }

  /** The section: heading with the range tabs, then the charts. */
  get element() {
    return h("section", { class: "section" }, h("h2", {}, "History", this.#note, this.#tabs), this.#grid);
  }

  /** Shows the latest values (and makes a chart for each numeric one). */
  setLatest(values = {}, units = {}) {
    this.#units = { ...this.#units, ...units };
    for (const [name, value] of Object.entries(values)) {
      if (typeof value !== "number") continue;
      this.#card(name).now.replaceChildren(formatValue(value), this.#units[name] ? h("small", {}, this.#units[name]) : "");
    }
    if (this.#cards.size === 0) fill(this.#grid, h("div", { class: "panel empty" }, "This device has no numeric values to chart."));
  }

  /** Loads the selected range from the API. */
  async load() {
    const range = this.#range;
    const ticket = ++this.#loading;
    const now = Date.now();
    const answer = await api(devicePath(this.#id, `/readings?from=${Math.max(0, now - range.span)}&points=${range.points}`));
    if (ticket !== this.#loading) return; // a newer range was picked meanwhile
    this.#units = { ...this.#units, ...(answer.units ?? {}) };
    const { series, gapMs } = seriesOf(answer);
    for (const name of series.keys()) this.#card(name);
    for (const [name, card] of this.#cards) card.chart.setData(series.get(name) ?? [], { gapMs });
    this.#note.textContent = answer.mode === "buckets" ? ` · ${answer.stepMs / minute}-min buckets` : "";
    this.tick(now);
  }

  /** Adds a live reading to the charts. */
  add(ts, values) {
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === "number") this.#card(name).chart.add({ t: ts, v: value });
    }
  }

  /** Slides every chart's window to end now; drops what fell out of it. */
  tick(now = Date.now()) {
    for (const card of this.#cards.values()) {
      card.chart.dropBefore(now - this.#range.span);
      card.chart.setWindow(now - this.#range.span, now);
    }
  }

  /** Stops the charts' resize observers. */
  destroy() {
    for (const card of this.#cards.values()) card.chart.destroy();
  }

  #select(range) {
    this.#range = range;
    for (const button of this.#tabs.children) button.setAttribute("aria-pressed", String(button.dataset.range === range.key));
    this.load().catch((error) => {
      if (error.status !== 401) this.#note.textContent = ` · could not load: ${error.message}`;
    });
  }

  #card(name) {
    let card = this.#cards.get(name);
    if (card) return card;
    if (this.#cards.size === 0) fill(this.#grid);
    const canvas = h("canvas", { role: "img", "aria-label": `${name} over time` });
    const now = h("span", { class: "now" }, "—");
    const unit = this.#units[name];
    this.#grid.append(h("div", { class: "panel chart-card", dataset: { value: name } },
      h("header", {}, h("h3", {}, name), unit ? h("span", { class: "muted" }, unit) : null, now),
      canvas));
    card = { chart: new TimeChart(canvas, { unit }), now };
    this.#cards.set(name, card);
    return card;
  }
}
