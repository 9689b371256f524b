// Settings: the port, the API key check and the key, query-parameter auth, start at login.
// Each control calls its command; the state-changed event that follows re-renders the view.
import { $, flash, showError } from "./dom.js";
import { listeningText, portOverrideText } from "./format.js";
import { invoke } from "./ipc.js";
import { parseOrigins, portProblem } from "./settings-form.js";
import { store } from "./store.js";
import { currentView, onViewChange } from "./views.js";

// Typed but not saved: a new state must not overwrite them.
let originsDirty = false;
let portDirty = false;

function render(state) {
  $("set-listening").textContent = listeningText(state);
  if (!portDirty && document.activeElement !== $("set-port")) {
    $("set-port").value = state.port || "";
  }
  const settings = state.settings || {};
  const override = portOverrideText(settings.portOverride);
  $("set-port-override").hidden = !override;
  $("set-port-override").textContent = override || "";
  if (!$("set-auth").disabled) $("set-auth").checked = state.authRequired !== false;
  const status = $("auth-status");
  if (state.authRequired === false) {
    status.className = "warning";
    status.textContent =
      "API key checking is off: any program on this computer can reach your servers through the proxy.";
  } else {
    status.className = "ok-text";
    status.textContent = "Every request to the proxy must carry the API key.";
  }
  if (!$("set-query").disabled) $("set-query").checked = !!settings.allowQueryParamAuth;
  if (!originsDirty && document.activeElement !== $("set-origins")) {
    $("set-origins").value = (settings.queryParamAuthOrigins || []).join("\n");
  }
  const unsupported = settings.startAtLoginSupported === false;
  if (!$("set-login").disabled) $("set-login").checked = !!settings.startAtLogin;
  if (unsupported) $("set-login").disabled = true;
  $("set-login-hint").hidden = !unsupported;
}

/** A new state: shown if Settings is the view. */
export function renderSettings(state) {
  if (currentView() === "settings") render(state);
}

function renderLast() {
  if (store.current()) renderSettings(store.current());
}

// A settings command, with its control disabled while it runs. If it fails, nothing changed
// and no state-changed event will come, so the control goes back to the last state sent.
async function applying(control, errorEl, call) {
  showError(errorEl, null);
  control.disabled = true;
  let done = false;
  try {
    await call();
    done = true;
  } catch (error) {
    showError(errorEl, error);
  } finally {
    control.disabled = false;
  }
  if (!done) renderLast();
  return done;
}

onViewChange((name) => {
  if (name === "settings") renderLast();
  else $("auth-off-confirm").hidden = true;
});

$("set-origins").addEventListener("input", () => {
  originsDirty = true;
});

// ------------------------------------------------------------------------------ port ---

// Checked here first for a quick answer; the core checks again and moves the proxy (it binds
// the new port before it lets go of the old one, so a port in use changes nothing).
function showPortProblem(problem) {
  showError($("set-port-error"), problem);
  $("set-port").setAttribute("aria-invalid", problem ? "true" : "false");
}

$("set-port").addEventListener("input", () => {
  portDirty = true;
  if (!$("set-port-error").hidden) showPortProblem(portProblem($("set-port").value));
});

$("port-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const problem = portProblem($("set-port").value);
  showPortProblem(problem);
  if (problem) {
    $("set-port").focus();
    return;
  }
  const port = Number($("set-port").value.trim());
  const state = store.current();
  if (state && port === state.port) {
    portDirty = false;
    flash($("set-port-result"), "Already listening on that port");
    return;
  }
  $("set-port-save").disabled = true;
  try {
    await invoke("set_port", { port });
    portDirty = false;
    flash($("set-port-result"), `Moved to port ${port}. Point your clients at the new URLs.`);
  } catch (error) {
    showPortProblem(error);
  } finally {
    $("set-port-save").disabled = false;
  }
});

// --------------------------------------------------------------------------- API key ---

// "Require the API key": turning it off asks first.
async function setAuthRequired(required) {
  const input = $("set-auth");
  // The switch was held on while the user confirmed; now it shows what was applied.
  if (await applying(input, $("auth-error"), () => invoke("set_auth_required", { required }))) {
    input.checked = required;
  }
}

$("set-auth").addEventListener("change", (event) => {
  const input = event.currentTarget;
  if (input.checked) {
    $("auth-off-confirm").hidden = true;
    setAuthRequired(true);
    return;
  }
  // Nothing changes until the user confirms.
  input.checked = true;
  showError($("auth-error"), null);
  $("auth-off-confirm").hidden = false;
  $("auth-off-no").focus();
});
$("auth-off-no").addEventListener("click", () => {
  $("auth-off-confirm").hidden = true;
  $("set-auth").focus();
});
$("auth-off-yes").addEventListener("click", async () => {
  $("auth-off-confirm").hidden = true;
  await setAuthRequired(false);
  $("set-auth").focus();
});

$("key-copy").addEventListener("click", async (event) => {
  showError($("key-error"), null);
  try {
    const key = await invoke("api_key");
    if (!key) {
      flash($("key-result"), "There is no API key: Switchboard was started without one.");
      return;
    }
    // Straight to the clipboard; the key is never put into the page.
    try {
      await navigator.clipboard.writeText(key);
      flash($("key-result"), "Copied");
    } catch (_) {
      showError($("key-error"), "The clipboard is not available here. Use “Connect a client” and Reveal instead.");
    }
  } catch (error) {
    showError($("key-error"), error);
  }
  event.currentTarget.focus();
});

$("key-rotate").addEventListener("click", () => {
  $("rotate-confirm").hidden = false;
  $("key-rotate-no").focus();
});
$("key-rotate-no").addEventListener("click", () => {
  $("rotate-confirm").hidden = true;
  $("key-rotate").focus();
});
$("key-rotate-yes").addEventListener("click", async () => {
  showError($("key-error"), null);
  try {
    await invoke("rotate_key");
    $("rotate-confirm").hidden = true;
    flash($("key-result"), "New key made. Give it to your clients (Copy key, or Connect a client).");
    $("key-rotate").focus();
  } catch (error) {
    showError($("key-error"), error);
  }
});

// -------------------------------------------------------------- query-parameter auth ---

async function saveQueryAuth() {
  const enabled = $("set-query").checked;
  const origins = parseOrigins($("set-origins").value);
  const saved = await applying($("set-query"), $("set-query-error"), () =>
    invoke("save_query_auth", { enabled, origins }),
  );
  if (saved) {
    originsDirty = false;
    flash($("set-query-result"), "Saved");
  }
}

$("set-query").addEventListener("change", saveQueryAuth);
$("set-query-save").addEventListener("click", saveQueryAuth);

// ------------------------------------------------------------------- start at login ---

$("set-login").addEventListener("change", (event) => {
  const input = event.currentTarget;
  applying(input, $("set-login-error"), () => invoke("set_start_at_login", { enabled: input.checked }));
});
