// The dashboard's entry point: picks the view for the route, keeps one live connection for every
// view, shows the connection's state in the top bar, and asks the view to catch up whenever the
// connection comes back after a loss.
//
// A view is an object with `topics` (what to subscribe to), `crumbs`, `title`, `mount(container)`
// (returns a promise of the first load), `live(message)`, `catchUp()` and `unmount()`.

import { api } from "./api.js";
import { clearBanner, fill, h, showBanner } from "./dom.js";
import { LinkState, LiveLink } from "./live.js";
import { link, parseRoute } from "./router.js";
import { DeviceView } from "./views/device.js";
import { GatewayView } from "./views/gateway.js";
import { OverviewView } from "./views/overview.js";
import { tickAges } from "./views/state.js";

const container = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const status = document.getElementById("link");

// Before each reconnect: a cheap API call. It fails while the server is down (so no socket is
// opened in vain) and answers 401 when the session has expired (and `api` goes to the login page).
const live = new LiveLink({ preflight: () => api("/api/events?limit=1") });
let view = null;

class UnknownView {
  topics = [];
  crumbs = [{ text: "Not found" }];
  title = "Not found";
  mount(element) {
    element.append(h("div", { class: "panel pad" }, "There is no such page. ", h("a", { href: link.overview() }, "See every gateway.")));
  }
  live() {}
  catchUp() {}
  unmount() {}
}

function viewFor(route) {
  switch (route.name) {
    case "overview": return new OverviewView();
    case "gateway": return new GatewayView(route.id);
    case "device": return new DeviceView(route.id);
    default: return new UnknownView();
  }
}

function show() {
  view?.unmount();
  view = viewFor(parseRoute(location.hash));
  fill(container);
  fill(crumbs, h("a", { href: link.overview() }, "Gateways"),
    view.crumbs.map((crumb) => [h("span", { class: "sep" }, "/"), crumb.href ? h("a", { href: crumb.href }, crumb.text) : h("span", {}, crumb.text)]));
  document.title = view.title === "Gateways" ? "SerialBridge" : `${view.title} · SerialBridge`;
  live.subscribe(view.topics);
  view.mount(container);
  window.scrollTo(0, 0);
}

live.onMessage((message) => view?.live(message));
live.onCatchUp(() => view?.catchUp());
live.onStatus((state) => {
  status.textContent = { [LinkState.live]: "live", [LinkState.connecting]: "connecting…", [LinkState.reconnecting]: "reconnecting…" }[state];
  status.className = `link-status ${state === LinkState.live ? "up" : "down"}`;
  if (state === LinkState.reconnecting) {
    showBanner("Lost the connection to the server. Reconnecting… what arrives meanwhile is fetched once it is back.");
  } else if (state === LinkState.live) {
    clearBanner();
  }
});

window.addEventListener("hashchange", show);
setInterval(() => tickAges(document.body), 1000);
show();
live.start();
