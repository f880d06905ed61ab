// The silences view: GET api/silences (?state= active, pending or expired; all without), each
// silence with its matchers, cluster, state, author, comment and end, and the alerts it
// matches — flagged when it matches nothing, the silences to clean up. Loaded only while the
// view is open (so a closed view costs no request), again on every `silence` event of the alert
// stream and after an action; with a token entered, each live silence has an expire button.

import { expireSilence } from "./actions.js";
import { getJson } from "./api.js";
import { h, setText } from "./dom.js";
import { writeToken } from "./session.js";

const RELOAD_DELAY = 300; // ms: a burst of silence events makes one request
const OPS = { "true,false": "=", "false,false": "!=", "true,true": "=~", "false,true": "!~" };

export function matcherText(matchers) {
  const parts = (matchers ?? []).map(({ name, value, isRegex, isEqual }) => {
    const op = OPS[`${isEqual !== false},${Boolean(isRegex)}`];
    return `${name}${op}"${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  });
  return `{${parts.join(", ")}}`;
}

function ends(silence) {
  const when = Date.parse(silence.endsAt ?? "");
  if (!Number.isFinite(when)) return "";
  return `${silence.state === "expired" ? "ended" : "ends"} ${new Date(when).toLocaleString()}`;
}

export class Silences {
  constructor({ section, toggle, body, list, count, error, state, refresh }) {
    Object.assign(this, { section, toggleButton: toggle, body, list, count, error, stateSelect: state });
    this.isOpen = false;
    this.timer = null;
    this.loading = 0; // answers to older requests are void
    toggle.addEventListener("click", () => this.setOpen(!this.isOpen));
    state.addEventListener("change", () => this.load());
    refresh.addEventListener("click", () => this.load());
    document.addEventListener("tokenchange", () => this.isOpen && this.load());
  }

  setOpen(open) {
    this.isOpen = open;
    this.body.hidden = !open;
    this.toggleButton.setAttribute("aria-expanded", String(open));
    setText(this.toggleButton, open ? "hide" : "show");
    if (open) this.load();
  }

  // Something changed (a silence event, an action): reload soon, if the view is open.
  changed() {
    if (!this.isOpen) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), RELOAD_DELAY);
  }

  async load() {
    const mine = ++this.loading;
    const state = this.stateSelect.value;
    try {
      const body = await getJson("api/silences", state === "all" ? {} : { state });
      if (mine !== this.loading) return;
      setText(this.error, "");
      this.render(body.silences ?? []);
    } catch (err) {
      if (mine !== this.loading) return;
      setText(this.error, `Could not list the silences: ${err.message}`);
    }
  }

  render(silences) {
    const nothing = silences.filter((s) => s.matchesNothing).length;
    setText(this.count, nothing ? `${silences.length} · ${nothing} match nothing` : String(silences.length));
    this.list.replaceChildren(...silences.map((s) => this.row(s)));
    if (!silences.length) this.list.append(h("li", { class: "none", text: "No silence." }));
  }

  row(silence) {
    const matches = Array.isArray(silence.matches) ? silence.matches.length : 0;
    const flag = silence.matchesNothing
      ? h("span", { class: "flag", text: "matches nothing" })
      : h("span", { class: "matches", text: `matches ${matches} alert${matches === 1 ? "" : "s"}` });
    const canExpire = writeToken() && silence.state !== "expired";
    let expire = null;
    if (canExpire) {
      expire = h("button", { type: "button", class: "action action-expire", "data-action": "expire", text: "expire" });
      expire.addEventListener("click", () => this.expire(silence, expire));
    }
    return h("li", { class: "silence", "data-id": silence.id, "data-cluster": silence.cluster,
      "data-state": silence.state, "data-matches-nothing": String(Boolean(silence.matchesNothing)) },
    h("code", { class: "matchers", text: matcherText(silence.matchers) }),
    h("span", { class: "meta" },
      h("span", { class: "cluster", text: silence.cluster ?? "" }),
      h("span", { class: "silence-state", text: silence.ack ? `${silence.state} ack` : silence.state ?? "" }),
      flag,
      h("span", { class: "ends", text: ends(silence) })),
    h("span", { class: "comment", text: `${silence.createdBy ?? ""}: ${silence.comment ?? ""}` }),
    expire);
  }

  async expire(silence, button) {
    button.disabled = true;
    try {
      await expireSilence(silence.cluster, silence.id);
      this.load();
    } catch (err) {
      button.disabled = false;
      setText(this.error, `Could not expire silence ${silence.id}: ${err.message}`);
    }
  }
}
