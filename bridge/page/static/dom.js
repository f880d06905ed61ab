// Building DOM without markup: every piece of data goes in as text (textContent, text nodes)
// or as an attribute value, never through innerHTML, so alert labels and annotations (which
// anyone who can post an alert controls) can never become elements or scripts.

const SVG = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// h("span", {class: "value", text: "12 %"}, child, "text", ...)
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

// Set text only when it changed (no needless layout work on every frame).
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

export function toggle(node, name, on) {
  node.classList.toggle(name, Boolean(on));
}
