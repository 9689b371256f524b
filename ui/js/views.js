// Which view of the window is showing. Each part registers what it does when the view
// changes (stop the log refresh, forget a revealed key, ...) with `onViewChange`.
import { $ } from "./dom.js";

const VIEWS = ["servers", "logs", "edit", "connect", "settings"];
// Views reached from the Servers tab keep that tab marked.
const TAB_OF = { logs: "servers", edit: "servers" };

let current = "servers";
const hooks = [];

export const currentView = () => current;

export function onViewChange(hook) {
  hooks.push(hook);
}

export function showView(name) {
  current = name;
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  const tab = TAB_OF[name] || name;
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
