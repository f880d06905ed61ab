// The token for the page's actions (silence, ack, expire), entered once per tab and kept in
// sessionStorage: it lasts while the tab is open (a reload keeps it), goes when the tab closes,
// and is never written to the URL (which ends up in history, logs and shared links) or to
// localStorage (which outlives the session). Without one the page only reads.
//
// A change is announced as a "tokenchange" event on `document`, so every view showing actions
// can show or hide them.

const KEY = "promwire-token";

export function writeToken() {
  try {
    return sessionStorage.getItem(KEY) || null;
  } catch {
    return null; // storage disabled: no actions
  }
}

export function setWriteToken(value) {
  const token = String(value ?? "").trim();
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    return false;
  }
  document.dispatchEvent(new CustomEvent("tokenchange", { detail: Boolean(token) }));
  return true;
}

// The token field: `form` holds an input and a submit button; `status` shows whether actions
// are on, with a button to forget the token.
export function setupTokenForm({ form, input, status, forget }) {
  const show = () => {
    const on = writeToken() !== null;
    form.hidden = on;
    status.hidden = !on;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault(); // form-action 'none': the form never navigates
    if (setWriteToken(input.value)) input.value = "";
  });
  forget.addEventListener("click", () => setWriteToken(""));
  document.addEventListener("tokenchange", show);
  show();
}
