// The header's status, the proxy switch, the aggregate endpoint ("All servers") and the
// list of server cards.
import { $, copyText, nextId, showError } from "./dom.js";
import { aggregateSummary, listeningText, serverStats, statusPill, targetOf } from "./format.js";
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
  const badge = el.querySelector(".badge");
  badge.textContent = server.state;
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
}

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
    }
  }
  $("no-servers").hidden = state.servers.length > 0;
  if (focusWhenShown && cards.has(focusWhenShown)) focusServerCard(focusWhenShown);
}
