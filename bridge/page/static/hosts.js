// One card per host (the samples' `instance`), built once and updated in place from each
// Snapshot: CPU, memory, swap, load, uptime, disks, disk I/O and network rates, each with a
// sparkline of its last HISTORY values (kept in the page only, so a reload starts afresh).
// Catalog metrics beyond the built-in ones are listed generically under the card.

import { h, setText, svg, toggle } from "./dom.js";
import { formatValue, toNumber } from "./format.js";

export const HISTORY = 120;
const MIN_SLOTS = 20;
const SIMPLE = ["cpu", "memory", "swap", "load1"];
const RATES = {
  disk_io: [["read", "read"], ["write", "write"]],
  network: [["receive", "rx"], ["transmit", "tx"]],
};
const KNOWN = new Set([...SIMPLE, "uptime", "disk", ...Object.keys(RATES)]);
const WIDTH = 100;
const HEIGHT = 24;

// A sparkline of one or more series sharing a scale (fixed 0..max for percentages).
class Spark {
  constructor(count, fixedMax = null) {
    this.series = Array.from({ length: count }, () => []);
    this.fixedMax = fixedMax;
    this.last = -Infinity;
    this.lines = this.series.map((_, i) => svg("polyline", { class: `line line-${i}` }));
    this.node = svg("svg", {
      class: "spark", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none",
      "aria-hidden": "true", "data-points": "0",
    }, ...this.lines);
  }

  // One point per series at `timestamp`; a timestamp already seen adds nothing.
  push(timestamp, values) {
    if (!(timestamp > this.last)) return;
    this.last = timestamp;
    values.forEach((value, i) => {
      const series = this.series[i];
      series.push(Number.isFinite(value) ? value : null);
      if (series.length > HISTORY) series.shift();
    });
    this.node.setAttribute("data-points", String(this.series[0].length));
    this.draw();
  }

  draw() {
    const finite = this.series.flat().filter((v) => v !== null);
    const max = this.fixedMax ?? Math.max(1e-9, ...finite);
    // Newest at the right edge; the first points spread over MIN_SLOTS, then up to HISTORY.
    const slots = Math.max(MIN_SLOTS, this.series[0].length);
    const step = WIDTH / (slots - 1);
    this.series.forEach((series, i) => {
      const offset = slots - series.length;
      const points = [];
      series.forEach((value, j) => {
        if (value === null) return;
        const y = HEIGHT - 1 - (Math.min(value, max) / max) * (HEIGHT - 2);
        points.push(`${((offset + j) * step).toFixed(2)},${y.toFixed(2)}`);
      });
      this.lines[i].setAttribute("points", points.join(" "));
    });
  }
}

function meter(value) {
  return h("meter", { min: 0, max: 100, low: 80, high: 90, optimum: 0, value });
}

function level(node, unit, value) {
  toggle(node, "warn", unit === "percent" && value >= 80 && value < 90);
  toggle(node, "crit", unit === "percent" && value >= 90);
}

function setValue(node, raw, unit) {
  const value = toNumber(raw);
  node.setAttribute("data-value", raw === undefined ? "" : String(raw));
  setText(node, raw === undefined ? "–" : formatValue(raw, unit));
  level(node, unit, value);
  return value;
}

function labelText(labels) {
  const pairs = Object.entries(labels || {}).map(([k, v]) => `${k}="${v}"`);
  return pairs.length ? `{${pairs.join(", ")}}` : "";
}

class HostCard {
  constructor(instance, describe) {
    this.describe = describe;
    this.uptime = h("span", { class: "uptime" });
    this.note = h("span", { class: "note" });
    this.node = h("article", { class: "host", "data-instance": instance },
      h("header", {}, h("h3", { text: instance }), this.uptime, this.note));
    const rows = h("div", { class: "rows" });
    this.simple = {};
    for (const name of SIMPLE) {
      const value = h("span", { class: "value" });
      const spark = new Spark(1, name === "load1" ? null : 100);
      const label = h("span", { class: "label" });
      const bar = name === "load1" ? h("span", { class: "bar" }) : meter(0);
      rows.append(h("div", { class: "metric", "data-metric": name }, label, value, bar, spark.node));
      this.simple[name] = { label, value, spark, bar };
    }
    this.rates = {};
    for (const [name, directions] of Object.entries(RATES)) {
      const label = h("span", { class: "label" });
      const values = {};
      const parts = directions.map(([direction, short]) => {
        values[direction] = h("span", { class: "value", "data-direction": direction });
        return h("span", { class: "dir" }, h("span", { class: "short", text: short }),
          values[direction]);
      });
      const spark = new Spark(directions.length);
      rows.append(h("div", { class: "metric rate", "data-metric": name }, label,
        h("span", { class: "pair" }, ...parts), spark.node));
      this.rates[name] = { label, values, spark, directions };
    }
    this.diskLabel = h("span", { class: "label" });
    this.diskValue = h("span", { class: "value" });
    this.diskMount = h("span", { class: "mount fullest" });
    this.diskMeter = meter(0);
    this.mounts = h("ul", { class: "mounts" });
    this.mountRows = new Map();
    this.mountsRow = h("div", { class: "metric mounts-row" }, this.mounts);
    rows.append(h("div", { class: "metric disk", "data-metric": "disk" }, this.diskLabel,
      h("span", { class: "pair" }, this.diskValue, this.diskMount), this.diskMeter),
    this.mountsRow);
    this.extra = h("dl", { class: "extra" });
    this.node.append(rows, this.extra);
  }

