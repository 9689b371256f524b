// Which view of the window is showing. Each part registers what it does when the view
// changes (stop the log refresh, forget a revealed key, ...) with `onViewChange`.
import { $ } from "./dom.js";

const VIEWS = ["servers", "logs", "edit", "tools", "import", "connect", "settings"];
// Views reached from the Servers tab keep that tab marked.
const TAB_OF = { logs: "servers", edit: "servers", tools: "servers", import: "servers" };

let current = "servers";
const hooks = [];

export const currentView = () => current;

export function onViewChange(hook) {
  hooks.push(hook);
}

/** Shows view `name`, with `tab` marked (by default the tab it belongs to). */
export function showView(name, tab = TAB_OF[name] || name) {
  current = name;
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  for (const button of document.querySelectorAll(".tab")) {
    if (button.dataset.view === tab) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const hook of hooks) hook(name);
}

export function backToServers() {
  showView("servers");
  $("tab-servers").focus();
}
