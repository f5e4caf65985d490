// The event list (device attached/detached/error, gateway online/offline), newest first, from
// `GET /api/events` and then live from `device` and `gateway` messages.

import { h, fill } from "../dom.js";
import { when } from "../format.js";
import { link } from "../router.js";

const limit = 20;

export class EventList {
  #element = h("ul", { class: "plain events" });
  #events = [];

  /** The list's element. */
  get element() {
    return this.#element;
  }

  /** Replaces the events (API order: oldest first). */
  set(events) {
    this.#events = events.slice(-limit).reverse();
    this.#render();
  }

  /** Adds an event as the newest. */
  add(event) {
    this.#events.unshift(event);
    this.#events.length = Math.min(this.#events.length, limit);
    this.#render();
  }

  /** An API event from a live `device` message. */
  static fromDeviceMessage(m) {
    return { type: "device", id: m.id, gateway: m.gateway, device: m.device, event: m.state, ts: m.ts, message: m.message };
  }

  /** An API event from a live `gateway` message. */
  static fromGatewayMessage(m) {
    return { type: "gateway", gateway: m.gateway, event: m.online ? "online" : "offline", ts: m.ts, message: m.reason };
  }

  #render() {
    if (this.#events.length === 0) {
      fill(this.#element, h("li", { class: "muted" }, "No events yet."));
      return;
    }
    const now = Date.now();
    fill(this.#element, this.#events.map((event) => {
      const tone = { online: "ok", attached: "ok", offline: "bad", error: "bad", detached: "warn" }[event.event] ?? "";
      const subject = event.type === "device"
        ? h("a", { href: link.device(event.id) }, event.id)
        : h("a", { href: link.gateway(event.gateway) }, event.gateway);
      return h("li", {},
        h("span", { class: "when" }, when(event.ts, now)),
        h("span", {}, subject, " ", h("span", { class: `badge plain ${tone}` }, event.event),
          event.message ? h("span", { class: "muted" }, " ", event.message) : null));
    }));
  }
}
