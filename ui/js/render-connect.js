// "Connect a client": a snippet per MCP client for the chosen endpoint: All servers (`/mcp`)
// first, then each profile, then each server. The key (the API key, or a profile's own key)
// is in a snippet only while the user has pressed Reveal, and leaves the page with the view.
import { $, copyText, showError } from "./dom.js";
import { connectTargets, findTarget } from "./connect-targets.js";
import { snippetText } from "./format.js";
import { invoke } from "./ipc.js";
import { store } from "./store.js";
import { currentView, onViewChange } from "./views.js";

const CLIENTS = [
  ["claudeCode", "Claude Code"],
  ["cursor", "Cursor"],
  ["vscode", "VS Code"],
  ["windsurf", "Windsurf"],
  ["claudeDesktop", "Claude Desktop"],
];

let revealKey = false;
// What the snippets on the page were made for; a new state that changes it redraws them.
let shownFor = null;

/** Keeps the endpoint list in step with the state. */
function syncTargets(state) {
  const select = $("connect-target");
  const targets = connectTargets(state);
  const current = select.value;
  const existing = [...select.querySelectorAll("option")].map((o) => `${o.value}\n${o.parentElement.label}`);
  if (existing.join("\n") === targets.map((t) => `${t.value}\n${t.group}`).join("\n")) return;
  const groups = new Map();
  for (const target of targets) {
    if (!groups.has(target.group)) {
      const group = document.createElement("optgroup");
      group.label = target.group;
      groups.set(target.group, group);
    }
    const option = document.createElement("option");
    option.value = target.value;
    option.textContent = target.label;
    groups.get(target.group).append(option);
  }
  select.replaceChildren(...groups.values());
  select.value = findTarget(targets, current).value;
}

/** The chosen endpoint and what its snippets depend on, as one comparable string. */
function snippetsKey(state) {
  return JSON.stringify([$("connect-target").value, revealKey, state && state.listening, state && state.authRequired]);
}

function snippetCard(args, key, title, setup) {
  const card = document.createElement("div");
  card.className = "card snippet";
  card.dataset.client = key;
  const head = document.createElement("div");
  head.className = "row heading-row";
  const h = document.createElement("h3");
  h.textContent = title;
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "small";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy the ${title} snippet`);
  const pre = document.createElement("pre");
  pre.className = "snippet-text";
  pre.tabIndex = 0;
  pre.setAttribute("aria-label", `${title} snippet`);
  pre.textContent = snippetText(setup[key]);
  copy.addEventListener("click", async () => {
    // The copy carries the real key without ever showing it.
    try {
      const full = await invoke("client_setup", { ...args, reveal: true });
      await copyText(snippetText(full[key]), revealKey ? pre : null, copy);
    } catch (error) {
      showError($("connect-error"), error);
    }
  });
  head.append(h, copy);
  card.append(head, pre);
  return card;
}

async function renderSnippets() {
  const state = store.current();
  syncTargets(state);
  const target = findTarget(connectTargets(state), $("connect-target").value);
  const key = snippetsKey(state);
  shownFor = key;
  $("connect-empty").hidden = !!(state && state.servers.length);
  $("connect-reveal").textContent = revealKey ? "Hide key" : "Reveal key";
  $("connect-reveal").setAttribute("aria-pressed", String(revealKey));
  showError($("connect-error"), null);
  try {
    const setup = await invoke("client_setup", { ...target.args, reveal: revealKey });
    // A newer choice (or the view's end) made this answer stale.
    if (currentView() !== "connect" || shownFor !== key) return;
    $("snippets").replaceChildren(
      ...CLIENTS.filter(([client]) => setup[client] !== undefined && setup[client] !== null).map(([client, title]) =>
        snippetCard(target.args, client, title, setup),
      ),
    );
  } catch (error) {
    showError($("connect-error"), error);
  }
}

/** A new state: the endpoints, their port or the key check may have changed. */
export function renderConnect(state) {
  if (currentView() !== "connect") return;
  syncTargets(state);
  if (snippetsKey(state) !== shownFor) renderSnippets();
}

onViewChange((name) => {
  revealKey = false;
  shownFor = null;
  if (name === "connect") renderSnippets();
  // The key leaves the page with the view.
  else $("snippets").replaceChildren();
});

$("connect-target").addEventListener("change", renderSnippets);
$("connect-reveal").addEventListener("click", () => {
  revealKey = !revealKey;
  renderSnippets();
});
