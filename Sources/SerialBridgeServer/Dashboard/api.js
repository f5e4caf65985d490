// The server's JSON API (docs/API.md). Every call goes through `api`, which turns error answers
// into an `ApiError` carrying the server's message, and a 401 (no session, or it expired) into a
// trip to the login page that brings the user back here afterwards.

/** An answer other than 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

let leaving = false;

/** The login page, with the current page (path and route) as where to come back to. */
export function loginURL(here = location) {
  return "/login?next=" + encodeURIComponent(here.pathname + here.search + here.hash);
}

/** Goes to the login page once, however many calls see the 401. */
export function goToLogin() {
  if (leaving) return;
  leaving = true;
  location.assign(loginURL());
}

/**
 * Calls the API and returns its JSON. `body` is sent as JSON; `keepalive` lets a request outlive
 * the page (stopping a raw tap on unload).
 * @throws {ApiError} for an error answer (with the server's `error` text) or a network failure.
 */
export async function api(path, { method = "GET", body, keepalive = false } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      keepalive,
    });
  } catch (error) {
    throw new ApiError(0, `the server cannot be reached (${error.message})`);
  }
  if (response.status === 401) {
    goToLogin();
    throw new ApiError(401, "login required");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, `the server answered ${response.status} with something that is not JSON`);
    }
  }
  if (!response.ok) throw new ApiError(response.status, data?.error ?? `HTTP ${response.status}`);
  return data;
}

/** Path of a device's API resource; the id (`GATEWAY:DEVICE`) is percent-encoded. */
export function devicePath(id, suffix = "") {
  return `/api/devices/${encodeURIComponent(id)}${suffix}`;
}

/** Path of a gateway's API resource. */
export function gatewayPath(id, suffix = "") {
  return `/api/gateways/${encodeURIComponent(id)}${suffix}`;
}
