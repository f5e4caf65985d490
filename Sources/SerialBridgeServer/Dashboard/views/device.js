// One device: state and counters, a chart per value, the newest readings, its commands and its
// raw bytes. Live for this device only; after a reconnect it fetches the readings since the newest
// one it had, so nothing that arrived meanwhile is missing.

import { api, devicePath, gatewayPath } from "../api.js";
import { fill, h, stat } from "../dom.js";
import { formatCount } from "../format.js";
import { link } from "../router.js";
import { CommandPanel } from "./commands.js";
import { HistoryCharts } from "./history.js";
import { RawView } from "./rawview.js";
import { ReadingsTable } from "./readings.js";
import { agoText, deviceStateBadge, errorCounters, gatewayBadge, loadError, otherCounters, valueList } from "./state.js";

export class DeviceView {
  #id;
  #gatewayID;
  #device = null;
  #gateway = null;
  #head = h("div", { class: "page-head" });
  #stats = h("div", { id: "counters" });
  #others = h("div", { id: "other-values" });
  #history;
  #readings;
  #commands;
  #raw;
  #ticker = null;
  #onPageHide = () => this.#raw.stop({ leaving: true });

  constructor(id) {
    this.#id = id;
    const colon = id.indexOf(":");
    this.#gatewayID = id.slice(0, colon);
    this.topics = [id];
    this.crumbs = [{ text: this.#gatewayID, href: link.gateway(this.#gatewayID) }, { text: id.slice(colon + 1) }];
    this.title = id;
    this.#history = new HistoryCharts(id);
    this.#readings = new ReadingsTable(id);
    this.#commands = new CommandPanel(id);
    this.#raw = new RawView(id);
  }

  mount(container) {
    fill(this.#head, h("h1", {}, this.crumbs[1].text));
    container.append(this.#head, this.#stats, this.#others, this.#history.element, this.#readings.element,
      this.#commands.element, this.#raw.element);
    window.addEventListener("pagehide", this.#onPageHide);
    this.#ticker = setInterval(() => this.#history.tick(), 1000);
    return this.#load();
  }

  unmount() {
    clearInterval(this.#ticker);
    window.removeEventListener("pagehide", this.#onPageHide);
    this.#raw.stop({ leaving: true });
    this.#history.destroy();
  }

  async catchUp() {
    this.#raw.resume();
    try {
      const since = this.#readings.newest ?? this.#device?.lastTs;
      const [device, gateway, missed] = await Promise.all([
        api(devicePath(this.#id)),
        this.#fetchGateway(),
        since === undefined ? null : api(devicePath(this.#id, `/readings?from=${since}&points=5000`)),
      ]);
      this.#device = device;
      this.#gateway = gateway;
      this.#render();
      if (missed?.mode === "raw") {
        this.#readings.merge(missed.readings, { fresh: true });
        for (const reading of missed.readings) this.#history.add(reading.ts, reading.values);
      } else {
        await Promise.all([this.#readings.load(), this.#history.load()]);
      }
      await this.#commands.loadHistory();
    } catch (error) {
      if (error.status !== 401) fill(this.#stats, loadError(`device ${this.#id}`, error));
    }
  }

  live(message) {
    if (message.type === "gateway" || message.type === "link") {
      if (message.gateway === this.#gatewayID && this.#gateway && message.type === "gateway") {
        this.#gateway.online = message.online;
        this.#render();
      }
      return;
    }
    if (message.id !== this.#id) return;
    switch (message.type) {
      case "reading": {
        const device = this.#device ?? { id: this.#id, gateway: this.#gatewayID, device: message.device, readings: 0 };
        Object.assign(device, {
          profile: message.profile, lastTs: Math.max(device.lastTs ?? 0, message.ts), values: message.values,
          units: message.units, outOfRange: message.outOfRange ?? [], readings: (device.readings ?? 0) + 1,
        });
        this.#device = device;
        this.#readings.units = message.units;
        if (this.#readings.merge([{ ts: message.ts, values: message.values, outOfRange: message.outOfRange }], { fresh: true }) > 0) {
          this.#history.add(message.ts, message.values);
        }
        this.#render();
        break;
      }
      case "device":
        if (!this.#device) return;
        this.#device.state = message.state;
        this.#device.stateMessage = message.message;
        if (message.counters) this.#device.counters = message.counters;
        if (message.commands) this.#commands.setCommands(message.commands);
        this.#render();
        break;
      case "tap":
        this.#raw.show(message);
        break;
    }
  }

  async #load() {
    try {
      const [device, gateway] = await Promise.all([api(devicePath(this.#id)), this.#fetchGateway()]);
      this.#device = device;
      this.#gateway = gateway;
      this.#readings.units = device.units;
      this.#commands.setCommands(device.commands);
      this.#render();
      await Promise.all([this.#history.load(), this.#readings.load(), this.#commands.loadHistory()]);
    } catch (error) {
      if (error.status === 401) return;
      fill(this.#stats, loadError(`device ${this.#id}`, error));
    }
  }

  /** The device's gateway, or null when the API does not know it (it only sees the readings). */
  async #fetchGateway() {
    try {
      return await api(gatewayPath(this.#gatewayID));
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  }

  #render() {
    const d = this.#device;
    if (!d) return;
    fill(this.#head,
      h("h1", {}, d.device),
      deviceStateBadge(d),
      this.#gateway && !this.#gateway.online ? gatewayBadge(this.#gateway) : null,
      h("div", { class: "sub" },
        h("span", {}, "profile ", h("b", {}, d.profile)),
        h("span", {}, "on ", h("a", { href: link.gateway(d.gateway) }, d.gateway)),
        h("span", {}, "last reading ", agoText(d.lastTs)),
        d.stateMessage ? h("span", { class: d.state === "attached" ? "" : "error-text", id: "state-message" }, d.stateMessage) : null));
    const counters = d.counters ?? {};
    const others = otherCounters.filter((c) => counters[c.key] !== undefined);
    fill(this.#stats,
      h("div", { class: "stats" },
        stat("Readings stored", formatCount(d.readings), { key: "stored" }),
        errorCounters.map((c) => stat(c.label, counters[c.key] === undefined ? "—" : formatCount(counters[c.key]),
          { key: c.key, tone: counters[c.key] > 0 ? "alert" : null }))),
      // Counters travel with device events (attach, detach, errors), not with every reading.
      h("details", { class: "more-counters" },
        h("summary", {}, "Session counters, as of the device's latest event"),
        others.length
          ? h("div", { class: "stats" }, others.map((c) => stat(c.label, formatCount(counters[c.key]), { key: c.key })))
          : h("p", { class: "muted" }, "No device event has been received yet.")));
    this.#history.setLatest(d.values, d.units);
    const texts = Object.fromEntries(Object.entries(d.values ?? {}).filter(([, v]) => typeof v !== "number"));
    fill(this.#others, Object.keys(texts).length
      ? h("section", { class: "section" }, h("h2", {}, "Other values"), h("div", { class: "panel pad" }, valueList(texts, d.units, d.outOfRange)))
      : null);
  }
}
