/// The dashboard: one self-contained page (no external assets, so it works on isolated networks).
/// It lists devices from `/api/devices` and keeps them live over the `/live` WebSocket,
/// reconnecting by itself when the server restarts.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SerialBridge</title>
<style>
  :root { --bg:#0f1419; --panel:#182028; --text:#e6e9ec; --muted:#8a96a3; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --accent:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:var(--panel); border-bottom:1px solid #26313b; }
  header h1 { font-size:18px; margin:0; }
  #link { font-size:12px; padding:2px 8px; border-radius:10px; background:#26313b; }
  #link.up { color:var(--ok); } #link.down { color:var(--bad); }
  main { padding:20px; }
  table { width:100%; border-collapse:collapse; background:var(--panel); border-radius:6px; overflow:hidden; }
  th, td { text-align:left; padding:8px 12px; border-bottom:1px solid #26313b; vertical-align:top; }
  th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
  td.values span { display:inline-block; margin-right:16px; font-variant-numeric:tabular-nums; }
  td.values b { font-size:16px; }
  .unit { color:var(--muted); margin-left:2px; }
  .value.out-of-range b { color:var(--warn); }
  .age.fresh { color:var(--ok); } .age.stale { color:var(--warn); } .age.dead { color:var(--bad); }
  tr.flash td { background:#1f2a36; transition:none; }
  tr td { transition: background 1s; }
  #empty { color:var(--muted); padding:24px; text-align:center; }
</style>
</head>
<body>
<header><h1>SerialBridge</h1><span id="link" class="down">connecting…</span><span id="count" style="color:var(--muted)"></span></header>
<main>
<table>
  <thead><tr><th>Gateway</th><th>Device</th><th>Profile</th><th>Latest values</th><th>Last seen</th><th>Readings</th></tr></thead>
  <tbody id="devices"></tbody>
</table>
<div id="empty">No devices have reported yet.</div>
</main>
<script>
"use strict";
const devices = new Map();
const tbody = document.getElementById("devices");

function render(d) {
  let row = document.getElementById("dev-" + d.id);
  if (!row) {
    row = document.createElement("tr");
    row.id = "dev-" + d.id;
    row.dataset.device = d.id;
    for (let i = 0; i < 6; i++) row.appendChild(document.createElement("td"));
    row.cells[3].className = "values";
    const rows = Array.from(tbody.rows).concat([row]).sort((a, b) => a.dataset.device.localeCompare(b.dataset.device));
    rows.forEach(r => tbody.appendChild(r));
  }
  row.cells[0].textContent = d.gateway;
  row.cells[1].textContent = d.device;
  row.cells[2].textContent = d.profile;
  const cell = row.cells[3];
  cell.textContent = "";
  for (const [name, value] of Object.entries(d.values || {})) {
    const span = document.createElement("span");
    span.className = "value" + ((d.outOfRange || []).includes(name) ? " out-of-range" : "");
    span.dataset.name = name;
    if ((d.outOfRange || []).includes(name)) span.title = "outside the profile's valid range";
    span.append(name + " ");
    const b = document.createElement("b");
    b.textContent = format(value);
    span.appendChild(b);
    const unit = (d.units || {})[name];
    if (unit) { const u = document.createElement("span"); u.className = "unit"; u.textContent = unit; span.appendChild(u); }
    cell.appendChild(span);
  }
  row.cells[5].textContent = d.readings;
  row.dataset.ts = d.lastTs;
  row.dataset.state = d.state || "";
  row.dataset.message = d.stateMessage || "";
  row.classList.add("flash");
  requestAnimationFrame(() => requestAnimationFrame(() => row.classList.remove("flash")));
  document.getElementById("empty").style.display = "none";
  document.getElementById("count").textContent = devices.size + " device" + (devices.size === 1 ? "" : "s");
  updateAges();
}

function format(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
  if (typeof value === "string") return value;
  if (value && typeof value.base64 === "string") return "⟨" + Math.floor(value.base64.length * 3 / 4) + " bytes⟩";
  return JSON.stringify(value);
}

function updateAges() {
  const now = Date.now();
  for (const row of tbody.rows) {
    const age = Math.max(0, (now - Number(row.dataset.ts)) / 1000);
    const cell = row.cells[4];
    const state = row.dataset.state;
    if (state === "detached" || state === "error") {
      cell.textContent = state + (row.dataset.message ? ": " + row.dataset.message : "");
      cell.className = "age dead";
      continue;
    }
    cell.textContent = age < 1 ? "just now" : age < 120 ? Math.round(age) + " s ago" : Math.round(age / 60) + " min ago";
    cell.className = "age " + (age < 10 ? "fresh" : age < 120 ? "stale" : "dead");
  }
}

async function loadDevices() {
  const response = await fetch("/api/devices");
  if (response.status === 401) { location.href = "/login?next=/"; return; }
  for (const d of await response.json()) { devices.set(d.id, d); render(d); }
}

function connect() {
  const link = document.getElementById("link");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live");
  ws.onopen = () => { link.textContent = "live"; link.className = "up"; loadDevices().catch(() => {}); };
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.type === "device") {
      const known = devices.get(m.id);
      if (known) { known.state = m.state; known.stateMessage = m.message || ""; render(known); }
      return;
    }
    if (m.type !== "reading") return;
    const d = devices.get(m.id) || { id: m.id, gateway: m.gateway, device: m.device, readings: 0 };
    d.profile = m.profile; d.values = m.values; d.units = m.units; d.lastTs = m.ts; d.readings = (d.readings || 0) + 1;
    d.outOfRange = m.outOfRange || [];
    d.state = "attached"; d.stateMessage = "";
    devices.set(m.id, d);
    render(d);
  };
  // A refused upgrade looks like any close; asking the API tells a lost session (→ login page) from a server that is down.
  ws.onclose = () => { link.textContent = "reconnecting…"; link.className = "down"; loadDevices().catch(() => {}); setTimeout(connect, 2000); };
}

setInterval(updateAges, 1000);
loadDevices().catch(() => {});
connect();
</script>
</body>
</html>
"""#
}