  label(node, name, body) {
    const info = this.describe(name, body);
    setText(node, info.title);
    if (info.description) node.setAttribute("title", info.description);
    return info.unit;
  }

  // `metrics`: {name: {title, unit, samples}} holding only this host's samples.
  update(metrics, timestamp) {
    for (const name of SIMPLE) {
      const row = this.simple[name];
      const unit = this.label(row.label, name, metrics[name]);
      const sample = metrics[name]?.samples[0];
      const value = setValue(row.value, sample?.value, unit);
      if (row.bar.tagName === "METER") row.bar.value = Number.isFinite(value) ? value : 0;
      if (sample) row.spark.push(timestamp, [value]);
    }
    const uptime = metrics.uptime?.samples[0];
    setText(this.uptime, uptime ? `up ${formatValue(uptime.value, metrics.uptime.unit)}` : "");
    for (const [name, row] of Object.entries(this.rates)) {
      const unit = this.label(row.label, name, metrics[name]);
      const samples = metrics[name]?.samples || [];
      const sums = row.directions.map(([direction]) => {
        const mine = samples.filter((s) => s.labels?.direction === direction);
        const total = mine.reduce((sum, s) => sum + toNumber(s.value), 0);
        setValue(row.values[direction], mine.length ? total : undefined, unit);
        return mine.length ? total : NaN;
      });
      if (samples.length) row.spark.push(timestamp, sums);
    }
    this.updateDisks(metrics.disk);
    this.updateExtra(metrics);
  }

  updateDisks(body) {
    const unit = this.label(this.diskLabel, "disk", body);
    const samples = [...(body?.samples || [])].sort(
      (a, b) => (toNumber(b.value) || 0) - (toNumber(a.value) || 0));
    const fullest = samples[0];
    const value = setValue(this.diskValue, fullest?.value, unit);
    this.diskValue.setAttribute("data-mountpoint", fullest?.labels?.mountpoint ?? "");
    setText(this.diskMount, fullest ? fullest.labels?.mountpoint ?? "" : "");
    this.diskMeter.value = Number.isFinite(value) ? value : 0;
    const seen = new Set();
    for (const sample of samples) {
      const mount = sample.labels?.mountpoint ?? "";
      seen.add(mount);
      let row = this.mountRows.get(mount);
      if (!row) {
        row = { value: h("span", { class: "value" }), meter: meter(0) };
        row.node = h("li", { "data-mountpoint": mount }, h("span", { class: "mount", text: mount }),
          row.meter, row.value);
        this.mountRows.set(mount, row);
      }
      const v = setValue(row.value, sample.value, unit);
      row.meter.value = Number.isFinite(v) ? v : 0;
    }
    for (const mount of [...this.mountRows.keys()]) {
      if (!seen.has(mount)) this.mountRows.delete(mount);
    }
    toggle(this.mountsRow, "hidden", samples.length < 2); // one mount: the line above says it
    const order = samples.map((s) => this.mountRows.get(s.labels?.mountpoint ?? "").node);
    const current = [...this.mounts.children];
    if (order.length !== current.length || order.some((node, i) => node !== current[i])) {
      this.mounts.replaceChildren(...order);
    }
  }

  updateExtra(metrics) {
    const items = [];
    for (const [name, body] of Object.entries(metrics)) {
      if (KNOWN.has(name)) continue;
      for (const sample of body.samples) {
        const info = this.describe(name, body);
        items.push(h("dt", { title: info.description || null, text: `${info.title} ${labelText(sample.labels)}`.trim() }),
          h("dd", { "data-metric": name, "data-value": String(sample.value),
            text: formatValue(sample.value, info.unit) }));
      }
    }
    this.extra.replaceChildren(...items);
  }

  setAbsent(absent) {
    toggle(this.node, "absent", absent);
    setText(this.note, absent ? "not in the last snapshot" : "");
  }
}

// The host cards inside `root`. `describe(name, body)` gives {title, unit, description}.
export class Hosts {
  constructor(root, describe) {
    this.root = root;
    this.describe = describe;
    this.cards = new Map();
  }

  // A full Snapshot (a `metrics` frame or GET /api/metrics/current).
  update(snapshot) {
    const perHost = new Map();
    for (const [name, body] of Object.entries(snapshot.metrics || {})) {
      for (const sample of body.samples || []) {
        if (!perHost.has(sample.instance)) perHost.set(sample.instance, {});
        const metrics = perHost.get(sample.instance);
        metrics[name] ??= { title: body.title, unit: body.unit, samples: [] };
        metrics[name].samples.push(sample);
      }
    }
    let added = false;
    for (const [instance, metrics] of perHost) {
      let card = this.cards.get(instance);
      if (!card) {
        card = new HostCard(instance, this.describe);
        this.cards.set(instance, card);
        added = true;
      }
      card.update(metrics, snapshot.timestamp);
      card.setAbsent(false);
    }
    for (const [instance, card] of this.cards) {
      if (!perHost.has(instance)) card.setAbsent(true);
    }
    if (added) {
      const names = [...this.cards.keys()].sort();
      this.root.replaceChildren(...names.map((name) => this.cards.get(name).node));
    }
  }

  get size() {
    return this.cards.size;
  }
}
