// One gateway: its connection and link health, and its devices with their state, latest reading
// and error counters, kept live (readings and device events of this gateway's devices).

import { api, gatewayPath } from "../api.js";
import { fill, h, stat } from "../dom.js";
import { endingsText, formatCount, reconnects } from "../format.js";
import { link } from "../router.js";
import { EventList } from "./events.js";
import { agoText, deviceStateBadge, errorCounters, gatewayBadge, loadError, valueList } from "./state.js";

export class GatewayView {
  #id;
  #gateway = null;
  #devices = new Map();
  #rows = new Map();
  #head = h("div", { class: "page-head" });
  #stats = h("div", { class: "stats" });
  #body = h("tbody", { id: "devices" });
  #events = new EventList();
  #refetching = null;

  constructor(id) {
    this.#id = id;
    this.topics = [`${id}:*`];
    this.crumbs = [{ text: id }];
    this.title = id;
  }

  mount(container) {
    fill(this.#head, h("h1", {}, this.#id));
    container.append(
      this.#head,
      this.#stats,
      h("section", { class: "section" },
        h("h2", {}, "Devices"),
        h("div", { class: "panel table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {},
            h("th", {}, "Device"), h("th", {}, "State"), h("th", { class: "wide-only" }, "Profile"),
            h("th", {}, "Last reading"), h("th", { class: "wide-only" }, "Seen"),
            errorCounters.map((c) => h("th", { class: "num", title: c.label }, c.short)))),
          this.#body))),
      h("section", { class: "section" }, h("h2", {}, "Recent events"), h("div", { class: "panel" }, this.#events.element)));
    return this.#load();
  }

  unmount() {
    clearTimeout(this.#refetching);
  }

  catchUp() {
    return this.#load();
  }

  live(message) {
    switch (message.type) {
      case "reading": {
        if (message.gateway !== this.#id) return;
        const device = this.#devices.get(message.id) ?? { id: message.id, gateway: message.gateway, device: message.device, readings: 0 };
        Object.assign(device, {
          profile: message.profile, lastTs: message.ts, values: message.values, units: message.units,
          outOfRange: message.outOfRange ?? [], readings: (device.readings ?? 0) + 1,
        });
        this.#devices.set(device.id, device);
        this.#renderRow(device, { fresh: true });
        break;
      }
      case "device": {
        if (message.gateway !== this.#id) return;
        this.#events.add(EventList.fromDeviceMessage(message));
        const device = this.#devices.get(message.id);
        if (!device) {
          this.#refetchSoon();
          return;
        }
        device.state = message.state;
        device.stateMessage = message.message;
        if (message.counters) device.counters = message.counters;
        this.#renderRow(device, { fresh: true });
        break;
      }
      case "gateway":
        if (message.gateway !== this.#id || !this.#gateway) return;
        this.#events.add(EventList.fromGatewayMessage(message));
        this.#gateway.online = message.online;
        this.#renderGateway();
        this.#refetchSoon();
        break;
      case "link":
        if (message.gateway !== this.#id || !this.#gateway) return;
        this.#gateway.link = { ...(this.#gateway.link ?? {}), ts: message.ts, rttLastMs: message.rttMs ?? this.#gateway.link?.rttLastMs, queueDepth: message.queueDepth };
        this.#renderGateway();
        break;
    }
  }

  async #load() {
    try {
      const [gateway, devices, events] = await Promise.all([
        api(gatewayPath(this.#id)),
        api(gatewayPath(this.#id, "/devices")),
        api(`/api/events?gateway=${encodeURIComponent(this.#id)}&limit=20`),
      ]);
      this.#gateway = gateway;
      this.#devices = new Map(devices.map((d) => [d.id, d]));
      this.#rows.clear();
      fill(this.#body);
      for (const device of devices) this.#renderRow(device);
      if (devices.length === 0) fill(this.#body, h("tr", {}, h("td", { class: "empty", colspan: 9 }, "No device of this gateway has sent a reading yet.")));
      this.#events.set(events.events);
      this.#renderGateway();
    } catch (error) {
      if (error.status === 401) return;
      fill(this.#stats, loadError(`gateway ${this.#id}`, error));
    }
  }

  #refetchSoon() {
    if (this.#refetching) return;
    this.#refetching = setTimeout(() => {
      this.#refetching = null;
      this.#load();
    }, 1000);
  }

  #renderGateway() {
    const g = this.#gateway;
    const l = g.link;
    fill(this.#head,
      h("h1", {}, g.id),
      gatewayBadge(g),
      h("div", { class: "sub" },
        g.software ? h("span", {}, g.software) : null,
        g.epoch !== undefined ? h("span", {}, `epoch ${g.epoch}`) : null,
        g.connectedAt ? h("span", {}, g.online ? "connected " : "last connected ", agoText(g.connectedAt)) : null));
    const count = reconnects(l);
    fill(this.#stats,
      stat("Last seen", agoText(g.lastSeen), { key: "lastSeen" }),
      stat("Link round trip", l?.rttLastMs ?? "—", {
        key: "rtt", unit: l?.rttLastMs !== undefined ? "ms" : null,
        detail: l?.rttMeanMs !== undefined ? `mean ${l.rttMeanMs} ms · p99 ${l.rttP99Ms ?? "—"} ms` : "no link report yet",
      }),
      stat("Reconnects", count === undefined ? "—" : formatCount(count), { key: "reconnects", detail: l ? endingsText(l.endings) : null }),
      stat("Spool depth", l ? formatCount(l.queueDepth) : "—", { key: "spool", unit: l ? "frames" : null, tone: l?.queueDepth > 1000 ? "caution" : null }),
      stat("Dropped frames", g.dropped === undefined ? "—" : formatCount(g.dropped), { key: "dropped", tone: g.dropped > 0 ? "alert" : null }),
      stat("Missed heartbeats", l ? formatCount(l.missedBeats) : "—", { key: "missedBeats" }),
      stat("Devices", formatCount(this.#devices.size), { key: "devices" }));
  }

  #renderRow(device, { fresh = false } = {}) {
    let row = this.#rows.get(device.id);
    if (!row) {
      if (this.#rows.size === 0) fill(this.#body);
      row = h("tr", { class: "link-row", dataset: { device: device.id } });
      row.addEventListener("click", (event) => {
        if (!event.target.closest("a")) location.hash = link.device(device.id);
      });
      this.#rows.set(device.id, row);
      const after = [...this.#rows.keys()].sort().find((id) => id > device.id);
      this.#body.insertBefore(row, after ? this.#rows.get(after) : null);
    }
    const counters = device.counters ?? {};
    fill(row,
      h("td", {}, h("a", { href: link.device(device.id) }, device.device)),
      h("td", {}, deviceStateBadge(device)),
      h("td", { class: "wide-only muted" }, device.profile ?? ""),
      h("td", {}, valueList(device.values, device.units, device.outOfRange)),
      h("td", { class: "wide-only" }, agoText(device.lastTs)),
      errorCounters.map((c) => h("td", { class: `num ${counters[c.key] > 0 ? "alert" : ""}`, dataset: { counter: c.key } },
        counters[c.key] === undefined ? "—" : formatCount(counters[c.key]))));
    if (fresh) {
      row.classList.remove("fresh");
      void row.offsetWidth; // restart the highlight animation
      row.classList.add("fresh");
    }
  }
}
