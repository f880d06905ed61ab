// One live stream from the bridge, over WebSocket, else server-sent events, else REST polling.
//
// A `Link` keeps one connection open and hands every frame (a parsed JSON object) to
// `onFrame(frame, transport)`. Lost connections are retried with exponential backoff and full
// jitter (a uniform random wait in [0, min(cap, base * 2^n)]), so that a bridge restart is not
// met by every open page at the same instant. A browser cannot see why a WebSocket failed: a
// failure counts as "refused" only when the bridge still answers plain HTTP (GET health), i.e.
// something between the page and the bridge blocks the upgrade. After FALLBACK_AFTER refusals
// the link moves down a step (ws -> sse -> poll); while on a fallback it probes the WebSocket
// every PROBE_INTERVAL and moves back up as soon as one opens. A bridge that is simply down
// (restarting) is retried on the same transport.
//
// With several bridges (a `Rotation`), a lost connection moves on to the next one. A hop to a
// bridge not yet tried since the last success waits only up to the backoff's base (jittered);
// the backoff itself is waited, and grows, once per full rotation that failed.

const FALLBACK_AFTER = 2;
const HEARTBEAT_TIMEOUT = 45000; // 3 x the bridge's default heartbeat (15 s)
const PROBE_INTERVAL = 30000;
const REACHABLE_TIMEOUT = 5000;
const OPEN_TIMEOUT = 10000; // a connection that neither opens nor fails (black hole, buffering proxy)
const NEXT = { ws: "sse", sse: "poll", poll: "poll" };

export class Backoff {
  constructor(base = 500, cap = 30000, random = Math.random) {
    this.base = base;
    this.cap = cap;
    this.random = random;
    this.failures = 0;
  }

  // Milliseconds to wait after one more failure.
  next() {
    const ceiling = Math.min(this.cap, this.base * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return this.random() * ceiling;
  }

  reset() {
    this.failures = 0;
  }
}

// The bridges a page may use, shared by its links: `current` is where the next connection
// goes; a link that lost `failed` moves everyone on, unless another link already has.
export class Rotation {
  constructor(bases) {
    this.bases = bases.length ? bases : [new URL(".", location.href).href];
    this.index = 0;
  }

  get current() {
    return this.bases[this.index];
  }

  get size() {
    return this.bases.length;
  }

  advance(failed) {
    if (this.bases[this.index] === failed) this.index = (this.index + 1) % this.bases.length;
    return this.current;
  }
}

// `options`: name, bridges (a Rotation; or base, one URL), token, ws and sse (paths), sseEvents
// (event names), params() (extra query parameters, e.g. a resume point), poll() (a promise of
// frames), pollInterval() (ms), onFrame(frame, transport), onState(state, transport, detail).
export class Link {
  constructor(options) {
    this.o = options;
    this.bridges = options.bridges ?? new Rotation([new URL(options.base).href]);
    this.base = this.bridges.current; // the bridge of the current connection attempt
    this.hops = 0; // failures since the last success, for the rotation
    this.mode = "ws";
    this.backoff = new Backoff();
    this.refusals = 0;
    this.generation = 0;
    this.delivered = false;
    this.isOpen = false;
    this.everLive = false;
    this.state = "";
    this.conn = null;
    this.timer = null;
    this.watchdog = null;
    this.openTimer = null;
    this.probeTimer = null;
    this.stopped = false;
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation += 1;
    this.drop();
  }

  url(path, websocket) {
    const url = new URL(path, this.base);
    if (websocket) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const extra = this.o.params ? this.o.params() : {};
    for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, String(value));
    if (this.o.token) url.searchParams.set("token", this.o.token);
    return url.href;
  }

  setState(state, detail = "") {
    this.state = state;
    this.o.onState(state, this.mode, detail);
  }

  // Close whatever is open and cancel every timer.
  drop() {
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    clearTimeout(this.openTimer);
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    if (this.conn) this.conn.close();
    this.conn = null;
  }

  connect() {
    if (this.stopped) return;
    this.drop();
    const generation = ++this.generation;
    this.delivered = false;
    this.isOpen = false;
    this.base = this.bridges.current;
    const where = this.bridges.size > 1 ? ` to ${this.base}` : "";
    this.setState(this.everLive ? "reconnecting" : "connecting", `opening ${this.mode}${where}`);
    if (this.mode === "poll") {
      this.poll(generation);
      return;
    }
    this.openTimer = setTimeout(
      () => this.lost(generation, `no answer in ${OPEN_TIMEOUT / 1000} s`), OPEN_TIMEOUT);
    if (this.mode === "ws") this.openWebSocket(generation);
    else this.openEventSource(generation);
  }

