// Hash routes, so every page has a link that works on reload and the server serves one document:
//   #/                      every gateway
//   #/gateway/GATEWAY       one gateway and its devices
//   #/device/GATEWAY:DEVICE one device: charts, readings, commands, raw bytes

/** The route of a location hash: `{name: "overview" | "gateway" | "device" | "unknown", id?}`. */
export function parseRoute(hash) {
  const path = hash.replace(/^#/, "") || "/";
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return { name: "overview" };
  let id;
  try {
    id = parts.length === 2 ? decodeURIComponent(parts[1]) : undefined;
  } catch {
    return { name: "unknown", path };
  }
  if (parts[0] === "gateway" && id) return { name: "gateway", id };
  if (parts[0] === "device" && id && id.includes(":")) return { name: "device", id };
  return { name: "unknown", path };
}

/** Links to the routes. */
export const link = {
  overview: () => "#/",
  gateway: (id) => `#/gateway/${encodeURIComponent(id)}`,
  device: (id) => `#/device/${encodeURIComponent(id)}`,
};
