// How values, times and bytes are written on the page. Pure functions: no DOM, no clock of their
// own (the current time is passed in), so they can be checked in the browser tests.

/** A reading's value: numbers rounded for reading, strings as they are, bytes by their size. */
export function formatValue(value) {
  if (typeof value === "number") return readable(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value && typeof value.base64 === "string") return `⟨${byteCount(value.base64)} bytes⟩`;
  return JSON.stringify(value);
}

/** A number: integers as they are, others rounded to 6 decimals (0.1 + 0.2 shows as 0.3). */
export function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Math.round(value * 1e6) / 1e6);
}

/**
 * A measured number for people: integers as they are, others with 3 decimals at most (4
 * significant digits below 1), trailing zeros dropped: 233.0035 → "233.004", 0.884136 → "0.8841".
 */
export function readable(value) {
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  const rounded = Math.abs(value) >= 1 ? Number(value.toFixed(3)) : Number(value.toPrecision(4));
  return String(rounded);
}

/** A count with thousands separators (`12,345`). */
export function formatCount(value) {
  return typeof value === "number" ? value.toLocaleString("en-US") : "—";
}

/** How long ago `ts` was, as of `now` (both ms): "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(ts, now) {
  if (typeof ts !== "number") return "never";
  const seconds = Math.max(0, Math.round((now - ts) / 1000));
  if (seconds < 2) return "just now";
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

/** A duration in ms, short: "850 ms", "12 s", "4 min", "3 h". */
export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 90_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** Local time of day, `14:03:27`. */
export function clock(ts) {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local time of day with milliseconds, `14:03:27.120`. */
export function clockMs(ts) {
  return `${clock(ts)}.${pad(new Date(ts).getMilliseconds(), 3)}`;
}

/** Local date and time, `2026-11-27 14:03:27`. */
export function dateTime(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ts)}`;
}

/** Local date and time, shortened to the time when `ts` is today (as of `now`). */
export function when(ts, now) {
  const d = new Date(ts);
  const today = new Date(now);
  return d.toDateString() === today.toDateString() ? clock(ts) : dateTime(ts);
}

function byteCount(base64) {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.floor(base64.length * 3 / 4) - padding;
}

/** The bytes of standard (padded) base64. */
export function fromBase64(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Bytes as lowercase hex pairs separated by spaces: `ff 86 02`. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Bytes as text: printable ASCII as is, everything else as `·`. */
export function printable(bytes) {
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "·")).join("");
}

/** Sum of a link report's `endings` (connections ended or attempts failed, by cause). */
export function reconnects(link) {
  if (!link || !link.endings) return undefined;
  return Object.values(link.endings).reduce((sum, n) => sum + n, 0);
}

/** `{"dropped": 1, "heartbeat-timeout": 2}` as `dropped 1 · heartbeat-timeout 2`. */
export function endingsText(endings) {
  const parts = Object.entries(endings ?? {}).filter(([, n]) => n > 0).map(([cause, n]) => `${cause} ${n}`);
  return parts.length ? parts.join(" · ") : "none";
}
