// A device's newest readings as a table, newest first: loaded from the API, then live. A reading
// seen twice (live, then again when catching up) is shown once.

import { api, devicePath } from "../api.js";
import { fill, h } from "../dom.js";
import { clockMs, formatValue } from "../format.js";

const shown = 50;

/** Identity of a reading on the page: live messages carry no (epoch, seq), so time and values. */
function key(reading) {
  return `${reading.ts}|${JSON.stringify(reading.values)}`;
}

export class ReadingsTable {
  #id;
  #readings = []; // newest first
  #keys = new Set();
  #units = {};
  #head = h("thead");
  #body = h("tbody", { id: "readings" });

  constructor(id) {
    this.#id = id;
  }

  /** The section with its table. */
  get element() {
    return h("section", { class: "section" },
      h("h2", {}, "Latest readings"),
      h("div", { class: "panel table-wrap scroll" }, h("table", { class: "readings" }, this.#head, this.#body)));
  }

  /** The newest reading's time, if any. */
  get newest() {
    return this.#readings[0]?.ts;
  }

  /** Units by value name, for the column headings. */
  set units(units) {
    this.#units = { ...this.#units, ...units };
  }

  /** Loads the newest readings. */
  async load() {
    const readings = await api(devicePath(this.#id, `/readings?limit=${shown}`));
    this.#readings = [];
    this.#keys.clear();
    this.merge(readings);
  }

  /** Adds readings (any order); returns how many were new. */
  merge(readings, { fresh = false } = {}) {
    let added = 0;
    for (const reading of readings) {
      const k = key(reading);
      if (this.#keys.has(k)) continue;
      this.#keys.add(k);
      this.#readings.push({ ...reading, fresh });
      added += 1;
    }
    this.#readings.sort((a, b) => b.ts - a.ts);
    for (const dropped of this.#readings.splice(shown)) this.#keys.delete(key(dropped));
    this.#render();
    return added;
  }

  #render() {
    const names = [];
    for (const reading of this.#readings) {
      for (const name of Object.keys(reading.values)) if (!names.includes(name)) names.push(name);
    }
    fill(this.#head, h("tr", {}, h("th", {}, "Time"),
      names.map((name) => h("th", { class: "num" }, name, this.#units[name] ? h("span", { class: "muted" }, ` ${this.#units[name]}`) : null))));
    if (this.#readings.length === 0) {
      fill(this.#body, h("tr", {}, h("td", { class: "empty", colspan: names.length + 1 }, "No readings yet.")));
      return;
    }
    fill(this.#body, this.#readings.map((reading) => {
      const flagged = reading.outOfRange ?? [];
      const row = h("tr", { class: reading.fresh ? "fresh" : null, title: new Date(reading.ts).toLocaleString() },
        h("td", { class: "mono" }, clockMs(reading.ts)),
        names.map((name) => h("td", { class: `num ${flagged.includes(name) ? "flag" : ""}`, dataset: { name }, title: flagged.includes(name) ? "outside the profile's valid range" : null },
          name in reading.values ? formatValue(reading.values[name]) : "")));
      reading.fresh = false;
      return row;
    }));
  }
}
