// The live page: the bridge's metric stream (WS /api/ws/ws) as host cards, its alert stream
// (WS /api/ws/ws/alerts) as a table, and the state of both. Everything is same-origin and
// relative to the page's URL, so the page also works behind a reverse proxy under a prefix.
// A `?token=` in the page's URL is passed on (auth.protect_reads).

import { Alerts } from "./alerts.js";
import { h, setText, toggle } from "./dom.js";
import { clock } from "./format.js";
import { Hosts } from "./hosts.js";
import { Link } from "./transport.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const base = new URL(".", location.href);
const DEFAULT_INTERVAL = 5; // seconds; the bridge's default streams.interval
const ALERTS_POLL = 5000;
const CATALOG_RETRY = 10000;
const RUNNING = new Set(["live", "polling"]);

class HttpError extends Error {
  constructor(status, body) {
    super(body?.error ? `${status} ${body.error}: ${body.detail}` : `HTTP ${status}`);
    this.status = status;
  }
}

async function getJson(path) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(new URL(path, base), { headers, cache: "no-store" });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

// Messages shown above the cards, one per key; `null` removes one.
const messages = new Map();
function message(key, text) {
  if (text) messages.set(key, text);
  else messages.delete(key);
  $("messages").replaceChildren(...[...messages.values()].map((t) => h("p", { text: t })));
}

const catalog = new Map();
function describe(name, body) {
  const entry = catalog.get(name);
  return {
    title: entry?.title || body?.title || name,
    unit: entry?.unit ?? body?.unit ?? "",
    description: entry?.description || "",
  };
}

async function loadCatalog() {
  try {
    const body = await getJson("api/metrics");
    for (const entry of body.metrics) catalog.set(entry.name, entry);
    message("catalog", null);
  } catch (err) {
    if (err.status === 401) {
      message("catalog", token
        ? "The bridge refused the token in this page's URL."
        : "This bridge needs a token for reads: open this page as …/?token=TOKEN.");
    } else {
      message("catalog", `Could not load the metric catalog (${err.message}); retrying.`);
    }
    setTimeout(loadCatalog, CATALOG_RETRY);
  }
}

const hosts = new Hosts($("hosts"), describe);
const alerts = new Alerts({
  body: $("alerts-body"), count: $("alert-count"), empty: $("no-alerts"),
  onError: (text) => message("alerts-error", `Alert stream: ${text}`),
});

const metrics = {
  link: "connecting", transport: "ws", detail: "",
  frame: null, receivedAt: 0, timestamps: [], interval: DEFAULT_INTERVAL,
  prometheus: "unknown", prometheusDetail: "", awaitingFresh: false,
};
const alertLink = { link: "connecting", transport: "ws", detail: "" };

function learnInterval(timestamp) {
  const stamps = metrics.timestamps;
  if (stamps.length && timestamp <= stamps[stamps.length - 1]) return;
  stamps.push(timestamp);
  if (stamps.length > 4) stamps.shift();
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]).filter((gap) => gap > 0);
  if (gaps.length) metrics.interval = Math.max(0.5, Math.min(...gaps));
}

function onMetricsFrame(frame) {
  switch (frame.type) {
    case "metrics": {
      if (frame.delta || !frame.metrics) return; // we only ask for full snapshots
      learnInterval(frame.timestamp);
      metrics.frame = frame;
      metrics.receivedAt = Date.now();
      metrics.prometheus = frame.stale ? "down" : "up";
      if (!frame.stale) {
        metrics.prometheusDetail = "";
        metrics.awaitingFresh = false;
      }
      hosts.update(frame);
      const problems = Object.entries(frame.errors || {}).map(
        ([name, error]) => `${name}: ${error.error}: ${error.detail}`);
      message("snapshot", [...problems, ...(frame.warnings || [])].join(" · ") || null);
      break;
    }
    case "status":
      metrics.prometheus = frame.prometheus;
      metrics.prometheusDetail = frame.detail || "";
      // Values from before an outage stay stale until the first snapshot after it.
      if (frame.prometheus === "down") metrics.awaitingFresh = true;
      break;
    case "subscribed":
      if (typeof frame.interval === "number") metrics.interval = frame.interval;
      break;
    case "error":
      message("metrics-error", `Metric stream: ${frame.error}: ${frame.detail}`);
      break;
    default: // heartbeat: the link's watchdog has seen it
      break;
  }
  render();
}

async function pollMetrics() {
  try {
    return [{ type: "metrics", id: "default", ...(await getJson("api/metrics/current")) }];
  } catch (err) {
    if (err.status === 503 || err.status === 504) {
      return [{ type: "status", prometheus: "down", detail: err.message }];
    }
    throw err;
  }
}

function metricsStale(now) {
  if (!metrics.frame) return false;
  if (!RUNNING.has(metrics.link) || metrics.frame.stale || metrics.prometheus === "down"
      || metrics.awaitingFresh) {
    return true;
  }
  return now - metrics.receivedAt > (3 * metrics.interval + 2) * 1000;
}

function showState(node, name, state, transport, detail) {
  node.setAttribute("data-state", state);
  node.setAttribute("data-transport", transport);
  node.setAttribute("title", detail || "");
  setText(node, `${name}: ${state} (${transport})`);
}

function render() {
  const now = Date.now();
  const stale = metricsStale(now);
  const state = stale && RUNNING.has(metrics.link) ? "stale" : metrics.link;
  showState($("state-metrics"), "metrics", state, metrics.transport, metrics.detail);
  showState($("state-alerts"), "alerts", alertLink.link, alertLink.transport, alertLink.detail);
  // Only the bridge knows: while it is out of reach, so is Prometheus' state.
  const prometheus = RUNNING.has(metrics.link) ? metrics.prometheus : "unknown";
  const prom = $("prometheus");
  prom.setAttribute("data-prometheus", prometheus);
  prom.setAttribute("title", metrics.prometheusDetail);
  setText(prom, `Prometheus: ${prometheus}`);
  toggle($("hosts"), "stale", stale);
  const frame = metrics.frame;
  let updated = "waiting for data…";
  if (frame) {
    const age = Math.max(0, now / 1000 - frame.timestamp);
    updated = `values at ${clock(frame.timestamp)} (${age.toFixed(1)} s old)`;
    if (stale) updated += " · stale";
  }
  setText($("updated"), updated);
  $("updated").setAttribute("data-timestamp", frame ? String(frame.timestamp) : "");
  toggle($("alerts-section"), "stale", !RUNNING.has(alertLink.link));
  alerts.tick(now);
}

new Link({
  base, token, ws: "api/ws/ws", sse: "api/sse/metrics",
  sseEvents: ["subscribed", "metrics", "status", "error", "heartbeat"],
  poll: pollMetrics,
  pollInterval: () => metrics.interval * 1000,
  onFrame: onMetricsFrame,
  onState: (state, transport, detail) => {
    Object.assign(metrics, { link: state, transport, detail });
    render();
  },
}).start();

new Link({
  base, token, ws: "api/ws/ws/alerts", sse: "api/sse/alerts",
  sseEvents: ["snapshot", "alert", "heartbeat", "resync", "error"],
  params: () => alerts.resume(),
  poll: async () => [{ type: "snapshot", ...(await getJson("api/alerts")) }],
  pollInterval: () => ALERTS_POLL,
  onFrame: (frame) => {
    alerts.frame(frame);
    render();
  },
  onState: (state, transport, detail) => {
    Object.assign(alertLink, { link: state, transport, detail });
    render();
  },
}).start();

loadCatalog();
setInterval(render, 1000);
render();
