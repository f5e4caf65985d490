// Sending a device one of its profile's named commands: a form per command, with a field per
// argument (kind and range from the profile, as the gateway reported them), the result shown under
// the form, and the device's recent commands below. When the server does not know the device's
// commands (its gateway has not reported them), one form takes a command name and arguments.

import { api, devicePath } from "../api.js";
import { fill, h } from "../dom.js";
import { clock, formatNumber, fromBase64, hex, printable } from "../format.js";

const statusTone = { answered: "ok", sent: "ok", pending: "", exception: "bad", timeout: "warn", failed: "bad" };

/** `ppm=2000, on=1` as `{ppm: 2000, on: 1}`; throws with a message naming the bad part. */
export function parseArguments(text) {
  const result = {};
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const match = /^([A-Za-z0-9_-]+)=(.+)$/.exec(part);
    const value = match ? Number(match[2]) : NaN;
    if (!match || !Number.isFinite(value)) throw new Error(`"${part}" is not NAME=NUMBER`);
    result[match[1]] = value;
  }
  return result;
}

/** A stored command's outcome: status, message, answer bytes (hex and text), how long it took. */
export function resultView(record) {
  const bytes = record.response ? fromBase64(record.response.base64) : null;
  const took = record.finishedAt !== undefined ? ` in ${record.finishedAt - record.requestedAt} ms` : "";
  return h("div", { class: "command-result", dataset: { status: record.status } },
    h("div", {}, h("span", { class: `badge ${statusTone[record.status] ?? ""}` }, record.status),
      h("span", { class: "muted" }, took),
      record.exceptionCode !== undefined ? h("span", { class: "muted" }, ` · exception code ${record.exceptionCode}`) : null),
    record.message ? h("div", { class: "error-text" }, record.message) : null,
    bytes ? h("div", { class: "bytes", title: "the device's answer" }, hex(bytes)) : null,
    bytes ? h("div", { class: "bytes muted" }, printable(bytes)) : null);
}

export class CommandPanel {
  #id;
  #forms = h("div", { class: "commands", id: "commands" });
  #history = h("ul", { class: "plain history", id: "command-history" });

  constructor(id) {
    this.#id = id;
  }

  /** The section: a form per command, then the recent commands. */
  get element() {
    return h("section", { class: "section" },
      h("h2", {}, "Commands"),
      this.#forms,
      h("div", { class: "panel pad" }, h("h3", {}, "Recent commands"), this.#history));
  }

  /** Builds the forms from the device's commands as the API reports them (or a free form when unknown). */
  setCommands(commands) {
    if (commands === undefined) {
      fill(this.#forms, this.#freeForm());
    } else if (commands.length === 0) {
      fill(this.#forms, h("div", { class: "panel pad muted" }, "This device's profile defines no commands."));
    } else {
      fill(this.#forms, commands.map((command) => this.#form(command)));
    }
  }

  /** Loads the device's recent commands. */
  async loadHistory() {
    const records = await api(devicePath(this.#id, "/commands?limit=10"));
    if (records.length === 0) {
      fill(this.#history, h("li", { class: "muted" }, "None sent yet."));
      return;
    }
    fill(this.#history, records.reverse().map((record) => this.#historyItem(record)));
  }

  #historyItem(record) {
    const args = Object.entries(record.arguments ?? {}).map(([name, value]) => `${name}=${formatNumber(value)}`).join(", ");
    return h("li", {},
      h("span", { class: "mono muted" }, clock(record.requestedAt)),
      h("b", {}, record.name), args ? h("span", { class: "mono" }, args) : null,
      h("span", { class: `badge ${statusTone[record.status] ?? ""}` }, record.status),
      record.response ? h("span", { class: "mono" }, hex(fromBase64(record.response.base64))) : null,
      record.requestedBy ? h("span", { class: "muted" }, `by ${record.requestedBy}`) : null);
  }

  #form(command) {
    const inputs = command.arguments.map((argument) => h("input", {
      type: "number", name: argument.name, required: true,
      step: argument.type === "integer" ? "1" : "any",
      min: Number.isFinite(argument.min) ? argument.min : null,
      max: Number.isFinite(argument.max) ? argument.max : null,
      placeholder: rangeText(argument),
    }));
    const result = h("div", { class: "result" });
    const button = h("button", { type: "submit", class: "primary" }, "Send");
    const form = h("form", { class: "panel command", dataset: { command: command.name } },
      h("h3", {}, command.name),
      h("div", { class: "row" },
        command.arguments.map((argument, i) => h("label", { class: "field" }, `${argument.name} (${rangeText(argument)})`, inputs[i])),
        command.arguments.length === 0 ? h("span", { class: "muted" }, "No arguments") : null,
        button),
      result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const args = Object.fromEntries(inputs.map((input) => [input.name, Number(input.value)]));
      this.#send(command.name, args, button, result);
    });
    return form;
  }

  #freeForm() {
    const name = h("input", { name: "name", required: true, placeholder: "readCO2", pattern: "[A-Za-z0-9_-]+" });
    const args = h("input", { name: "arguments", placeholder: "ppm=2000" });
    const result = h("div", { class: "result" });
    const button = h("button", { type: "submit", class: "primary" }, "Send");
    const form = h("form", { class: "panel command", dataset: { command: "" } },
      h("h3", {}, "Send a command"),
      h("p", { class: "muted" }, "The server does not know this device's commands yet (its gateway reports them when the device attaches): name one of its profile's commands."),
      h("div", { class: "row" },
        h("label", { class: "field" }, "Command", name),
        h("label", { class: "field" }, "Arguments", args),
        button),
      result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let parsed;
      try {
        parsed = parseArguments(args.value);
      } catch (error) {
        fill(result, h("div", { class: "error-text" }, error.message));
        return;
      }
      this.#send(name.value.trim(), parsed, button, result);
    });
    return form;
  }

  async #send(name, args, button, result) {
    button.disabled = true;
    fill(result, h("div", { class: "command-result muted", dataset: { status: "pending" } }, `Sending ${name}…`));
    try {
      const record = await api(devicePath(this.#id, "/commands"), { method: "POST", body: { name, arguments: args } });
      fill(result, resultView(record));
      if (this.#history.querySelector("li.muted")) fill(this.#history);
      this.#history.prepend(this.#historyItem(record));
    } catch (error) {
      fill(result, h("div", { class: "command-result error-text", dataset: { status: "error" } },
        error.status === 403 ? "You are not allowed to send commands." : error.message));
    } finally {
      button.disabled = false;
    }
  }
}

function rangeText(argument) {
  const kind = argument.type === "integer" ? "integer" : "number";
  const low = Number.isFinite(argument.min) ? formatNumber(argument.min) : null;
  const high = Number.isFinite(argument.max) ? formatNumber(argument.max) : null;
  if (low !== null && high !== null) return `${low}–${high}`;
  if (low !== null) return `≥ ${low}`;
  if (high !== null) return `≤ ${high}`;
  return kind;
}
