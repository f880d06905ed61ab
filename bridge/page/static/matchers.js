// The alert filter box: Alertmanager-style label matchers (`severity="critical",
// instance=~"web-.*"`, braces optional, `=`, `!=`, `=~`, `!~`; regexes anchored as in
// Alertmanager), or, when the text holds no matcher, words that must all appear in the
// alert's labels or summary (case-insensitive).

const MATCHER = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^,"]*?))\s*(?:,|$)/;

function unquote(text) {
  return text.replace(/\\(.)/g, "$1");
}

// {test(alert) -> bool, error: text|null, matchers: [...]}.
export function parseFilter(text) {
  const source = text.trim().replace(/^\{([\s\S]*)\}$/, "$1").trim();
  if (!source) return { test: () => true, error: null, matchers: [] };
  if (!/(=~|!~|!=|=)/.test(source)) {
    const words = source.toLowerCase().split(/\s+/);
    const test = (alert) => {
      const hay = [...Object.values(alert.labels || {}),
        alert.annotations?.summary ?? "", alert.annotations?.description ?? ""]
        .join(" ").toLowerCase();
      return words.every((word) => hay.includes(word));
    };
    return { test, error: null, matchers: [] };
  }
  const matchers = [];
  let rest = source;
  while (rest.trim()) {
    const m = MATCHER.exec(rest);
    if (!m) return { test: () => true, error: `not a matcher: ${rest.trim().slice(0, 40)}`, matchers };
    const value = m[3] !== undefined ? unquote(m[3]) : m[4].trim();
    const matcher = { name: m[1], op: m[2], value };
    if (m[2] === "=~" || m[2] === "!~") {
      try {
        matcher.re = new RegExp(`^(?:${value})$`);
      } catch (err) {
        return { test: () => true, error: `bad regex for ${m[1]}: ${err.message}`, matchers };
      }
    }
    matchers.push(matcher);
    rest = rest.slice(m[0].length);
  }
  const test = (alert) => matchers.every(({ name, op, value, re }) => {
    const have = alert.labels?.[name] ?? "";
    if (op === "=") return have === value;
    if (op === "!=") return have !== value;
    if (op === "=~") return re.test(have);
    return !re.test(have);
  });
  return { test, error: null, matchers };
}
