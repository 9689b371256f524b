// The header's status, the proxy switch, the aggregate endpoint ("All servers") and the
// list of server cards, with an OAuth server's sign-in (Sign in / Sign out; the browser is
// opened by the shell, and `sign-in-finished` says how it ended).
import { $, copyText, nextId, showError } from "./dom.js";
import { errorText } from "./errors.js";
import { aggregateSummary, listeningText, serverStats, statusPill, targetOf } from "./format.js";
import { authView, expiryTicks, nowSeconds, pendingText, stateLabel } from "./sign-in.js";
import { invoke } from "./ipc.js";
import { store } from "./store.js";
import { openEditor } from "./editor.js";
import { openLogs } from "./render-logs.js";
import { openTools } from "./render-tools.js";

export function setPill(text, kind) {
  const pill = $("state");
  pill.textContent = text;
  pill.className = `pill pill-${kind}`;
}

/** The core is not running (the port was taken, the keychain refused, ...). */
export function showProblem(message) {
  $("problem").hidden = false;
  $("problem-message").textContent = message;
  setPill("Not running", "error");
}

export function renderStatus(state) {
  $("problem").hidden = true;
  const pill = statusPill(state);
  setPill(pill.text, pill.kind);
  if (!$("proxy-enabled").disabled) $("proxy-enabled").checked = !!state.proxyEnabled;
  $("listening").textContent = listeningText(state);
  $("auth-off-banner").hidden = state.authRequired !== false;
}

$("proxy-enabled").addEventListener("change", async (event) => {
  const input = event.currentTarget;
  input.disabled = true;
  showError($("proxy-error"), null);
  try {
    await invoke("set_proxy_enabled", { enabled: input.checked });
    // Done: the state-changed event that follows shows the outcome.
  } catch (error) {
    showError($("proxy-error"), error);
    input.disabled = false;
    // Nothing changed: back to the last state the Hub sent.
    if (store.current()) renderStatus(store.current());
  } finally {
    input.disabled = false;
  }
});

// ------------------------------------------------------------------------- aggregate ---

$("aggregate-copy").addEventListener("click", (event) => {
  copyText($("aggregate-url").textContent, $("aggregate-url"), event.currentTarget);
});
$("aggregate-tools").addEventListener("click", () => openTools({ profile: null, server: null }, "servers"));

function renderAggregate(state) {
  $("aggregate-url").textContent = (state.aggregate && state.aggregate.mcpUrl) || "";
  $("aggregate-stats").textContent = aggregateSummary(state.servers);
}

// ----------------------------------------------------------------------------- cards ---

const cards = new Map(); // name -> { el, server }
let focusWhenShown = null; // a server just saved, whose card gets the focus once it exists

// Sign-ins the window started, by server: `{}` until `sign_in` answered, then its answer
// ({host, url, opened}); gone when `sign-in-finished` arrives (which may come first).
const signIns = new Map();
// How the last sign-in of each server ended: {ok, message}.
const signInResults = new Map();

// A token that cannot be renewed: its "expires in …" is read again now and then.
const EXPIRY_REFRESH_MS = 30_000;

/** Focuses the card of `name` now, or when the state that has it arrives. */
export function focusServerCard(name) {
  const card = cards.get(name);
  if (card) card.el.querySelector(".enable-toggle").focus();
  focusWhenShown = card ? null : name;
}

function makeCard(name) {
  const el = $("server-card").content.firstElementChild.cloneNode(true);
  el.dataset.server = name;
  const toggle = el.querySelector(".enable-toggle");
  toggle.id = nextId("enable");
  el.querySelector(".server-switch").htmlFor = toggle.id;
  toggle.setAttribute("aria-label", `Enable ${name}`);
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    showError(el.querySelector(".toggle-error"), null);
    try {
      await invoke("set_server_enabled", { name, enabled: toggle.checked });
    } catch (error) {
      showError(el.querySelector(".toggle-error"), error);
      // Nothing changed: back to the last state the Hub sent.
      toggle.disabled = false;
      const card = cards.get(name);
      if (card) updateCard(card.el, card.server);
    } finally {
      toggle.disabled = false;
    }
  });
  el.querySelector(".copy-url").addEventListener("click", (event) => {
    const code = el.querySelector(".endpoint-url");
    copyText(code.textContent, code, event.currentTarget);
  });
  el.querySelector(".copy-url").setAttribute("aria-label", `Copy the endpoint URL of ${name}`);
  el.querySelector(".edit").setAttribute("aria-label", `Edit ${name}`);
  el.querySelector(".show-logs").setAttribute("aria-label", `Logs of ${name}`);
  el.querySelector(".show-tools").setAttribute("aria-label", `Tools of ${name}`);
  el.querySelector(".show-tools").addEventListener("click", () => openTools({ profile: null, server: name }, "servers"));
  el.querySelector(".remove").setAttribute("aria-label", `Remove ${name}`);
  el.querySelector(".edit").addEventListener("click", () => openEditor(cards.get(name).server));
  el.querySelector(".show-logs").addEventListener("click", () => openLogs(name));
  el.querySelector(".remove").addEventListener("click", () => {
    el.querySelector(".remove-confirm").hidden = false;
    el.querySelector(".remove-no").focus();
  });
  el.querySelector(".remove-no").addEventListener("click", () => {
    el.querySelector(".remove-confirm").hidden = true;
    el.querySelector(".remove").focus();
  });
  el.querySelector(".sign-in").setAttribute("aria-label", `Sign in to ${name}`);
  el.querySelector(".sign-out").setAttribute("aria-label", `Sign out of ${name}`);
  el.querySelector(".sign-in").addEventListener("click", () => signIn(name));
  el.querySelector(".sign-out").addEventListener("click", () => signOut(name));
  el.querySelector(".sign-in-copy").addEventListener("click", (event) => {
    const code = el.querySelector(".sign-in-url");
    copyText(code.textContent, code, event.currentTarget);
  });
  el.querySelector(".remove-yes").addEventListener("click", async () => {
    try {
      // The card goes when the state without the server arrives.
      await invoke("remove_server", { name });
      el.querySelector(".remove-confirm").hidden = true;
    } catch (error) {
      showError(el.querySelector(".toggle-error"), error);
    }
  });
  return el;
}

