// One host's detail view: the CHARTS (CPU by mode, memory, swap, load, disk I/O, disk used,
// network), each loaded from the history endpoint for the chosen range, then extended from the
// metric stream (see series.js for how the two meet).

import { CHARTS, Chart, resolve, track, untrack } from "./charts.js";
import { h, setText } from "./dom.js";

export class Detail {
  constructor(root, { title, badge, grid }) {
    this.root = root;
    this.title = title;
    this.badge = badge;
    this.grid = grid;
    this.instance = null;
    this.charts = [];
  }

  // Show `instance` (charts rebuilt when it changes); `has(name)`: is it in the catalog.
  open(instance, has) {
    this.root.hidden = false;
    if (instance === this.instance && this.charts.length) return false;
    this.close();
    this.root.hidden = false;
    this.instance = instance;
    setText(this.title, instance);
    this.root.setAttribute("data-instance", instance);
    this.charts = CHARTS.map((def) => track(new Chart(resolve(def, has), { height: 190 })));
    this.grid.replaceChildren(...this.charts.map((chart) => chart.node));
    return true;
  }

  close() {
    for (const chart of this.charts) untrack(chart);
    this.charts = [];
    this.instance = null;
    this.grid.replaceChildren();
    this.root.hidden = true;
  }

  setState(state) {
    this.badge.setAttribute("data-state", state);
    setText(this.badge, state);
  }

  // A full Snapshot: this host's samples of each chart's metric.
  update(snapshot) {
    if (!this.instance) return;
    for (const chart of this.charts) {
      const body = snapshot.metrics?.[chart.def.metric];
      if (!body) continue;
      const mine = body.samples.filter((s) => s.instance === this.instance);
      if (mine.length) chart.pushLive(snapshot.timestamp, mine);
    }
  }

  placeholder(text) {
    this.grid.replaceChildren(h("p", { class: "none", text }));
  }
}
