// The alert actions, for a user who entered a token (session.js): silence an alert (matchers
// prefilled from its labels, a duration, a comment: POST api/silences), acknowledge it (a
// comment and a duration: POST api/alerts/{fingerprint}/ack?cluster=) and expire a silence
// (DELETE api/silences/{cluster}/{id}; for an acked alert, its ack). A row holds only the
// buttons; the form is one, in `area`, outside the alert list, so the list re-rendering on every
// alert event never loses what is being typed. The API's errors ({"error", "detail"}) are shown
// under the form as the bridge words them.

import { send } from "./api.js";
import { h, setText } from "./dom.js";

const quote = (value) => `"${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

// The alert's labels as Alertmanager equality matchers, alertname first.
export function labelMatchers(labels) {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => (a === "alertname" ? -1 : b === "alertname" ? 1 : a.localeCompare(b)))
    .map(([name, value]) => `${name}=${quote(value)}`);
}

function field(label, control) {
  return h("label", { class: "field" }, h("span", { text: label }), control);
}

function input(name, value, attrs = {}) {
  return h("input", { name, value, autocomplete: "off", spellcheck: "false", ...attrs });
}

// Expire one silence; its answer's silence, or an HttpError.
export async function expireSilence(cluster, id) {
  const path = `api/silences/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}`;
  return (await send("DELETE", path)).silence;
}

function until(silence) {
  const when = Date.parse(silence?.endsAt ?? "");
  return Number.isFinite(when) ? ` until ${new Date(when).toLocaleString()}` : "";
}

export class Actions {
  // `area`: the element the forms go in; `onDone()`: after a write succeeded.
  constructor({ area, onDone }) {
    this.area = area;
    this.onDone = onDone;
    this.area.hidden = true;
  }

  buttons(alert) {
    const name = alert.labels?.alertname ?? "";
    const button = (kind, text, run) => {
      const node = h("button", { type: "button", class: `action action-${kind}`, "data-action": kind,
        title: `${text} ${name}`, text });
      node.addEventListener("click", run);
      return node;
    };
    return h("span", { class: "actions" },
      button("silence", "silence…", () => this.silenceForm(alert)),
      alert.ack ? button("unack", "unack", () => this.expire(alert.cluster, alert.ack.silenceID,
        `the ack of ${name}`))
        : button("ack", "ack…", () => this.ackForm(alert)));
  }

  // Show `form` under a title, with the error and result lines; submit runs `submit(values)`.
  show(title, fields, submitText, submit) {
    const error = h("p", { class: "action-error", role: "alert" });
    const result = h("p", { class: "action-result", role: "status" });
    const cancel = h("button", { type: "button", text: "cancel" });
    const go = h("button", { type: "submit", class: "primary", text: submitText });
    const form = h("form", { class: "action-form" }, ...fields, h("div", { class: "buttons" }, go, cancel));
    form.addEventListener("submit", async (event) => {
      event.preventDefault(); // form-action 'none': the form never navigates
      setText(error, "");
      go.disabled = true;
      try {
        setText(result, await submit(new FormData(form)));
        form.hidden = true;
        this.onDone?.();
      } catch (err) {
        setText(error, err.message);
      } finally {
        go.disabled = false;
      }
    });
    cancel.addEventListener("click", () => this.close());
    const close = h("button", { type: "button", class: "close", title: "close", text: "×" });
    close.addEventListener("click", () => this.close());
    this.area.replaceChildren(h("header", {}, h("h3", { text: title }), close), form, error, result);
    this.area.hidden = false;
    form.querySelector("textarea, input:not([readonly])")?.focus();
  }

  close() {
    this.area.replaceChildren();
    this.area.hidden = true;
  }

  silenceForm(alert) {
    const matchers = labelMatchers(alert.labels);
    this.show(`Silence ${alert.labels?.alertname ?? ""} (cluster ${alert.cluster})`, [
      field("matchers, one per line", h("textarea", { name: "matchers", rows: Math.min(8, matchers.length + 1),
        spellcheck: "false", text: matchers.join("\n") })),
      field("duration", input("duration", "2h", { size: 6 })),
      field("comment", input("comment", "", { required: "" })),
    ], "create silence", async (values) => {
      const body = await send("POST", "api/silences", { body: {
        cluster: alert.cluster,
        matchers: String(values.get("matchers")).split("\n").map((l) => l.trim()).filter(Boolean),
        duration: String(values.get("duration")).trim(),
        comment: String(values.get("comment")),
      } });
      return `Silence ${body.silence?.id ?? ""} created${until(body.silence)}.`;
    });
    this.area.dataset.kind = "silence";
  }

  ackForm(alert) {
    const name = alert.labels?.alertname ?? "";
    const where = alert.labels?.instance ? ` on ${alert.labels.instance}` : "";
    this.show(`Acknowledge ${name}${where} (cluster ${alert.cluster})`, [
      field("comment", input("comment", "", { required: "" })),
      field("duration", input("duration", "1h", { size: 6 })),
    ], "ack", async (values) => {
      const body = await send("POST", `api/alerts/${encodeURIComponent(alert.fingerprint)}/ack`, {
        params: { cluster: alert.cluster },
        body: { comment: String(values.get("comment")), duration: String(values.get("duration")).trim() },
      });
      return `Acked${until(body.silence)} (silence ${body.silence?.id ?? ""}).`;
    });
    this.area.dataset.kind = "ack";
  }

  // Expire a silence at once (no form), with the outcome shown in the area.
  async expire(cluster, id, what) {
    const line = h("p", { class: "action-result", role: "status", text: `Expiring ${what}…` });
    const close = h("button", { type: "button", class: "close", title: "close", text: "×" });
    close.addEventListener("click", () => this.close());
    this.area.replaceChildren(h("header", {}, h("h3", { text: `Expire ${what}` }), close), line);
    this.area.dataset.kind = "expire";
    this.area.hidden = false;
    try {
      await expireSilence(cluster, id);
      setText(line, `Expired ${what}.`);
      this.onDone?.();
    } catch (err) {
      line.className = "action-error";
      line.setAttribute("role", "alert");
      setText(line, err.message);
    }
  }
}