function updateCard(el, server) {
  el.querySelector(".server-name").textContent = server.name;
  const kind = el.querySelector(".kind");
  kind.textContent = server.kind === "remote" ? "remote" : "local";
  kind.className = `kind kind-${server.kind}`;
  const badge = el.querySelector(".server-head .badge");
  badge.textContent = stateLabel(server.state);
  badge.className = `badge badge-${server.state}`;
  const toggle = el.querySelector(".enable-toggle");
  if (!toggle.disabled) toggle.checked = !!server.enabled;
  el.querySelector(".stats").textContent = serverStats(server);
  const lastError = el.querySelector(".last-error");
  lastError.hidden = !server.lastError;
  lastError.textContent = server.lastError ? `Last error: ${server.lastError}` : "";
  el.querySelector(".endpoint-url").textContent = server.mcpUrl || "";
  el.querySelector(".sse-url").textContent = server.sseUrl || "";
  el.querySelector(".target").textContent = targetOf(server);
  // Only an enabled server is asked for its tools.
  const tools = el.querySelector(".show-tools");
  tools.disabled = !server.enabled;
  tools.title = server.enabled ? "" : "Turn the server on to see its tools";
  updateAuth(el, server);
}

/** The card's sign-in part: where the sign-in stands, its button, a sign-in under way. */
function updateAuth(el, server) {
  const part = el.querySelector(".auth");
  const view = authView(server.auth, nowSeconds());
  const pending = signIns.get(server.name);
  const result = signInResults.get(server.name);
  part.hidden = !view && !pending && !result;
  if (part.hidden) return;
  const badge = el.querySelector(".auth-badge");
  badge.hidden = !(view && view.badge);
  badge.textContent = (view && view.badge) || "";
  el.querySelector(".auth-text").textContent = view ? view.text : "";
  el.querySelector(".auth-detail").textContent = view && view.detail ? `· ${view.detail}` : "";
  el.querySelector(".sign-in").hidden = !(view && view.signIn);
  el.querySelector(".sign-out").hidden = !(view && view.signOut);
  el.querySelector(".auth-actions").hidden = !(view && (view.signIn || view.signOut));
  el.querySelector(".sign-in-pending").hidden = !pending;
  if (pending) {
    el.querySelector(".sign-in-opening").textContent = pendingText(pending);
    el.querySelector(".sign-in-address").hidden = !pending.url;
    el.querySelector(".sign-in-url").textContent = pending.url || "";
  }
  // Success is said once: not again when the card's own line already says it.
  const said = result && result.ok && !(view && view.text === result.message);
  const done = el.querySelector(".sign-in-result");
  done.hidden = !said;
  done.textContent = said ? result.message : "";
  showError(el.querySelector(".sign-in-error"), result && !result.ok ? result.message : null);
}

function refreshAuth(name) {
  const card = cards.get(name);
  if (card) updateAuth(card.el, card.server);
}

async function signIn(name) {
  const attempt = {};
  signIns.set(name, attempt);
  signInResults.delete(name);
  refreshAuth(name);
  try {
    const answer = await invoke("sign_in", { name });
    // Still the sign-in under way (its end may have been announced already).
    if (signIns.get(name) === attempt) {
      Object.assign(attempt, { host: answer.host, url: answer.url, opened: answer.opened });
    }
  } catch (error) {
    if (signIns.get(name) === attempt) {
      signIns.delete(name);
      signInResults.set(name, { ok: false, message: errorText(error) });
    }
  }
  refreshAuth(name);
}

async function signOut(name) {
  const card = cards.get(name);
  const button = card && card.el.querySelector(".sign-out");
  signInResults.delete(name);
  if (button) button.disabled = true;
  try {
    // The card follows with the state-changed event.
    await invoke("sign_out", { name });
  } catch (error) {
    signInResults.set(name, { ok: false, message: errorText(error) });
  } finally {
    if (button) button.disabled = false;
  }
  refreshAuth(name);
}

/** The payload of `sign-in-finished`: {name, ok, message}. */
export function signInFinished(event) {
  if (!event || !event.name) return;
  signIns.delete(event.name);
  signInResults.set(event.name, { ok: !!event.ok, message: event.message || "" });
  refreshAuth(event.name);
}

setInterval(() => {
  for (const { el, server } of cards.values()) {
    if (expiryTicks(server.auth)) updateAuth(el, server);
  }
}, EXPIRY_REFRESH_MS);

export function renderServers(state) {
  renderAggregate(state);
  const list = $("servers");
  const seen = new Set();
  state.servers.forEach((server, index) => {
    seen.add(server.name);
    let entry = cards.get(server.name);
    if (!entry) {
      entry = { el: makeCard(server.name), server };
      cards.set(server.name, entry);
    }
    entry.server = server;
    updateCard(entry.el, server);
    if (list.children[index] !== entry.el) list.insertBefore(entry.el, list.children[index] || null);
  });
  for (const [name, entry] of cards) {
    if (!seen.has(name)) {
      entry.el.remove();
      cards.delete(name);
      signIns.delete(name);
      signInResults.delete(name);
    }
  }
  $("no-servers").hidden = state.servers.length > 0;
  if (focusWhenShown && cards.has(focusWhenShown)) focusServerCard(focusWhenShown);
}
