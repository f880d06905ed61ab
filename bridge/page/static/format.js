// Numbers for people: values in the catalog's units ("percent", "bytes/s", "seconds", ...),
// and times. Pure functions, no DOM.

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

// A sample value as a number: the bridge sends numbers, or "NaN", "+Inf", "-Inf".
export function toNumber(value) {
  if (typeof value === "number") return value;
  if (value === "+Inf") return Infinity;
  if (value === "-Inf") return -Infinity;
  return NaN;
}

function special(value) {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return null;
}

function binary(value, suffix) {
  let scaled = value;
  let i = 0;
  while (Math.abs(scaled) >= 1024 && i < BINARY.length - 1) {
    scaled /= 1024;
    i += 1;
  }
  const digits = i === 0 ? 0 : Math.abs(scaled) < 10 ? 2 : 1;
  return `${scaled.toFixed(digits)} ${BINARY[i]}${suffix}`;
}

// "3d 4h", "2h 05m", "4m 10s", "12s".
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

function plain(value) {
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 100) return value.toFixed(1);
  return value.toFixed(2);
}

// One value in its catalog unit; unknown units are printed after the number.
export function formatValue(raw, unit) {
  const value = toNumber(raw);
  const odd = special(value);
  if (odd) return odd;
  switch (unit) {
    case "percent":
      return `${value.toFixed(1)} %`;
    case "bytes/s":
      return binary(value, "/s");
    case "bytes":
      return binary(value, "");
    case "seconds":
      return duration(value);
    case "":
    case undefined:
    case null:
      return plain(value);
    default:
      return `${plain(value)} ${unit}`;
  }
}

// "5m ago" for an RFC 3339 time or unix seconds, relative to `now` (ms).
export function since(when, now = Date.now()) {
  const ms = typeof when === "number" ? when * 1000 : Date.parse(when);
  if (!Number.isFinite(ms)) return "";
  return `${duration((now - ms) / 1000)} ago`;
}

export function clock(unixSeconds) {
  if (typeof unixSeconds !== "number") return "";
  return new Date(unixSeconds * 1000).toLocaleTimeString();
}

// Axis tick labels: short, in the chart's unit ("40 %", "1.5 GiB", "200 KiB/s", "0.75").
export function axisValue(value, unit) {
  if (value === null || !Number.isFinite(value)) return "";
  switch (unit) {
    case "percent":
      return `${Number(value.toFixed(1))} %`;
    case "bytes/s":
    case "bytes": {
      const suffix = unit === "bytes/s" ? "/s" : "";
      if (value === 0) return `0${suffix ? " B/s" : ""}`;
      let scaled = value;
      let i = 0;
      while (Math.abs(scaled) >= 1024 && i < BINARY.length - 1) {
        scaled /= 1024;
        i += 1;
      }
      return `${Number(scaled.toFixed(Math.abs(scaled) < 10 ? 1 : 0))} ${BINARY[i]}${suffix}`;
    }
    default:
      return String(Number(value.toPrecision(3)));
  }
}

// "14:05:09" for unix seconds (chart legends).
export function timeOfDay(unixSeconds) {
  if (typeof unixSeconds !== "number") return "–";
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour12: false });
}
