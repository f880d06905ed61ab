// The bridge's REST reads, relative to the page (so a path prefix behind a proxy works), with
// the page's `?token=` sent as `Authorization: Bearer` (auth.protect_reads), or else the token
// entered for actions (session.js); and its writes (`send`), always with that entered token.
//
// The bridges the page may use: the one that served it first, then the replicas its
// `<meta name="promwire-bridges">` names (config `page.bridges`). `bridges` is shared by both
// streams and the REST reads, which follow whichever bridge the streams moved to last.

import { writeToken } from "./session.js";
import { Rotation } from "./transport.js";

export const token = new URLSearchParams(location.search).get("token");
export const base = new URL(".", location.href);

function configuredBridges() {
  const meta = document.querySelector('meta[name="promwire-bridges"]');
  const found = [base.href];
  for (const word of (meta?.content ?? "").split(/\s+/)) {
    if (!word) continue;
    try {
      const url = new URL(word.endsWith("/") ? word : `${word}/`);
      if (!found.includes(url.href)) found.push(url.href);
    } catch {
      // not a URL: the bridge's config check keeps these out
    }
  }
  return found;
}

export const bridges = new Rotation(configuredBridges());

// An answer other than 2xx; `error` and `detail` from the bridge's JSON error body.
export class HttpError extends Error {
  constructor(status, body) {
    super(body?.error ? `${status} ${body.error}: ${body.detail}` : `HTTP ${status}`);
    this.status = status;
    this.error = body?.error ?? null;
    this.detail = body?.detail ?? null;
  }
}

function urlFor(path, params) {
  const url = new URL(path, bridges.current);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url;
}

export async function getJson(path, params = {}) {
  const bearer = token ?? writeToken();
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  return answer(await fetch(urlFor(path, params), { headers, cache: "no-store" }));
}

// A write (POST, DELETE) with the token entered for actions; its JSON answer, or HttpError.
export async function send(method, path, { params = {}, body } = {}) {
  const headers = { Authorization: `Bearer ${writeToken() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return answer(await fetch(urlFor(path, params), {
    method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
  }));
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

// One catalog metric's history for `instance` (all instances when null).
export function history(metric, range, step, instance = null) {
  const params = { range, step };
  if (instance !== null) params.instance = instance;
  return getJson(`api/metrics/${encodeURIComponent(metric)}`, params);
}