  openWebSocket(generation) {
    let ws;
    try {
      ws = new WebSocket(this.url(this.o.ws, true));
    } catch (err) {
      this.lost(generation, `WebSocket: ${err.message}`);
      return;
    }
    this.conn = { close: () => ws.close(1000) };
    ws.onopen = () => this.opened(generation);
    ws.onmessage = (event) => this.receive(generation, event.data);
    ws.onclose = (event) =>
      this.lost(generation, `WebSocket closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
  }

  openEventSource(generation) {
    const source = new EventSource(this.url(this.o.sse, false));
    this.conn = { close: () => source.close() };
    source.onopen = () => this.opened(generation);
    for (const name of this.o.sseEvents) {
      source.addEventListener(name, (event) => this.receive(generation, event.data));
    }
    // EventSource would retry on its own, without backoff or a fresh resume point: we do it.
    source.onerror = () => {
      source.close();
      this.lost(generation, "event stream failed");
    };
  }

  async poll(generation) {
    this.conn = null;
    this.base = this.bridges.current; // where the REST reads go
    try {
      const frames = await this.o.poll();
      if (generation !== this.generation) return;
      this.succeeded();
      this.everLive = true;
      this.setState("polling", "REST");
      for (const frame of frames) this.o.onFrame(frame, "poll");
      this.timer = setTimeout(() => this.poll(generation), this.o.pollInterval());
      this.scheduleProbe(generation);
    } catch (err) {
      if (generation !== this.generation) return;
      const delay = this.retryDelay();
      this.setState("reconnecting", `${err.message}; retrying in ${(delay / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => this.poll(generation), delay);
    }
  }

  // The connection is up (a refused upgrade or a failed event stream never gets here): live,
  // though a resumed alert stream may have nothing to say until its next heartbeat.
  opened(generation) {
    if (generation !== this.generation) return;
    clearTimeout(this.openTimer);
    this.isOpen = true;
    this.everLive = true;
    this.refusals = 0;
    this.setState("live", this.mode);
    this.scheduleProbe(generation);
    this.watch(generation);
  }

  // A dead link (no frame, not even a heartbeat, for too long) is replaced.
  watch(generation) {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(
      () => this.lost(generation, `no frame for ${HEARTBEAT_TIMEOUT / 1000} s`),
      HEARTBEAT_TIMEOUT,
    );
  }

  receive(generation, data) {
    if (generation !== this.generation) return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // not ours to show: the bridge only sends JSON objects
    }
    if (!this.delivered) {
      this.delivered = true; // only a socket that delivers resets the backoff
      this.succeeded();
    }
    this.watch(generation);
    this.o.onFrame(frame, this.mode);
  }

  async lost(generation, detail) {
    if (generation !== this.generation || this.stopped) return;
    const wasOpen = this.isOpen;
    this.generation += 1; // later events of this connection are ignored
    const current = this.generation;
    this.drop();
    this.setState(this.everLive ? "reconnecting" : "connecting", detail);
    if (!wasOpen && (await this.reachable())) this.refusals += 1;
    if (current !== this.generation || this.stopped) return;
    if (this.refusals >= FALLBACK_AFTER && this.mode !== "poll") {
      this.mode = NEXT[this.mode];
      this.refusals = 0;
      this.backoff.reset();
    }
    const delay = this.retryDelay();
    const where = this.bridges.size > 1 ? ` to ${this.bridges.current}` : "";
    this.setState(this.everLive ? "reconnecting" : "connecting",
      `${detail}; retrying (${this.mode})${where} in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  succeeded() {
    this.backoff.reset();
    this.hops = 0;
  }

  // After a failure: move past the bridge that failed, then wait a short jittered hop, or the
  // backoff once every bridge has failed since the last success.
  retryDelay() {
    this.bridges.advance(this.base);
    this.hops += 1;
    if (this.hops < this.bridges.size) return this.backoff.random() * this.backoff.base;
    this.hops = 0;
    return this.backoff.next();
  }

  // Does the bridge answer plain HTTP? (Then it is up, and the stream was refused on the way.)
  async reachable() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REACHABLE_TIMEOUT);
    try {
      await fetch(new URL("health", this.base), { cache: "no-store", signal: abort.signal });
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  // On a fallback, try a WebSocket now and then; when one opens, start over on it.
  scheduleProbe(generation) {
    if (this.mode === "ws" || this.probeTimer !== null) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (generation !== this.generation) return;
      let probe;
      try {
        probe = new WebSocket(this.url(this.o.ws, true));
      } catch {
        return;
      }
      probe.onopen = () => {
        probe.close(1000);
        if (generation !== this.generation) return;
        this.mode = "ws";
        this.refusals = 0;
        this.connect();
      };
      probe.onclose = () => {
        if (generation === this.generation && this.mode !== "ws") this.scheduleProbe(generation);
      };
    }, PROBE_INTERVAL);
  }
}
