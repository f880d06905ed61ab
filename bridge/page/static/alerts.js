// The firing alerts, kept from the alert stream's frames (README "Alerts"): a `snapshot`
// replaces them all, each `alert` event (in `seq` order) adds, updates or removes one, `silence`
// events (same seq log) mark or unmark acks, and `heartbeat`s move the resume point. `resume()`
// gives the query parameters a reconnect sends (`state=all`, and `since`/`epoch` once known) so
// that the bridge replays exactly what was missed.
//
// Alerts are keyed by (cluster, fingerprint): one fingerprint may fire in two Alertmanager
// clusters. Fields a bridge may not send yet are given their defaults here, once: `cluster`
// "default", `state` "active", `silencedBy`/`inhibitedBy` [], `ack` null.
//
// `onNew(alert)` is called for an alert that starts firing while the page watches (a `firing`
// or `refired` event, not suppressed or acked), never for the alerts of the first snapshot:
// what was already firing when the page loaded is not news. A later snapshot (polling, or a
// resync) announces only the alerts the page did not have before.

export const DEFAULT_CLUSTER = "default";
const NEW_EVENTS = new Set(["firing", "refired"]);
const ACK_PREFIX = "ACK! ";

export function alertKey(cluster, fingerprint) {
  return `${cluster ?? DEFAULT_CLUSTER}\u0000${fingerprint}`;
}

// The alert with every field the page reads present.
export function normalize(alert) {
  return {
    ...alert,
    cluster: alert.cluster || DEFAULT_CLUSTER,
    state: alert.state === "suppressed" ? "suppressed" : "active",
    silencedBy: Array.isArray(alert.silencedBy) ? alert.silencedBy : [],
    inhibitedBy: Array.isArray(alert.inhibitedBy) ? alert.inhibitedBy : [],
    ack: alert.ack && typeof alert.ack === "object" ? alert.ack : null,
  };
}

// What the state chips filter on: acked wins over suppressed (an ack is a silence).
export function category(alert) {
  if (alert.ack) return "acked";
  return alert.state;
}

// The ack an ack silence stands for ({by, comment, since, until, silenceID}), or null.
export function ackOf(silence) {
  if (!silence?.ack || silence.state === "expired") return null;
  const comment = String(silence.comment ?? "");
  return {
    by: silence.createdBy ?? "",
    comment: comment.startsWith(ACK_PREFIX) ? comment.slice(ACK_PREFIX.length) : comment,
    since: silence.startsAt ?? null,
    until: silence.endsAt ?? null,
    silenceID: silence.id,
  };
}

export class AlertStore {
  constructor({ onChange, onNew, onSilence, onError }) {
    this.onChange = onChange;
    this.onNew = onNew;
    this.onSilence = onSilence;
    this.onError = onError;
    this.alerts = new Map(); // alertKey -> normalized alert
    this.epoch = null;
    this.seq = null;
    this.loaded = false; // the first snapshot has come
  }

  get size() {
    return this.alerts.size;
  }

  values() {
    return this.alerts.values();
  }

  resume() {
    const params = { state: "all" };
    if (this.epoch !== null && this.seq !== null) Object.assign(params, { since: this.seq, epoch: this.epoch });
    return params;
  }

  frame(frame) {
    switch (frame.type) {
      case "snapshot":
        this.snapshot(frame);
        this.onChange?.();
        break;
      case "alert":
      case "silence":
        if (!this.advance(frame)) return;
        if (frame.type === "alert") this.event(frame);
        else this.silence(frame);
        this.onChange?.();
        break;
      case "heartbeat":
        if (typeof frame.seq === "number" && (this.seq === null || frame.seq > this.seq)) {
          this.seq = frame.seq;
        }
        break;
      case "error":
        this.onError?.(`${frame.error}: ${frame.detail}`);
        break;
      default: // "resync": the snapshot that follows replaces everything
        break;
    }
  }

  snapshot(frame) {
    const before = this.alerts;
    this.alerts = new Map(frame.alerts.map((raw) => {
      const alert = normalize(raw);
      return [alertKey(alert.cluster, alert.fingerprint), alert];
    }));
    this.epoch = frame.epoch;
    this.seq = frame.seq;
    if (this.loaded) {
      for (const [key, alert] of this.alerts) {
        if (!before.has(key) && alert.state === "active" && !alert.ack) this.onNew?.(alert);
      }
    }
    this.loaded = true;
  }

  // Move the resume point to an event's seq; false for one already seen.
  advance(frame) {
    if (frame.epoch === this.epoch && this.seq !== null && frame.seq <= this.seq) return false;
    this.epoch = frame.epoch;
    this.seq = frame.seq;
    return true;
  }

  event(frame) {
    const alert = normalize(frame.alert);
    const key = alertKey(alert.cluster, alert.fingerprint);
    if ((frame.status ?? alert.status) !== "firing") {
      this.alerts.delete(key);
      return;
    }
    // An event may come without the ack decoration a snapshot carries: keep the one known.
    const known = this.alerts.get(key);
    if (!frame.alert.ack && known?.ack && frame.event !== "refired") alert.ack = known.ack;
    this.alerts.set(key, alert);
    if (NEW_EVENTS.has(frame.event) && alert.state === "active" && !alert.ack) this.onNew?.(alert);
  }

  // An ack silence created, updated or expired: the alert it acks shows it, or no longer does.
  silence(frame) {
    const silence = frame.silence ?? {};
    const fingerprint = silence.ack?.fingerprint;
    if (fingerprint) {
      const alert = this.alerts.get(alertKey(silence.cluster, fingerprint));
      if (alert) {
        const ack = frame.event === "expired" ? null : ackOf(silence);
        if (ack || alert.ack?.silenceID === silence.id) alert.ack = ack;
      }
    }
    this.onSilence?.(frame);
  }

  // Firing alerts per instance label, as the host tiles count them: silenced, inhibited and
  // acked ones left out (they are taken care of).
  perInstance() {
    const counts = new Map();
    for (const alert of this.alerts.values()) {
      if (alert.state !== "active") continue;
      const instance = alert.labels?.instance;
      if (instance) counts.set(instance, (counts.get(instance) ?? 0) + 1);
    }
    return counts;
  }
}
