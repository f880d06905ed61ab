// Light or dark: the system's choice (prefers-color-scheme) unless the toggle chose one, kept
// in localStorage. The choice is `html[data-theme]`, read by page.css; charts, which paint on
// a canvas, are told by a "themechange" event to rebuild with the new colours.

const KEY = "promwire-theme";
const ORDER = ["system", "light", "dark"];
const dark = matchMedia("(prefers-color-scheme: dark)");

function stored() {
  try {
    const value = localStorage.getItem(KEY);
    return ORDER.includes(value) ? value : "system";
  } catch {
    return "system";
  }
}

export function effectiveTheme() {
  const theme = document.documentElement.dataset.theme;
  if (theme === "light" || theme === "dark") return theme;
  return dark.matches ? "dark" : "light";
}

function apply(choice, button) {
  if (choice === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
  button.textContent = `theme: ${choice}`;
  button.setAttribute("data-choice", choice);
  document.dispatchEvent(new CustomEvent("themechange", { detail: effectiveTheme() }));
}

export function setupTheme(button) {
  let choice = stored();
  apply(choice, button);
  button.addEventListener("click", () => {
    choice = ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length];
    try {
      if (choice === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      // private mode: the choice lasts for this page only
    }
    apply(choice, button);
  });
  dark.addEventListener("change", () => {
    if (choice === "system") apply(choice, button);
  });
}

// A CSS custom property of the page, e.g. cssVar("--fg").
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
