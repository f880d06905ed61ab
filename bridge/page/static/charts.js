// Time-series charts drawn by uPlot (vendor/uplot, loaded as a classic script before the page's
// modules, which is why it is the global `uPlot`). A `Chart` owns one SeriesTable and redraws
// at most once per animation frame, whatever the number of updates; hidden charts (display:
// none, zero width) keep their data but are not drawn until they are shown.
//
// Each chart has axes in its unit, a legend whose values follow the hover crosshair (the
// newest values when the pointer is elsewhere), and drag-to-zoom on the time axis; a
// double-click zooms back out. While zoomed, live points are still added but the view stays.

import { h } from "./dom.js";
import { axisValue, formatValue, timeOfDay } from "./format.js";
import { SeriesTable } from "./series.js";
import { cssVar } from "./theme.js";

// What a host's detail view charts: catalog metric, unit, and the series key of a sample's
// labels. `fallback`: the catalog metric used when a bridge's catalog lacks the first one.
export const CHARTS = [
  { id: "cpu", metric: "cpu_mode", title: "CPU by mode", unit: "percent", max: 100,
    key: (l) => l.mode ?? null, hidden: ["idle"],
    order: ["user", "system", "iowait", "nice", "irq", "softirq", "steal", "idle"],
    fallback: { metric: "cpu", key: () => "busy" } },
  { id: "memory", metric: "memory_bytes", title: "Memory", unit: "bytes", stack: true,
    key: (l) => l.kind ?? null, order: ["used", "cache", "free"],
    fallback: { metric: "memory", unit: "percent", key: () => "used" } },
  { id: "swap", metric: "swap", title: "Swap used", unit: "percent", max: 100, key: () => "used" },
  { id: "load", metric: "load", title: "Load average", unit: "", key: (l) => l.period ?? null,
    order: ["1m", "5m", "15m"], fallback: { metric: "load1", key: () => "1m" } },
  { id: "disk_io", metric: "disk_io", title: "Disk I/O", unit: "bytes/s",
    key: (l) => (l.device ? `${l.device} ${l.direction ?? ""}`.trim() : null) },
  { id: "disk", metric: "disk", title: "Disk used", unit: "percent", max: 100,
    key: (l) => l.mountpoint ?? null },
  { id: "network", metric: "network", title: "Network", unit: "bytes/s",
    key: (l) => (l.device ? `${l.device} ${l.direction === "transmit" ? "tx" : "rx"}` : null) },
];

const BYTES = new Set(["bytes", "bytes/s"]);
// Tick spacings for byte axes: powers of two (ticks at "4 GiB" or "512 KiB", not "4.7 GiB").
const BINARY_INCRS = Array.from({ length: 61 }, (_, i) => 2 ** i);

const PALETTE = ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7", "--c8"];

// The definition as this bridge's catalog allows: `has(name)` says whether a metric exists.
export function resolve(def, has) {
  if (has(def.metric) || !def.fallback || !has(def.fallback.metric)) return def;
  return { ...def, ...def.fallback };
}

// Keys in the definition's order first, then the others sorted.
function ordered(keys, order = []) {
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return [...keys].sort((a, b) => rank(a) - rank(b) || String(a).localeCompare(String(b)));
}

// One animation frame draws every chart that changed. Widths come from the ResizeObserver, so
// drawing never reads layout: a read after another chart's DOM writes would force a layout
// per chart, which with 20 tiles is a long task.
let pending = new Set();
let frame = 0;
function schedule(chart) {
  pending.add(chart);
  if (!frame) {
    frame = requestAnimationFrame(() => {
      const charts = pending;
      pending = new Set();
      frame = 0;
      for (const one of charts) one.draw();
    });
  }
}

export class Chart {
  // `def`: one of CHARTS (resolved); `compact`: a tile's small chart (no axes, legend, cursor).
  constructor(def, { compact = false, height = 180, range = 900, step = 1 } = {}) {
    this.def = def;
    this.compact = compact;
    this.height = height;
    this.table = new SeriesTable(def.key, { range, step });
    this.plot = null;
    this.keys = [];
    this.zoomed = false;
    this.drawn = -1;
    this.host = h("div", { class: compact ? "plot compact" : "plot" });
    this.node = compact ? this.host : h("figure", { class: "chart", "data-chart": def.id },
      h("figcaption", {}, h("span", { class: "title", text: def.title }),
        h("span", { class: "unit", text: def.unit === "" ? "" : def.unit })),
      this.host);
    this.node.chart = this; // for the browser tests: the table behind what is drawn
    this.size = 0; // content width in CSS px, from the ResizeObserver (0: hidden)
    this.resizer = new ResizeObserver((entries) => {
      this.size = Math.floor(entries[entries.length - 1].contentRect.width);
      schedule(this);
    });
    this.resizer.observe(this.host);
  }

  // The chart's width in CSS pixels, for the history step (0 while hidden).
  get width() {
    return this.size || this.host.clientWidth;
  }

  reset(range, step) {
    this.table = new SeriesTable(this.def.key, { range, step });
    this.zoomed = false;
    this.update();
  }

  setHistory(series) {
    this.table.setHistory(series);
    this.update();
  }

