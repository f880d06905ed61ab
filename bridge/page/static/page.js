// The live page: a hosts overview (tiles, worst first) and a host's detail view (charts), both
// loaded from the history endpoint for the chosen range and then extended from the bridge's
// metric stream (WS /api/ws/ws); the firing alerts from the alert stream (WS /api/ws/ws/alerts),
// with silences, acks and notifications (alerts-panel.js, actions.js, silences.js, notify.js);
// and the state of both streams. The URL's hash holds the view (`#host=NAME&range=1h`), so a
// link can be shared. Everything is same-origin and relative to the page's URL, so the page
// also works behind a reverse proxy under a prefix; a `?token=` is passed on
// (auth.protect_reads). With `page.bridges` configured, the streams and reads rotate to the
// other replicas when the bridge in use goes away (api.js, transport.js).

import { Actions } from "./actions.js";
import { AlertStore } from "./alerts.js";
import { AlertsPanel } from "./alerts-panel.js";
import { bridges, getJson, history, token } from "./api.js";
import { Detail } from "./detail.js";
import { h, setText, toggle } from "./dom.js";
import { clock } from "./format.js";
import { Hosts } from "./hosts.js";
import { Notifier } from "./notify.js";
import { stepFor } from "./series.js";
import { setupTokenForm } from "./session.js";
import { Silences } from "./silences.js";
import { setupTheme } from "./theme.js";
import { Link } from "./transport.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_INTERVAL = 5; // seconds; the bridge's default streams.interval
const ALERTS_POLL = 5000;
const INSTANCES_POLL = 5000;
const CATALOG_RETRY = 10000;
const RUNNING = new Set(["live", "polling"]);
export const RANGES = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
const DEFAULT_RANGE = "15m";

// Messages shown above the views, one per key; `null` removes one.
const messages = new Map();
function message(key, text) {
  if (text) messages.set(key, text);
  else messages.delete(key);
  $("messages").replaceChildren(...[...messages.values()].map((t) => h("p", { text: t })));
}

// --- the view in the URL -------------------------------------------------------------------

const view = { host: null, range: DEFAULT_RANGE };

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const range = params.get("range");
  return { host: params.get("host") || null, range: range in RANGES ? range : DEFAULT_RANGE };
}

function hashFor(host, range) {
  const params = new URLSearchParams();
  if (host) params.set("host", host);
  params.set("range", range);
  return `#${params}`;
}

// --- the catalog (titles, and which chart metrics this bridge has) ---------------------------

const catalog = new Map();
let catalogLoaded;
const catalogReady = new Promise((resolve) => {
  catalogLoaded = resolve;
});
const has = (name) => catalog.size === 0 || catalog.has(name);

async function loadCatalog() {
  try {
    const body = await getJson("api/metrics");
    for (const entry of body.metrics) catalog.set(entry.name, entry);
    message("catalog", null);
    catalogLoaded();
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

// --- state of the streams --------------------------------------------------------------------

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

// --- history ---------------------------------------------------------------------------------

let generation = 0; // a range or host change makes older history answers void
const newTiles = new Map();
let newTilesTimer = null;
const TILE_WIDTH = 280;

function historyFailed(where, err) {
  message(`history-${where}`, `Could not load the ${where} history (${err.message}).`);
}

// The tiles' CPU history: for the `tiles` given (instance -> chart), in one request.
async function loadTileHistory(tiles) {
  const gen = generation;
  const range = RANGES[view.range];
  const width = [...tiles.values()].map((c) => c.width).find((w) => w > 0) || TILE_WIDTH;
  const step = stepFor(range, width, metrics.interval);
  for (const chart of tiles.values()) chart.reset(range, step);
  try {
    const only = tiles.size === 1 ? [...tiles.keys()][0] : null;
    const body = await history("cpu", range, step, only);
    if (gen !== generation) return;
    for (const [instance, chart] of tiles) {
      chart.setHistory(body.series.filter((s) => s.instance === instance));
    }
    message("history-overview", null);
  } catch (err) {
    if (gen === generation) historyFailed("overview", err);
  }
}

function tileAdded(instance, chart) {
  newTiles.set(instance, chart);
  clearTimeout(newTilesTimer);
  newTilesTimer = setTimeout(() => {
    const tiles = new Map(newTiles);
    newTiles.clear();
    loadTileHistory(tiles);
  }, 50);
}

async function loadDetailHistory() {
  const gen = generation;
  const range = RANGES[view.range];
  const instance = detail.instance;
  await Promise.all(detail.charts.map(async (chart) => {
    const step = stepFor(range, chart.width || 600, metrics.interval);
    chart.reset(range, step);
    try {
      const body = await history(chart.def.metric, range, step, instance);
      if (gen !== generation || detail.instance !== instance) return;
      chart.setHistory(body.series.filter((s) => s.instance === instance));
      message("history-detail", null);
    } catch (err) {
      if (gen === generation) historyFailed("detail", err);
    }
  }));
}

// --- views -----------------------------------------------------------------------------------

const hosts = new Hosts($("hosts"), {
  href: (instance) => hashFor(instance, view.range),
  onNew: tileAdded,
});
const detail = new Detail($("detail"), {
  title: $("detail-title"), badge: $("detail-state"), grid: $("charts"),
});
const instanceStates = new Map();

async function applyView() {
  const next = readHash();
  const rangeChanged = next.range !== view.range;
  Object.assign(view, next);
  generation += 1;
  for (const button of $("ranges").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === view.range));
  }
  hosts.setHref((instance) => hashFor(instance, view.range));
  $("home").setAttribute("href", hashFor(null, view.range));
  $("back").setAttribute("href", hashFor(null, view.range));
  document.title = view.host ? `${view.host} · promwire` : "promwire · live";
  $("overview").hidden = Boolean(view.host);
  if (view.host) {
    await catalogReady;
    if (readHash().host !== view.host) return; // moved on while the catalog loaded
    const opened = detail.open(view.host, has);
    detail.setState(instanceStates.get(view.host) ?? "unknown");
    if (opened || rangeChanged) loadDetailHistory();
  } else {
    detail.close();
  }
  if (rangeChanged || !view.host) {
    const tiles = new Map(hosts.charts());
    if (tiles.size && rangeChanged) loadTileHistory(tiles);
  }
}

