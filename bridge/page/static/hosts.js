// The hosts overview: one tile per host (the samples' `instance`, and every host
// GET /api/instances lists), with its state, key figures and a small CPU chart over the chosen
// range; worst first (down, stale, unknown, then the most firing alerts, then the highest of
// CPU, memory and disk). A tile is a link to the host's detail view.
//
// The state is the bridge's (GET /api/instances: up only from a fresh `up` sample); a host the
// bridge does not list is `unknown`, never `up`, whatever values Prometheus still returns.

import { Chart, track, untrack } from "./charts.js";
import { h, setText, toggle } from "./dom.js";
import { formatValue, toNumber } from "./format.js";

const RANK = { down: 0, stale: 1, unknown: 2, up: 3 };
const FIGURES = [
  ["cpu", "CPU", "percent"], ["memory", "Memory", "percent"], ["disk", "Disk", "percent"],
  ["load1", "Load", ""], ["network", "Net", "bytes/s"], ["uptime", "Up", "seconds"],
];
const TILE_CHART = { id: "tile-cpu", metric: "cpu", title: "CPU busy", unit: "percent", max: 100,
  key: () => "busy" };

function level(node, unit, value) {
  toggle(node, "warn", unit === "percent" && value >= 80 && value < 90);
  toggle(node, "crit", unit === "percent" && value >= 90);
}

// One host's figures from its samples: numbers (NaN when missing).
function figures(metrics) {
  const first = (name) => toNumber(metrics[name]?.samples[0]?.value);
  const disks = (metrics.disk?.samples || []).map((s) => toNumber(s.value)).filter(Number.isFinite);
  const net = metrics.network?.samples || [];
  return {
    cpu: first("cpu"), memory: first("memory"), load1: first("load1"), uptime: first("uptime"),
    disk: disks.length ? Math.max(...disks) : NaN,
    network: net.length ? net.reduce((sum, s) => sum + (toNumber(s.value) || 0), 0) : NaN,
  };
}

class Tile {
  constructor(instance, href) {
    this.instance = instance;
    this.state = "unknown";
    this.values = {};
    this.alerts = 0;
    this.badge = h("span", { class: "badge", "data-state": "unknown", text: "unknown" });
    this.alertBadge = h("span", { class: "alert-badge hidden" });
    this.cells = {};
    const list = h("dl", { class: "figures" });
    for (const [name, label, unit] of FIGURES) {
      const value = h("dd", { class: "value", "data-value": "", text: "–" });
      this.cells[name] = { value, unit };
      list.append(h("div", { "data-metric": name }, h("dt", { text: label }), value));
    }
    this.chart = track(new Chart(TILE_CHART, { compact: true, height: 44 }));
    this.node = h("a", { class: "tile", href: href(instance), "data-instance": instance,
      "data-state": "unknown" },
    h("header", {}, h("h3", { text: instance }), this.alertBadge, this.badge),
    list, this.chart.node);
  }

  setState(state) {
    this.state = state;
    this.node.setAttribute("data-state", state);
    this.badge.setAttribute("data-state", state);
    setText(this.badge, state);
  }

  setAlerts(count) {
    this.alerts = count;
    toggle(this.alertBadge, "hidden", count === 0);
    setText(this.alertBadge, count ? `${count} alert${count > 1 ? "s" : ""}` : "");
  }

  update(metrics, timestamp) {
    this.values = figures(metrics);
    for (const [name, { value, unit }] of Object.entries(this.cells)) {
      const v = this.values[name];
      value.setAttribute("data-value", Number.isFinite(v) ? String(v) : "");
      setText(value, Number.isFinite(v) ? formatValue(v, unit) : "–");
      level(value, unit, v);
    }
    if (metrics.cpu) this.chart.pushLive(timestamp, metrics.cpu.samples);
  }

  // Lower is worse.
  score() {
    const worst = Math.max(...["cpu", "memory", "disk"].map((k) => this.values[k])
      .filter(Number.isFinite), 0);
    // In 10-point bands, so that tiles do not swap places on every small change.
    return [RANK[this.state] ?? 2, -this.alerts, -Math.floor(worst / 10)];
  }
}

export class Hosts {
  // `href(instance)`: the detail view's URL; `onNew(instance)`: a tile appeared (fetch its history).
  constructor(root, { href, onNew }) {
    this.root = root;
    this.href = href;
    this.onNew = onNew;
    this.tiles = new Map();
    this.states = new Map();
    this.order = [];
  }

  tile(instance) {
    let tile = this.tiles.get(instance);
    if (!tile) {
      tile = new Tile(instance, this.href);
      tile.setState(this.states.get(instance) ?? "unknown");
      this.tiles.set(instance, tile);
      this.onNew(instance, tile.chart);
    }
    return tile;
  }

  // A full Snapshot (a `metrics` frame or GET /api/metrics/current).
  update(snapshot) {
    const perHost = new Map();
    for (const [name, body] of Object.entries(snapshot.metrics || {})) {
      for (const sample of body.samples || []) {
        if (!perHost.has(sample.instance)) perHost.set(sample.instance, {});
        const metrics = perHost.get(sample.instance);
        metrics[name] ??= { unit: body.unit, samples: [] };
        metrics[name].samples.push(sample);
      }
    }
    for (const [instance, metrics] of perHost) this.tile(instance).update(metrics, snapshot.timestamp);
    for (const [instance, tile] of this.tiles) toggle(tile.node, "absent", !perHost.has(instance));
    this.sort();
  }

  // GET /api/instances: every listed host gets a tile, with its state. A tile of a host that
  // is neither listed nor in the last snapshot goes (the bridge stops listing a host after an
  // hour without a sample: its tile would otherwise stay until a reload).
  setInstances(instances) {
    this.states = new Map(instances.map((one) => [one.instance, one.state]));
    for (const one of instances) this.tile(one.instance);
    for (const [instance, tile] of [...this.tiles]) {
      if (!this.states.has(instance) && tile.node.classList.contains("absent")) this.remove(instance);
      else tile.setState(this.states.get(instance) ?? "unknown");
    }
    this.sort();
  }

  // Firing alerts per instance (from the alert panel).
  setAlerts(counts) {
    for (const [instance, tile] of this.tiles) tile.setAlerts(counts.get(instance) ?? 0);
    this.sort();
  }

  setHref(href) {
    this.href = href;
    for (const [instance, tile] of this.tiles) tile.node.setAttribute("href", href(instance));
  }

  sort() {
    const tiles = [...this.tiles.values()];
    const scored = tiles.map((tile) => [tile, tile.score()]);
    scored.sort(([a, sa], [b, sb]) => sa[0] - sb[0] || sa[1] - sb[1] || sa[2] - sb[2]
      || a.instance.localeCompare(b.instance));
    const order = scored.map(([tile]) => tile.instance);
    if (order.length === this.order.length && order.every((name, i) => name === this.order[i])) return;
    this.order = order;
    this.root.replaceChildren(...scored.map(([tile]) => tile.node));
  }

  charts() {
    return [...this.tiles.values()].map((tile) => [tile.instance, tile.chart]);
  }

  remove(instance) {
    const tile = this.tiles.get(instance);
    if (!tile) return;
    untrack(tile.chart);
    this.tiles.delete(instance);
    this.order = []; // the next sort() redraws the grid without it
  }

  get size() {
    return this.tiles.size;
  }
}
