// Switchboard's window: the entry module. It talks to Rust over Tauri IPC only (commands
// and the "state-changed" and "sign-in-finished" events); no network fetches, no inline
// scripts or styles (see the CSP in tauri.conf.json).
//
// The state is fetched once when the page loads; after that the page renders the payload of
// each "state-changed" event, which the shell sends on every change of the Hub (sessions,
// children, settings, tray toggles). The window is destroyed when it is closed and this page
// loads afresh when it is opened again.
//
// Secret values are write-only here: a typed value goes to `set_secret` and the input is
// cleared at once. Nothing ever reads a secret back into the page; the API key and a
// profile's own key are only put on the clipboard or, when the user presses Reveal, into a
// client snippet.
import { $ } from "./js/dom.js";
import { errorText } from "./js/errors.js";
import { invoke, listen } from "./js/ipc.js";
import { store } from "./js/store.js";
import { backToServers, currentView, showView } from "./js/views.js";
import { renderServers, renderStatus, setPill, showProblem, signInFinished } from "./js/render-servers.js";
import { renderLogs } from "./js/render-logs.js";
import { renderEditor } from "./js/editor.js";
import { renderConnect } from "./js/render-connect.js";
import { renderClients } from "./js/render-clients.js";
import "./js/render-import.js";
import { renderSettings } from "./js/render-settings.js";
import { renderProfiles } from "./js/render-profiles.js";
import { closeTools, renderTools } from "./js/render-tools.js";

// How soon to ask again while the core is still starting.
const STARTING_RETRY_MS = 500;

store.subscribe((state) => {
  renderStatus(state);
  renderServers(state);
  renderEditor(state);
  renderConnect(state);
  renderClients(state);
  renderSettings(state);
  renderProfiles(state);
  renderTools(state);
  renderLogs(state);
});

async function loadState() {
  const apply = store.fetching();
  try {
    apply(await invoke("get_state"));
  } catch (error) {
    if (error && error.code === "starting") {
      setPill("Starting…", "wait");
      setTimeout(loadState, STARTING_RETRY_MS);
    } else {
      showProblem(errorText(error));
    }
  }
}

for (const button of document.querySelectorAll(".tab")) {
  button.addEventListener("click", () => showView(button.dataset.view));
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (!$("auth-off-confirm").hidden) $("auth-off-no").click();
  else if (["edit", "logs", "import"].includes(currentView())) backToServers();
  else if (currentView() === "tools") closeTools();
});

async function start() {
  try {
    // Listening first, so no change between the fetch and the subscription is missed.
    await listen("state-changed", (state) => store.received(state));
    // How a sign-in the window started ended (the state-changed that follows shows it too).
    await listen("sign-in-finished", signInFinished);
  } catch (error) {
    console.warn("no state-changed events", error);
  }
  await loadState();
}

start();
