// "Import from other apps": the servers found in other MCP clients' configs, grouped by
// file, each with what it runs, whether its app runs it, and its values (plain ones shown,
// secrets only named: they move to the keychain); a checkbox per server that can be
// imported; then the report. The preview never holds a secret value, so none can reach the
// page; values still to be set go through the write-only secret widget.
import { $, nextId, showError } from "./dom.js";
import {
  candidateKey,
  chosenServers,
  enabledText,
  failedLines,
  groupByFile,
  importButtonText,
  itemLabel,
  keychainItems,
  neededItems,
  outcomeText,
  summaryText,
  targetText,
  valueRows,
} from "./import.js";
import { invoke } from "./ipc.js";
import { secretWidget } from "./secret-widget.js";
import { backToServers, currentView, onViewChange, showView } from "./views.js";

let preview = null;
const checked = new Set(); // candidate keys
// Each read gets a number; an answer to an older read than the newest is dropped.
let reads = 0;

/** Opens the view and looks for other apps' servers. */
export function openImport() {
  showView("import");
  load();
  $("import-close").focus();
}

async function load() {
  const read = ++reads;
  preview = null;
  $("import-form").hidden = true;
  $("import-report").hidden = true;
  $("import-empty").hidden = true;
  $("import-unreadable").replaceChildren();
  $("import-files").replaceChildren();
  showError($("import-error"), null);
  $("import-loading").hidden = false;
  try {
    const answer = await invoke("import_preview", {});
    if (read !== reads || currentView() !== "import") return;
    preview = answer;
    checked.clear();
    for (const candidate of preview.candidates) if (candidate.importable) checked.add(candidateKey(candidate));
    renderPreview();
  } catch (error) {
    if (read === reads) showError($("import-error"), error);
  } finally {
    if (read === reads) $("import-loading").hidden = true;
  }
}

function renderPreview() {
  $("import-unreadable").replaceChildren(
    ...preview.unreadable.map((file) => {
      const li = document.createElement("li");
      li.textContent = `${file.path} could not be read: ${file.message}`;
      return li;
    }),
  );
  const groups = groupByFile(preview);
  $("import-empty").hidden = groups.length > 0;
  $("import-form").hidden = groups.length === 0;
  $("import-files").replaceChildren(...groups.map(fileCard));
  updateButton();
}

function fileCard(group) {
  const el = $("import-file").content.firstElementChild.cloneNode(true);
  el.dataset.path = group.path;
  el.querySelector(".import-file-title").textContent = group.title;
  el.querySelector(".import-file-path").textContent = group.path;
  el.querySelector(".import-servers").replaceChildren(...group.candidates.map((c) => serverRow(c, group.title)));
  return el;
}

function serverRow(candidate, title) {
  const el = $("import-server").content.firstElementChild.cloneNode(true);
  const q = (css) => el.querySelector(css);
  const key = candidateKey(candidate);
  el.dataset.path = candidate.from.path;
  el.dataset.name = candidate.found.name;
  const box = q(".import-check");
  box.id = nextId("import");
  q("label.check").htmlFor = box.id;
  box.checked = checked.has(key);
  box.disabled = !candidate.importable;
  box.addEventListener("change", () => {
    if (box.checked) checked.add(key);
    else checked.delete(key);
    updateButton();
  });
  q(".import-name").textContent =
    candidate.name !== candidate.found.name ? `${candidate.found.name} → ${candidate.name}` : candidate.found.name;
  const enabled = q(".import-enabled");
  enabled.textContent = enabledText(candidate.found, title);
  enabled.className = `badge import-enabled ${candidate.found.enabled ? "badge-idle" : "badge-disabled"}`;
  q(".import-target code").textContent = targetText(candidate.found);
  const outcome = outcomeText(candidate);
  q(".import-outcome").hidden = !outcome;
  q(".import-outcome").textContent = outcome || "";
  q(".import-values").replaceChildren(
    ...valueRows(candidate).flatMap((row) => {
      const dt = document.createElement("dt");
      dt.textContent = row.name;
      const dd = document.createElement("dd");
      dd.className = `value-${row.kind}`;
      dd.textContent = row.text;
      return [dt, dd];
    }),
  );
  q(".import-warnings").replaceChildren(
    ...candidate.found.warnings.map((warning) => {
      const li = document.createElement("li");
      li.className = "warning";
      li.textContent = warning;
      return li;
    }),
  );
  return el;
}

function updateButton() {
  const args = chosenServers(preview ? preview.candidates : [], (key) => checked.has(key));
  $("import-submit").textContent = importButtonText(args.chosen.length);
  $("import-submit").disabled = args.chosen.length === 0;
}

$("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!preview) return;
  const candidates = preview.candidates;
  const args = chosenServers(candidates, (key) => checked.has(key));
  if (!args.chosen.length) return;
  const submit = $("import-submit");
  submit.disabled = true;
  showError($("import-error"), null);
  try {
    const report = await invoke("import_servers", args);
    // The servers appear on the Servers page with the state-changed event.
    $("import-form").hidden = true;
    await renderReport(report, candidates);
  } catch (error) {
    showError($("import-error"), error);
  } finally {
    submit.disabled = false;
  }
});

async function renderReport(report, candidates) {
  $("import-summary").textContent = summaryText(report);
  $("import-failed").replaceChildren(
    ...failedLines(report).map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }),
  );
  const items = keychainItems(report, candidates);
  const moved = items.filter((item) => !item.needsValue);
  $("import-moved-part").hidden = moved.length === 0;
  let set = {};
  if (moved.length) {
    try {
      set = await invoke("secret_status", { names: moved.map((item) => item.secret) });
    } catch (error) {
      showError($("import-error"), error);
    }
  }
  $("import-moved").replaceChildren(
    ...moved.map((item) => {
      const li = document.createElement("li");
      li.className = "import-moved-item";
      li.dataset.secret = item.secret;
      const name = document.createElement("code");
      name.textContent = item.secret;
      const status = document.createElement("span");
      status.className = `secret-status ${set[item.secret] ? "is-set" : "not-set"}`;
      status.textContent = set[item.secret] ? "set" : "not set";
      li.append(name, ` (${itemLabel(item)}) `, status);
      return li;
    }),
  );
  const needed = neededItems(report, items);
  $("import-needs").hidden = needed.length === 0;
  $("import-needs-widgets").replaceChildren(
    ...needed.map((item) => {
      const widget = secretWidget(itemLabel(item), item.secret);
      // The imported server references this name: it is not the person's to change here.
      widget.el.querySelector(".secret-name").readOnly = true;
      return widget.el;
    }),
  );
  $("import-report").hidden = false;
}

$("import-open").addEventListener("click", openImport);
$("import-refresh").addEventListener("click", load);
$("import-close").addEventListener("click", backToServers);

onViewChange((name) => {
  if (name === "import") return;
  // Found servers and the report go with the view; the next visit looks again.
  reads += 1;
  preview = null;
  $("import-files").replaceChildren();
  $("import-needs-widgets").replaceChildren();
});