  pushLive(ts, samples) {
    const values = new Map();
    for (const sample of samples) {
      const key = this.def.key(sample.labels || {});
      if (key !== null && key !== undefined) values.set(key, sample.value);
    }
    if (this.table.pushLive(ts, values)) this.update();
  }

  update() {
    schedule(this);
  }

  // Rebuild with the current theme's colours (canvas colours are not CSS).
  restyle() {
    this.destroyPlot();
    schedule(this);
  }

  destroyPlot() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.drawn = -1;
  }

  destroy() {
    this.resizer.disconnect();
    this.destroyPlot();
    pending.delete(this);
  }

  draw() {
    const width = this.size;
    if (!width || !this.node.isConnected) return; // hidden: drawn when shown (ResizeObserver)
    const empty = this.table.loaded && this.table.xs.length === 0;
    if (empty !== this.node.hasAttribute("data-empty")) this.node.toggleAttribute("data-empty", empty);
    const keys = ordered(this.table.keys, this.def.order);
    const sameKeys = keys.length === this.keys.length && keys.every((k, i) => k === this.keys[i]);
    if (!this.plot || !sameKeys) {
      this.destroyPlot();
      this.keys = keys;
      if (!this.table.xs.length) return;
      this.plot = new uPlot(this.options(width, keys), this.plotData(keys), this.host);
    } else if (this.plot.width !== width) {
      this.plot.setSize({ width, height: this.height });
    }
    if (this.drawn !== this.table.version) {
      this.plot.setData(this.plotData(keys), !this.zoomed);
      this.drawn = this.table.version;
    }
    // Away from the pointer, the legend shows the newest values.
    if (!this.compact && this.plot.cursor.left < 0 && this.table.xs.length) {
      this.plot.setLegend({ idx: this.table.xs.length - 1 });
    }
  }

  // What uPlot draws: the table, or for a stacked chart each series on top of the ones before
  // (a gap stays a gap). `this.raw` keeps the values themselves, for the legend.
  plotData(keys) {
    const raw = this.table.data(keys);
    this.raw = raw;
    if (!this.def.stack) return raw;
    const stacked = [raw[0]];
    for (let i = 1; i < raw.length; i += 1) {
      stacked.push(raw[i].map((v, j) => (v === null ? null : v + (i > 1 ? stacked[i - 1][j] ?? 0 : 0))));
    }
    return stacked;
  }

  options(width, keys) {
    const { def } = this;
    const fg = cssVar("--muted");
    const grid = cssVar("--grid");
    const series = keys.map((key, i) => ({
      label: key,
      stroke: cssVar(PALETTE[i % PALETTE.length]),
      width: this.compact ? 1.25 : 1.5,
      show: !(def.hidden || []).includes(key),
      value: (u, v, si, idx) => {
        const own = idx === null || idx === undefined ? v : this.raw?.[si]?.[idx];
        return own === null || own === undefined ? "–" : formatValue(own, def.unit);
      },
      spanGaps: false,
    }));
    // Stacked: the first series filled down to 0, each next one down to the one below it.
    const bands = [];
    if (def.stack) {
      series.forEach((s, i) => {
        const fill = `${s.stroke}40`;
        if (i === 0) s.fill = fill;
        else bands.push({ series: [i + 1, i], fill });
      });
    }
    if (this.compact) {
      series.forEach((s) => Object.assign(s, { fill: cssVar("--fill"), points: { show: false } }));
    }
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
      font: "11px system-ui, sans-serif" };
    const yRange = (u, min, max) => {
      if (this.compact && def.max) return [0, def.max]; // a tile: 40 % looks like 40 %
      const top = Number.isFinite(max) && max > 0 ? max * 1.08 : 1;
      return [0, def.max ? Math.min(def.max, Math.max(top, def.max / 20)) : top];
    };
    return {
      width, height: this.height,
      padding: this.compact ? [2, 0, 0, 0] : [8, 8, 0, 0],
      legend: { show: !this.compact, live: true },
      cursor: this.compact ? { show: false } : {
        drag: { x: true, y: false, setScale: true }, points: { size: 6 },
      },
      select: { show: !this.compact },
      scales: { x: { time: true }, y: { range: yRange } },
      axes: this.compact ? [{ show: false }, { show: false }] : [
        { ...axis, size: 32 },
        { ...axis, size: BYTES.has(def.unit) ? 76 : 52,
          ...(BYTES.has(def.unit) ? { incrs: BINARY_INCRS } : {}),
          values: (u, ticks) => ticks.map((v) => axisValue(v, def.unit)) },
      ],
      series: [{ value: (u, ts) => timeOfDay(ts) }, ...series],
      bands,
      hooks: {
        setScale: [(u, key) => {
          if (key !== "x") return;
          const xs = u.data[0];
          const { min, max } = u.scales.x;
          this.zoomed = xs.length > 1 && (min > xs[0] + 1e-6 || max < xs[xs.length - 1] - 1e-6);
        }],
      },
    };
  }
}

// Re-colour every chart when the theme changes.
const all = new Set();
export function track(chart) {
  all.add(chart);
  return chart;
}
export function untrack(chart) {
  all.delete(chart);
  chart.destroy();
}
document.addEventListener("themechange", () => {
  for (const chart of all) chart.restyle();
});
