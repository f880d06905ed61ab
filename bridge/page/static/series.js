// The points of one chart: history from GET /api/metrics/{name}, then live points from the
// metric stream, on one shared time axis in uPlot's layout ([xs, ys1, ys2, ...], null = gap).
//
// History and stream meet without a gap or a repeat: live points are kept from the moment the
// chart exists (also while its history is still being fetched), and when the history arrives
// only the live points after its last timestamp are kept behind it. A point whose timestamp is
// not after the last one adds nothing (a stale snapshot repeats its timestamp). So the time
// axis is strictly increasing, whatever order the answers come in.
//
// Live points are spaced like the history: one that comes less than `step` after the last kept
// point replaces a provisional last point instead of adding one, so a 7-day chart does not
// gather a point per stream interval, yet its right edge is always the newest value. The
// table is bounded by its range (older points are dropped) and by MAX_POINTS.

import { toNumber } from "./format.js";

export const MAX_POINTS = 5000;

function finite(raw) {
  const value = toNumber(raw);
  return Number.isFinite(value) ? value : null;
}

export class SeriesTable {
  // `keyOf(labels)`: the series a sample or history series belongs to (null: not charted).
  constructor(keyOf, { range = 900, step = 1 } = {}) {
    this.keyOf = keyOf;
    this.range = range;
    this.step = step;
    this.xs = [];
    this.cols = new Map();
    this.provisional = false;
    this.historyPoints = 0;
    this.livePoints = 0;
    this.historyEnd = null;
    this.loaded = false; // a history answer arrived (it may hold no point)
    this.version = 0;
  }

  get keys() {
    return [...this.cols.keys()];
  }

  column(key) {
    let col = this.cols.get(key);
    if (!col) {
      col = new Array(this.xs.length).fill(null);
      this.cols.set(key, col);
    }
    return col;
  }

  // A History answer's `series` (already filtered to the chart's instance).
  setHistory(series) {
    const byKey = new Map();
    const stamps = new Set();
    for (const one of series) {
      const key = this.keyOf(one.labels || {});
      if (key === null || key === undefined) continue;
      const points = byKey.get(key) ?? new Map();
      for (const [ts, raw] of one.points) {
        points.set(ts, finite(raw));
        stamps.add(ts);
      }
      byKey.set(key, points);
    }
    const xs = [...stamps].sort((a, b) => a - b);
    const last = xs.length ? xs[xs.length - 1] : -Infinity;
    const tail = [];
    this.xs.forEach((ts, i) => {
      if (ts > last) tail.push(i);
    });
    const cols = new Map();
    for (const key of new Set([...byKey.keys(), ...this.cols.keys()])) {
      const points = byKey.get(key);
      const old = this.cols.get(key);
      cols.set(key, [...xs.map((ts) => (points?.has(ts) ? points.get(ts) : null)),
        ...tail.map((i) => (old ? old[i] : null))]);
    }
    this.xs = [...xs, ...tail.map((i) => this.xs[i])];
    this.cols = cols;
    this.historyPoints = xs.length;
    this.loaded = true;
    this.historyEnd = xs.length ? last : null;
    this.livePoints = tail.length;
    this.provisional = false;
    this.trim();
    this.version += 1;
  }

  // One stream frame's values at `ts`: a Map key -> raw value (missing keys are gaps).
  pushLive(ts, values) {
    const n = this.xs.length;
    if (n && !(ts > this.xs[n - 1])) return false;
    for (const key of values.keys()) this.column(key);
    const replace = this.provisional && n >= 2 && ts - this.xs[n - 2] < this.step;
    const at = replace ? n - 1 : n;
    if (!replace) this.livePoints += 1;
    this.xs[at] = ts;
    for (const [key, col] of this.cols) col[at] = values.has(key) ? finite(values.get(key)) : null;
    const before = at > 0 ? this.xs[at - 1] : -Infinity;
    this.provisional = ts - before < this.step;
    this.trim();
    this.version += 1;
    return true;
  }

  // Drop points older than the range before the newest one, and beyond MAX_POINTS.
  trim() {
    const n = this.xs.length;
    if (!n) return;
    const cutoff = this.xs[n - 1] - this.range;
    let drop = 0;
    while (drop < n && this.xs[drop] < cutoff) drop += 1;
    drop = Math.max(drop, n - MAX_POINTS);
    if (drop <= 0) return;
    this.xs.splice(0, drop);
    for (const col of this.cols.values()) col.splice(0, drop);
  }

  // uPlot's data for `keys` (in that order).
  data(keys) {
    return [this.xs, ...keys.map((key) => this.cols.get(key) ?? new Array(this.xs.length).fill(null))];
  }

  // The newest value of each key (for figures and legends), null when it is a gap.
  latest(key) {
    const col = this.cols.get(key);
    return col && col.length ? col[col.length - 1] : null;
  }
}

// Nice steps in seconds, so that neighbouring widths ask for the same grid.
const NICE = [1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200,
  10800, 21600, 43200, 86400];

// The history step for a chart `pixels` wide over `range` seconds: about one point per
// PIXELS_PER_POINT px, never below the stream's interval (finer points would repeat values).
export const PIXELS_PER_POINT = 2;
export function stepFor(range, pixels, interval = 1) {
  const raw = Math.max(range / Math.max(1, pixels / PIXELS_PER_POINT), interval, 1);
  return NICE.find((step) => step >= raw) ?? Math.ceil(raw);
}
