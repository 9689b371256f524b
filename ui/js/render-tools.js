// The Tools view: every tool of an aggregate endpoint (All servers or a profile), or of one
// server in it, each with its switch. Tools are not part of the state (listing them asks the
// servers), so the view reads them when it opens, after each switch, and on Refresh.
import { $, copyText, nextId, showError } from "./dom.js";
import { invoke } from "./ipc.js";
import { store } from "./store.js";
import {
  capWarning,
  countText,
  exposedText,
  groupByServer,
  switchArgs,
  switchReach,
  toolsArgs,
  toolsTitle,
  unavailableText,
} from "./tools.js";
import { currentView, onViewChange, showView } from "./views.js";

let scope = null; // { profile, server }
let returnTo = "servers";
// Each read gets a number; an answer to an older read than the newest is dropped.
let reads = 0;

/** Opens the Tools view for `next` ({profile, server}); Back returns to view `from`. */
export function openTools(next, from) {
  scope = next;
  returnTo = from;
  $("tools-heading").textContent = toolsTitle(scope);
  $("tools-reach").textContent = switchReach(scope);
  $("tools-list").replaceChildren();
  $("tools-unavailable").replaceChildren();
  $("tools-count").textContent = "";
  $("tools-cap").hidden = true;
  $("tools-empty").hidden = true;
  showError($("tools-error"), null);
  renderEndpoint(store.current());
  showView("tools", from);
  loadTools();
  $("tools-close").focus();
}

function renderEndpoint(state) {
  if (!scope || !state) return;
  const profile = scope.profile && (state.profiles || []).find((p) => p.name === scope.profile);
  const url = scope.profile ? (profile ? profile.mcpUrl : "") : state.aggregate && state.aggregate.mcpUrl;
  $("tools-url").textContent = url || "";
}

/** Reads the tools again; `focus` ({server, name}) gets its switch focused once shown. */
async function loadTools(focus) {
  if (!scope) return;
  const read = ++reads;
  const asked = scope;
  $("tools-loading").hidden = false;
  try {
    const inventory = await invoke("tools", toolsArgs(asked));
    if (read !== reads || currentView() !== "tools") return;
    renderInventory(inventory);
    showError($("tools-error"), null);
    if (focus) {
      const row = [...$("tools-list").querySelectorAll("li.tool")].find(
        (li) => li.dataset.server === focus.server && li.dataset.tool === focus.name,
      );
      if (row) row.querySelector(".tool-toggle").focus();
    }
  } catch (error) {
    if (read === reads) showError($("tools-error"), error);
  } finally {
    if (read === reads) $("tools-loading").hidden = true;
  }
}

function toolRow(tool) {
  const el = $("tool-row").content.firstElementChild.cloneNode(true);
  el.dataset.server = tool.server;
  el.dataset.tool = tool.name;
  const toggle = el.querySelector(".tool-toggle");
  toggle.id = nextId("tool");
  el.querySelector(".tool-switch").htmlFor = toggle.id;
  toggle.checked = !!tool.enabled;
  toggle.setAttribute("aria-label", `Let ${tool.server}'s tool ${tool.name} through`);
  el.querySelector(".tool-name").textContent = tool.name;
  const exposed = el.querySelector(".tool-exposed");
  exposed.textContent = exposedText(tool);
  exposed.classList.toggle("held-back", !tool.exposed);
  const description = el.querySelector(".tool-description");
  description.textContent = tool.description || "";
  description.hidden = !tool.description;
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    showError($("tools-error"), null);
    try {
      await invoke("set_tool_enabled", switchArgs(scope, tool, toggle.checked));
    } catch (error) {
      // Nothing changed: the switch goes back to what it showed.
      toggle.checked = !toggle.checked;
      toggle.disabled = false;
      showError($("tools-error"), error);
      return;
    }
    // The exposed names and the count follow from the servers' lists: read them again.
    await loadTools({ server: tool.server, name: tool.name });
    // Still shown if that read failed: the switch did what it shows.
    toggle.disabled = false;
  });
  return el;
}

function renderInventory(inventory) {
  $("tools-count").textContent = countText(inventory, scope);
  const warning = capWarning(inventory.visible, scope);
  $("tools-cap").hidden = !warning;
  $("tools-cap").textContent = warning || "";
  $("tools-unavailable").replaceChildren(
    ...inventory.unavailable.map((entry) => {
      const li = document.createElement("li");
      li.dataset.server = entry.server;
      li.textContent = unavailableText(entry);
      return li;
    }),
  );
  // One server's view needs no heading per server.
  $("tools-list").replaceChildren(
    ...groupByServer(inventory.tools).map((group) => {
      const li = document.createElement("li");
      li.className = "tool-group";
      const list = document.createElement("ul");
      list.className = "tools";
      list.append(...group.tools.map(toolRow));
      if (!scope.server) {
        const heading = document.createElement("h3");
        heading.textContent = group.server;
        li.append(heading);
        list.setAttribute("aria-label", `Tools of ${group.server}`);
      }
      li.append(list);
      return li;
    }),
  );
  $("tools-empty").hidden = inventory.tools.length > 0 || inventory.unavailable.length > 0;
}

/** A new state: the endpoint's URL may have moved (a new port). */
export function renderTools(state) {
  if (currentView() === "tools") renderEndpoint(state);
}

export function closeTools() {
  const back = returnTo;
  showView(back);
  $(`tab-${back}`).focus();
}

onViewChange((name) => {
  if (name !== "tools") {
    // An answer still on its way is for a view that is gone.
    reads += 1;
    scope = null;
  }
});

$("tools-refresh").addEventListener("click", () => loadTools());
$("tools-close").addEventListener("click", closeTools);
$("tools-copy-url").addEventListener("click", (event) => {
  copyText($("tools-url").textContent, $("tools-url"), event.currentTarget);
});
