// "Your apps" on the Connect page: each MCP client whose config file is on this computer,
// whether Switchboard is connected to it, Connect (the change shown as a diff first, then
// Confirm or Cancel) and Undo. The list is not part of the state: it is read when the view
// opens, on "Look again", and after each connect or undo.
import { $, showError } from "./dom.js";
import {
  appTitle,
  canUndo,
  connectArgs,
  diffLines,
  endpointChoices,
  planSummary,
  serversText,
  stateText,
  statusKey,
  undoArgs,
  undoNeedsForce,
} from "./clients.js";
import { invoke } from "./ipc.js";
import { store } from "./store.js";
import { currentView, onViewChange } from "./views.js";

const rows = new Map(); // statusKey -> { el, status }
let reads = 0;

async function loadApps() {
  const read = ++reads;
  showError($("apps-error"), null);
  try {
    const statuses = await invoke("client_list", {});
    if (read !== reads || currentView() !== "connect") return;
    renderApps(statuses);
  } catch (error) {
    if (read === reads) showError($("apps-error"), error);
  }
}

function renderApps(statuses) {
  const list = $("apps");
  const seen = new Set();
  statuses.forEach((status, index) => {
    const key = statusKey(status);
    seen.add(key);
    let row = rows.get(key);
    if (!row) {
      row = { ...makeRow(key), status };
      rows.set(key, row);
    }
    row.status = status;
    updateRow(row.el, status);
    if (list.children[index] !== row.el) list.insertBefore(row.el, list.children[index] || null);
  });
  for (const [key, row] of rows) {
    if (!seen.has(key)) {
      row.el.remove();
      rows.delete(key);
    }
  }
  $("apps-empty").hidden = statuses.length > 0;
  $("apps-options").hidden = statuses.length === 0;
  syncEndpoints(store.current());
}

function makeRow(key) {
  const el = $("app-row").content.firstElementChild.cloneNode(true);
  const q = (css) => el.querySelector(css);
  const status = () => rows.get(key).status;
  const errorEl = q(".app-error");
  // The file the shown plan is for: Confirm applies the plan the shell kept for it.
  let planned = null;

  function closePreview() {
    planned = null;
    q(".app-preview").hidden = true;
    q(".app-diff").replaceChildren();
  }

  q(".app-connect").addEventListener("click", async () => {
    showError(errorEl, null);
    q(".app-result").textContent = "";
    q(".app-undo-confirm").hidden = true;
    try {
      const plan = await invoke(
        "client_connect_preview",
        connectArgs(status(), $("apps-endpoint").value, $("apps-turn-off").checked),
      );
      planned = plan.changes ? plan.file.path : null;
      q(".app-summary").textContent = planSummary(plan, appTitle(status()));
      q(".app-diff").hidden = !plan.changes;
      q(".app-diff").replaceChildren(
        ...diffLines(plan.diff).map((line) => {
          const span = document.createElement("span");
          span.className = `diff-${line.kind}`;
          span.textContent = `${line.text}\n`;
          return span;
        }),
      );
      q(".app-note").textContent = plan.changes ? plan.note : "";
      q(".app-confirm").hidden = !plan.changes;
      q(".app-cancel").textContent = plan.changes ? "Cancel" : "Close";
      q(".app-preview").hidden = false;
      (plan.changes ? q(".app-confirm") : q(".app-cancel")).focus();
    } catch (error) {
      closePreview();
      showError(errorEl, error);
    }
  });
  q(".app-cancel").addEventListener("click", () => {
    closePreview();
    q(".app-connect").focus();
  });
  q(".app-confirm").addEventListener("click", async () => {
    if (!planned) return;
    const note = q(".app-note").textContent;
    try {
      await invoke("client_connect_apply", { path: planned });
      closePreview();
      q(".app-result").textContent = `Connected. ${note}`;
    } catch (error) {
      // A file changed since the preview: the person looks at the new change first.
      closePreview();
      showError(errorEl, error);
    }
    loadApps();
  });

  async function undo(force) {
    showError(errorEl, null);
    try {
      await invoke("client_undo", undoArgs(status(), force));
      q(".app-undo-confirm").hidden = true;
      q(".app-result").textContent = `Undone: the file is as it was. Restart ${status().title} to pick it up.`;
    } catch (error) {
      showError(errorEl, error);
    }
    loadApps();
  }
  q(".app-undo").addEventListener("click", () => {
    closePreview();
    q(".app-result").textContent = "";
    if (undoNeedsForce(status())) {
      q(".app-undo-confirm").hidden = false;
      q(".app-undo-no").focus();
    } else {
      undo(false);
    }
  });
  q(".app-undo-no").addEventListener("click", () => {
    q(".app-undo-confirm").hidden = true;
    q(".app-undo").focus();
  });
  q(".app-undo-yes").addEventListener("click", () => undo(true));
  return { el, closePreview };
}

function updateRow(el, status) {
  const q = (css) => el.querySelector(css);
  el.dataset.client = status.file.client;
  el.dataset.scope = status.file.scope;
  const title = appTitle(status);
  q(".app-title").textContent = title;
  const badge = q(".app-state");
  badge.textContent = stateText(status);
  badge.className = `badge app-state app-${status.state}`;
  q(".app-path").textContent = status.file.path;
  q(".app-servers").textContent = serversText(status);
  q(".app-connect").setAttribute("aria-label", `Connect ${title} to Switchboard`);
  q(".app-undo").setAttribute("aria-label", `Undo Switchboard's change to ${title}`);
  q(".app-undo").hidden = !canUndo(status);
  if (!undoNeedsForce(status)) q(".app-undo-confirm").hidden = true;
}

/** Keeps the endpoint choice in step with the profiles; shown only when there are some. */
function syncEndpoints(state) {
  const select = $("apps-endpoint");
  const choices = endpointChoices(state);
  const current = select.value;
  const existing = [...select.options].map((o) => `${o.value}\n${o.textContent}`).join("\n");
  if (existing !== choices.map((c) => `${c.value}\n${c.label}`).join("\n")) {
    select.replaceChildren(
      ...choices.map((choice) => {
        const option = document.createElement("option");
        option.value = choice.value;
        option.textContent = choice.label;
        return option;
      }),
    );
    select.value = choices.some((c) => c.value === current) ? current : "";
  }
  // Only where there is a choice, and something to connect.
  $("apps-endpoint-row").hidden = choices.length < 2 || rows.size === 0;
}

/** A new state: the profiles may have changed. */
export function renderClients(state) {
  syncEndpoints(state);
}

onViewChange((name) => {
  if (name === "connect") {
    syncEndpoints(store.current());
    loadApps();
  } else {
    // A shown plan goes with the view; Connect makes a fresh one.
    for (const row of rows.values()) {
      row.closePreview();
      row.el.querySelector(".app-result").textContent = "";
    }
  }
});

$("apps-refresh").addEventListener("click", loadApps);
