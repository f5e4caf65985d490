// A device's raw bytes, live, for remote debugging: hex and text, `rx` from the device and `tx`
// written to it, 16 bytes a row. The tap is started through the API when the view is opened and
// stopped when it is closed, when the page moves elsewhere and when the tab goes away, so bytes are
// streamed only while someone watches.

import { api, devicePath } from "../api.js";
import { fill, h } from "../dom.js";
import { clockMs, fromBase64, hex, printable } from "../format.js";

const maxRows = 2000;
const bytesPerRow = 16;

export class RawView {
  #id;
  #watching = false;
  #button = h("button", { type: "button", class: "primary", id: "raw-toggle" }, "Watch raw bytes");
  #clear = h("button", { type: "button" }, "Clear");
  #status = h("span", { class: "status", id: "raw-status" }, "Not watching: nothing is streamed.");
  #log = h("div", { class: "raw-log", id: "raw-log", role: "log", "aria-label": "raw bytes" });

  constructor(id) {
    this.#id = id;
    this.#button.addEventListener("click", () => (this.#watching ? this.stop() : this.start()));
    this.#clear.addEventListener("click", () => fill(this.#log));
    this.#log.hidden = true;
  }

  /** The section: controls, status and the byte log. */
  get element() {
    return h("section", { class: "section" },
      h("h2", {}, "Raw bytes"),
      h("div", { class: "panel pad" },
        h("div", { class: "raw-head" }, this.#button, this.#clear, this.#status),
        this.#log));
  }

  /** True while the tap is on (or being turned on). */
  get watching() {
    return this.#watching;
  }

  /** Starts the tap and shows what arrives. */
  async start() {
    this.#watching = true;
    this.#button.textContent = "Stop";
    this.#log.hidden = false;
    this.#status.textContent = "Starting the tap…";
    try {
      await api(devicePath(this.#id, "/tap"), { method: "POST" });
      if (this.#watching) this.#status.textContent = "Watching: every byte read from (rx) and written to (tx) the device.";
    } catch (error) {
      this.#watching = false;
      this.#button.textContent = "Watch raw bytes";
      this.#status.textContent = error.status === 409
        ? "The gateway is not connected; try again once it is online."
        : `Could not start the tap: ${error.message}`;
    }
  }

  /** Stops the tap; `leaving` sends the request so that it outlives the page. */
  async stop({ leaving = false } = {}) {
    if (!this.#watching) return;
    this.#watching = false;
    this.#button.textContent = "Watch raw bytes";
    this.#status.textContent = "Not watching: nothing is streamed.";
    try {
      await api(devicePath(this.#id, "/tap"), { method: "DELETE", keepalive: leaving });
    } catch {
      // Gone with the gateway's link, or the server is away: the tap ends with the link anyway.
    }
  }

  /** After a reconnect: the gateway's tap may have ended with its link, so ask again. */
  async resume() {
    if (!this.#watching) return;
    this.#watching = false;
    await this.start();
  }

  /** Shows one `tap` message. */
  show(message) {
    if (!this.#watching) return;
    const stick = this.#log.scrollTop + this.#log.clientHeight >= this.#log.scrollHeight - 4;
    if (message.dropped > 0) this.#log.append(h("div", { class: "raw-line note" }, `… ${message.dropped} bytes dropped`));
    const bytes = fromBase64(message.base64);
    for (let offset = 0; offset < bytes.length; offset += bytesPerRow) {
      const row = bytes.subarray(offset, offset + bytesPerRow);
      this.#log.append(h("div", { class: `raw-line ${message.dir}` },
        h("span", { class: "t" }, offset === 0 ? clockMs(message.ts) : ""),
        h("span", { class: "d" }, offset === 0 ? message.dir : ""),
        h("span", { class: "hex" }, hex(row)),
        h("span", { class: "txt" }, printable(row))));
    }
    while (this.#log.childElementCount > maxRows) this.#log.firstElementChild.remove();
    if (stick) this.#log.scrollTop = this.#log.scrollHeight;
  }
}