for (const button of $("ranges").querySelectorAll("button")) {
  button.addEventListener("click", () => {
    location.hash = hashFor(view.host, button.dataset.range);
  });
}
window.addEventListener("hashchange", applyView);

// --- instances (up, down, stale) -------------------------------------------------------------

async function pollInstances() {
  try {
    const body = await getJson("api/instances");
    instanceStates.clear();
    for (const one of body.instances) instanceStates.set(one.instance, one.state);
    hosts.setInstances(body.instances);
    if (detail.instance) detail.setState(instanceStates.get(detail.instance) ?? "unknown");
    message("instances", null);
  } catch (err) {
    if (err.status !== 401) message("instances", `Could not list the hosts (${err.message}).`);
  }
  render();
  setTimeout(pollInstances, INSTANCES_POLL);
}

// --- the streams -----------------------------------------------------------------------------

const silences = new Silences({
  section: $("silences"), toggle: $("silences-toggle"), body: $("silences-body"),
  list: $("silence-list"), count: $("silence-count"), error: $("silences-error"),
  state: $("silence-state"), refresh: $("silences-refresh"),
});
const notifier = new Notifier($("notify"));
const alertStore = new AlertStore({
  onChange: () => alerts.render(),
  onNew: (alert) => notifier.alert(alert),
  onSilence: () => silences.changed(),
  onError: (text) => message("alerts-error", `Alert stream: ${text}`),
});
const alerts = new AlertsPanel({
  store: alertStore,
  actions: new Actions({ area: $("alert-action"), onDone: () => silences.changed() }),
  body: $("alerts-body"), count: $("alert-count"), empty: $("no-alerts"),
  filter: $("alert-filter"), filterError: $("filter-error"),
  grouping: $("alert-grouping"), chips: $("alert-states"),
  onRender: () => hosts.setAlerts(alertStore.perInstance()),
});
setupTokenForm({ form: $("token-form"), input: $("token-input"), status: $("token-status"),
  forget: $("token-forget") });

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
      detail.update(frame);
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

function showState(node, name, state, transport, detailText) {
  node.setAttribute("data-state", state);
  node.setAttribute("data-transport", transport);
  node.setAttribute("title", detailText || "");
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
  toggle($("charts"), "stale", stale);
  setText($("host-count"), String(hosts.size));
  toggle($("no-hosts"), "hidden", hosts.size > 0);
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

setupTheme($("theme"));
loadCatalog();
view.range = readHash().range;
applyView();
pollInstances();

new Link({
  bridges, token, ws: "api/ws/ws", sse: "api/sse/metrics",
  sseEvents: ["subscribed", "metrics", "status", "error", "heartbeat"],
  poll: pollMetrics,
  pollInterval: () => metrics.interval * 1000,
  onFrame: onMetricsFrame,
  onState: (state, transport, detailText) => {
    Object.assign(metrics, { link: state, transport, detail: detailText });
    render();
  },
}).start();

new Link({
  bridges, token, ws: "api/ws/ws/alerts", sse: "api/sse/alerts",
  sseEvents: ["snapshot", "alert", "silence", "heartbeat", "resync", "error"],
  params: () => alertStore.resume(),
  poll: async () => [{ type: "snapshot", ...(await getJson("api/alerts", { state: "all" })) }],
  pollInterval: () => ALERTS_POLL,
  onFrame: (frame) => {
    alertStore.frame(frame);
    render();
  },
  onState: (state, transport, detailText) => {
    Object.assign(alertLink, { link: state, transport, detail: detailText });
    render();
  },
}).start();

setInterval(render, 1000);
render();
