// Every gateway at a glance: online or not (live), last seen, link round trip and reconnects, spool
// depth, dropped frames, devices; and the latest events. Receives no device updates (a fleet's
// readings would swamp a browser): gateway and link messages come anyway, and the table is
// refetched every 30 s for what only the API knows.

import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { endingsText, formatCount, reconnects } from "../format.js";
import { link } from "../router.js";
import { EventList } from "./events.js";
import { agoText, gatewayBadge, loadError } from "./state.js";

const refreshMs = 30_000;

export class OverviewView {
  topics = [];
  crumbs = [];
  title = "Gateways";
  #gateways = new Map();
  #rows = new Map();
  #summary = h("div", { class: "sub" });
  #body = h("tbody", { id: "gateways" });
  #table = h("div", { class: "panel table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {},
        h("th", {}, "Gateway"), h("th", {}, "Status"), h("th", {}, "Last seen"),
        h("th", { class: "num" }, "RTT"), h("th", { class: "num" }, "Reconnects"),
        h("th", { class: "num" }, "Spool depth"), h("th", { class: "num" }, "Dropped"),
        h("th", { class: "num wide-only" }, "Devices"))),
      this.#body));
  #events = new EventList();
  #timer = null;
  #refetching = null;

  mount(container) {
    container.append(
      h("div", { class: "page-head" }, h("h1", {}, "Gateways"), this.#summary),
      this.#table,
      h("section", { class: "section" }, h("h2", {}, "Recent events"), h("div", { class: "panel" }, this.#events.element)));
    this.#timer = setInterval(() => this.#load(), refreshMs);
    return this.#load();
  }

  unmount() {
    clearInterval(this.#timer);
  }

  catchUp() {
    return this.#load();
  }

  live(message) {
    if (message.type === "gateway") {
      const gateway = this.#gateways.get(message.gateway);
      this.#events.add(EventList.fromGatewayMessage(message));
      if (!gateway) {
        this.#refetchSoon();
        return;
      }
      gateway.online = message.online;
      gateway.lastSeen = Math.max(gateway.lastSeen ?? 0, message.ts);
      this.#renderRow(gateway);
      this.#renderSummary();
      // Connection time and the link's reconnect counts change with it; the API has them.
      this.#refetchSoon();
    } else if (message.type === "link") {
      const gateway = this.#gateways.get(message.gateway);
      if (!gateway) return;
      gateway.link = { ...(gateway.link ?? {}), ts: message.ts, rttLastMs: message.rttMs ?? gateway.link?.rttLastMs, queueDepth: message.queueDepth };
      this.#renderRow(gateway);
    }
  }

  async #load() {
    try {
      const [gateways, events] = await Promise.all([api("/api/gateways"), api("/api/events?limit=20")]);
      this.#gateways = new Map(gateways.map((g) => [g.id, g]));
      this.#rows.clear();
      fill(this.#body);
      for (const gateway of gateways) this.#renderRow(gateway);
      if (gateways.length === 0) {
        fill(this.#body, h("tr", {}, h("td", { class: "empty", colspan: 8 },
          "No gateway has connected yet. Issue a token with ", h("code", {}, "serialbridge-server token GATEWAY-ID"), " and start a gateway.")));
      }
      this.#events.set(events.events);
      this.#renderSummary();
    } catch (error) {
      if (error.status === 401) return;
      fill(this.#body, h("tr", {}, h("td", { colspan: 8 }, loadError("the gateways", error))));
    }
  }

  #refetchSoon() {
    if (this.#refetching) return;
    this.#refetching = setTimeout(() => {
      this.#refetching = null;
      this.#load();
    }, 1000);
  }

  #renderSummary() {
    const all = [...this.#gateways.values()];
    const online = all.filter((g) => g.online).length;
    const devices = all.reduce((sum, g) => sum + (g.devices ?? 0), 0);
    fill(this.#summary,
      h("span", {}, `${all.length} gateway${all.length === 1 ? "" : "s"}`),
      h("span", {}, `${online} online`),
      h("span", {}, `${devices} device${devices === 1 ? "" : "s"}`));
  }

  #renderRow(gateway) {
    let row = this.#rows.get(gateway.id);
    if (!row) {
      row = h("tr", { class: "link-row", dataset: { gateway: gateway.id } });
      this.#rows.set(gateway.id, row);
      row.addEventListener("click", (event) => {
        if (!event.target.closest("a")) location.hash = link.gateway(gateway.id);
      });
      this.#body.append(row);
    }
    const l = gateway.link;
    const count = reconnects(l);
    fill(row,
      h("td", {}, h("a", { href: link.gateway(gateway.id) }, gateway.id)),
      h("td", { title: gateway.software ?? null }, gatewayBadge(gateway)),
      h("td", {}, agoText(gateway.lastSeen)),
      h("td", { class: "num", title: l?.rttMeanMs !== undefined ? `mean ${l.rttMeanMs} ms, p99 ${l.rttP99Ms ?? "—"} ms` : null },
        l?.rttLastMs !== undefined ? `${l.rttLastMs} ms` : "—"),
      h("td", { class: "num", title: l ? endingsText(l.endings) : null }, count === undefined ? "—" : formatCount(count)),
      h("td", { class: `num ${l?.queueDepth > 0 ? "" : "muted"}` }, l ? formatCount(l.queueDepth) : "—"),
      h("td", { class: `num ${gateway.dropped > 0 ? "alert" : ""}` }, gateway.dropped === undefined ? "—" : formatCount(gateway.dropped)),
      h("td", { class: "num wide-only" }, formatCount(gateway.devices)));
  }
}
