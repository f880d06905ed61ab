// Notifications for new critical alerts: a browser Notification (when the browser allows it)
// and a short beep (WebAudio), for an alert with severity=critical that starts firing while the
// page is open (alerts.js decides what is new: never what a snapshot brings at load or after a
// resync). Off until the user turns them on with the button; the choice is kept in
// localStorage. The permission is asked for on that click, and the audio context made there
// (or, after a reload with notifications on, on the page's first click or key), since browsers
// allow both only in answer to a user's gesture: until then alerts get no beep.

const KEY = "promwire-notify";
const BEEP = { hz: 880, seconds: 0.15, gain: 0.2 };

function stored() {
  try {
    return localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

export class Notifier {
  constructor(button) {
    this.button = button;
    this.on = stored();
    this.audio = null;
    this.sent = 0;
    button.addEventListener("click", () => this.set(!this.on));
    const unlock = () => {
      if (this.on) this.context()?.resume?.();
    };
    document.addEventListener("pointerdown", unlock, { once: true });
    document.addEventListener("keydown", unlock, { once: true });
    this.show();
  }

  show() {
    const permission = typeof Notification === "undefined" ? "unsupported" : Notification.permission;
    this.button.setAttribute("aria-pressed", String(this.on));
    this.button.setAttribute("data-permission", permission);
    this.button.textContent = `notify: ${this.on ? "on" : "off"}`;
    this.button.title = this.on && permission !== "granted"
      ? `sound only: browser notifications are ${permission === "denied" ? "blocked" : permission}`
      : "notify on new critical alerts";
  }

  async set(on) {
    this.on = on;
    try {
      if (on) localStorage.setItem(KEY, "on");
      else localStorage.removeItem(KEY);
    } catch {
      // private mode: the choice lasts for this page only
    }
    if (on) {
      this.context()?.resume?.();
      if (typeof Notification !== "undefined" && Notification.permission === "default") {
        try {
          await Notification.requestPermission();
        } catch {
          // an old callback-only API or a refusal: sound only
        }
      }
    }
    this.show();
  }

  context() {
    if (!this.audio) {
      const Context = window.AudioContext ?? window.webkitAudioContext;
      if (!Context) return null;
      this.audio = new Context();
    }
    return this.audio;
  }

  beep() {
    const ctx = this.audio; // made in a gesture only: browsers warn about any other
    if (!ctx || ctx.state === "closed") return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = BEEP.hz;
    gain.gain.value = BEEP.gain;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + BEEP.seconds);
  }

  // A new alert: notify when it is critical and the user asked for it.
  alert(alert) {
    if (!this.on || alert.labels?.severity !== "critical") return;
    this.sent += 1;
    this.beep();
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const labels = alert.labels ?? {};
    const where = [labels.instance, alert.cluster !== "default" ? alert.cluster : null]
      .filter(Boolean).join(" · ");
    const summary = alert.annotations?.summary ?? alert.annotations?.description ?? "";
    try {
      new Notification(`${labels.alertname ?? "alert"} firing${where ? ` (${where})` : ""}`, {
        body: summary, tag: `${alert.cluster}/${alert.fingerprint}`,
      });
    } catch {
      // some browsers allow notifications only from a service worker: the beep was the notice
    }
  }
}
