// "Connect a client": a snippet per MCP client for the chosen server. The API key is in a
// snippet only while the user has pressed Reveal, and leaves the page with the view.
import { $, copyText, showError } from "./dom.js";
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

/** Keeps the server list in step with the state; says whether it changed. */
function syncConnectServers(state) {
  const select = $("connect-server");
  const names = state ? state.servers.map((s) => s.name) : [];
  const current = select.value;
  const existing = [...select.options].map((o) => o.value);
  if (existing.join("\n") === names.join("\n")) return false;
  select.replaceChildren(
    ...names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  if (names.includes(current)) select.value = current;
  return true;
}

function snippetCard(name, key, title, setup) {
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
      const full = await invoke("client_setup", { name, reveal: true });
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
  syncConnectServers(store.current());
  const name = $("connect-server").value;
  $("connect-empty").hidden = !!name;
  $("connect-reveal").textContent = revealKey ? "Hide key" : "Reveal key";
  $("connect-reveal").setAttribute("aria-pressed", String(revealKey));
  showError($("connect-error"), null);
  if (!name) {
    $("snippets").replaceChildren();
    return;
  }
  try {
    const setup = await invoke("client_setup", { name, reveal: revealKey });
    if (currentView() !== "connect") return;
    $("snippets").replaceChildren(
      ...CLIENTS.filter(([key]) => setup[key] !== undefined && setup[key] !== null).map(([key, title]) =>
        snippetCard(name, key, title, setup),
      ),
    );
  } catch (error) {
    showError($("connect-error"), error);
  }
}

/** A new state: the list of servers may have changed. */
export function renderConnect(state) {
  if (currentView() === "connect") syncConnectServers(state);
}

onViewChange((name) => {
  revealKey = false;
  if (name === "connect") renderSnippets();
  // The key leaves the page with the view.
  else $("snippets").replaceChildren();
});

$("connect-server").addEventListener("change", renderSnippets);
$("connect-reveal").addEventListener("click", () => {
  revealKey = !revealKey;
  renderSnippets();
});
