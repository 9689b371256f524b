// A server's recent stderr lines. New lines do not announce themselves (they are not part of
// the state), so the view refreshes them itself while it is open.
import { $, showError } from "./dom.js";
import { invoke } from "./ipc.js";
import { currentView, onViewChange, showView, backToServers } from "./views.js";

const LOG_REFRESH_MS = 3000;

let logsServer = null;
let logsTimer = null;

export function openLogs(name) {
  logsServer = name;
  $("logs-heading").textContent = `Logs: ${name}`;
  $("logs").textContent = "";
  showView("logs");
  loadLogs();
  logsTimer = setInterval(loadLogs, LOG_REFRESH_MS);
  $("logs-close").focus();
}

function stopLogs() {
  if (logsTimer) clearInterval(logsTimer);
  logsTimer = null;
  logsServer = null;
}

export async function loadLogs() {
  if (!logsServer) return;
  const name = logsServer;
  try {
    const lines = await invoke("server_logs", { name });
    if (logsServer !== name) return;
    const pre = $("logs");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.textContent = lines.length ? lines.join("\n") : "(nothing logged yet)";
    if (atBottom) pre.scrollTop = pre.scrollHeight;
    showError($("logs-error"), null);
  } catch (error) {
    showError($("logs-error"), error);
  }
}

/** A state change (a start, an exit) usually comes with new lines. */
export function renderLogs() {
  if (currentView() === "logs") loadLogs();
}

onViewChange((name) => {
  if (name !== "logs") stopLogs();
});

$("logs-refresh").addEventListener("click", loadLogs);
$("logs-close").addEventListener("click", backToServers);
