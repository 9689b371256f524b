// Small DOM helpers every view uses.
import { errorText } from "./errors.js";

export const $ = (id) => document.getElementById(id);

let uid = 0;
/** A fresh element id, for labels of cloned templates. */
export const nextId = (prefix) => `${prefix}-${++uid}`;

/** Shows `error` (a string, or what a command rejected with) in `el`; null hides it. */
export function showError(el, error) {
  if (!el) return;
  if (error === null || error === undefined) {
    el.hidden = true;
    el.textContent = "";
  } else {
    el.textContent = typeof error === "string" ? error : errorText(error);
    el.hidden = false;
  }
}

/** Shows `text` in `el` for a few seconds. */
export function flash(el, text) {
  el.textContent = text;
  clearTimeout(el.flashTimer);
  el.flashTimer = setTimeout(() => {
    el.textContent = "";
  }, 4000);
}

function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

/** Copies text; if the clipboard is unavailable, selects `fallbackEl` for Ctrl+C. */
export async function copyText(text, fallbackEl, button) {
  const label = button ? button.textContent : "";
  try {
    await navigator.clipboard.writeText(text);
    if (button) {
      button.textContent = "Copied";
      setTimeout(() => {
        button.textContent = label;
      }, 1500);
    }
    return true;
  } catch (_) {
    if (fallbackEl) {
      selectText(fallbackEl);
      if (button) {
        button.textContent = "Press Ctrl+C";
        setTimeout(() => {
          button.textContent = label;
        }, 2500);
      }
    }
    return false;
  }
}

/** Ties `label` to `input` with a fresh id. */
export function labelFor(label, input, prefix) {
  const id = nextId(prefix);
  input.id = id;
  label.htmlFor = id;
}
