// The live WebSocket (`/live`, docs/API.md "Live updates"): one per page, and it never gives up.
// When the server goes away (restart, network) the page shows "reconnecting", retries with a
// capped, jittered backoff, and once the socket is open again tells the views to catch up on what
// they missed. Before each retry it asks the API whether we are still allowed in, so an expired
// session leads to the login page rather than to endless retries; an upgrade refused for any other
// reason is simply retried.

const firstDelayMs = 500;
const maxDelayMs = 5000;

/** The states shown in the top bar. */
export const LinkState = Object.freeze({ connecting: "connecting", live: "live", reconnecting: "reconnecting" });

export class LiveLink {
  #url;
  #preflight;
  #socket = null;
  #topics = ["*"];
  #attempt = 0;
  #wasOpen = false;
  #messageHandlers = new Set();
  #statusHandlers = new Set();
  #catchUpHandlers = new Set();
  state = LinkState.connecting;

  /**
   * @param {object} options
   * @param {string} [options.url] the WebSocket URL (default: `/live` on this host).
   * @param {() => Promise<unknown>} [options.preflight] called before every reconnect attempt; when
   *   it throws the attempt is skipped (the server is down, or the user is being sent to login).
   */
  constructor({ url = defaultURL(), preflight = async () => {} } = {}) {
    this.#url = url;
    this.#preflight = preflight;
  }

  /** Opens the socket. */
  start() {
    this.#open();
  }

  /** `handler(message)` for every message; returns a function that removes it. */
  onMessage(handler) {
    this.#messageHandlers.add(handler);
    return () => this.#messageHandlers.delete(handler);
  }

  /** `handler(state)` whenever the state changes. */
  onStatus(handler) {
    this.#statusHandlers.add(handler);
    return () => this.#statusHandlers.delete(handler);
  }

  /** `handler()` each time the socket is open again after a loss: time to refetch what was missed. */
  onCatchUp(handler) {
    this.#catchUpHandlers.add(handler);
    return () => this.#catchUpHandlers.delete(handler);
  }

  /** Narrows the device updates received (`*`, `GATEWAY:*`, `GATEWAY:DEVICE`); kept across reconnects. */
  subscribe(topics) {
    this.#topics = [...topics];
    this.#send({ type: "subscribe", devices: this.#topics });
  }

  #send(message) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }

  #setState(state) {
    if (state === this.state) return;
    this.state = state;
    for (const handler of this.#statusHandlers) handler(state);
  }

  #open() {
    let socket;
    try {
      socket = new WebSocket(this.#url);
    } catch {
      this.#retry();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      socket.send(JSON.stringify({ type: "subscribe", devices: this.#topics }));
      this.#setState(LinkState.live);
      if (this.#wasOpen) for (const handler of this.#catchUpHandlers) handler();
      this.#wasOpen = true;
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      for (const handler of this.#messageHandlers) handler(message);
    };
    // A refused upgrade, a restart and a lost network all end here (after `onerror`).
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#retry();
    };
  }

  #retry() {
    this.#setState(this.#wasOpen ? LinkState.reconnecting : LinkState.connecting);
    const delay = Math.min(maxDelayMs, firstDelayMs * 2 ** this.#attempt) * (0.8 + Math.random() * 0.4);
    this.#attempt += 1;
    setTimeout(async () => {
      try {
        await this.#preflight();
      } catch {
        this.#retry();
        return;
      }
      this.#open();
    }, delay);
  }
}

function defaultURL() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live";
}
