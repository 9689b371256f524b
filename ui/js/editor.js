// The add/edit view of a server. The inputs are read into a plain form (server-form.js)
// and sent as a server definition; the backend validates it and its error text is shown.
import { $, showError } from "./dom.js";
import { invoke } from "./ipc.js";
import { store } from "./store.js";
import { backToServers, currentView, showView } from "./views.js";
import { secretWidget } from "./secret-widget.js";
import {
  authSecretRole,
  defaultSecretName,
  formFromServer,
  formProblem,
  needsAcknowledgement,
  serverFromForm,
} from "./server-form.js";
import { focusServerCard } from "./render-servers.js";
import { discoveryLines } from "./sign-in.js";

let editing = null; // { kind, original }: what is being edited; `original` is the saved config
let secretWidgets = {}; // bearer / basic / query / oauth (the client secret)
let envRows = [];
let authHeaderRows = [];

function removeButton(label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "small";
  button.textContent = "Remove";
  button.setAttribute("aria-label", label);
  button.addEventListener("click", onClick);
  return button;
}

function textInput(className, value, label, placeholder) {
  const input = document.createElement("input");
  input.className = className;
  input.value = value || "";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.setAttribute("aria-label", label);
  if (placeholder) input.placeholder = placeholder;
  return input;
}

function addArgRow(value) {
  const li = document.createElement("li");
  li.className = "arg-row";
  const n = $("args").children.length + 1;
  const input = textInput("arg", value, `Argument ${n}`);
  li.append(input, removeButton(`Remove argument ${n}`, () => li.remove()));
  $("args").append(li);
  return input;
}

function addHeaderRow(name, value) {
  const li = document.createElement("li");
  li.className = "header-row";
  li.append(
    textInput("header-name", name, "Header name", "X-Header"),
    textInput("header-value", value, "Header value", "value"),
    removeButton("Remove header", () => li.remove()),
  );
  $("headers").append(li);
}

const typedName = () => $("f-name").value;

/** An environment variable: `{key, value}` or `{key, secret}` (a keychain name). */
function addEnvRow(entry) {
  const li = document.createElement("li");
  li.className = "env-row";
  const row = { li, secret: null };
  const keyInput = textInput("env-key", entry.key, "Variable name", "NAME");
  const kind = document.createElement("select");
  kind.className = "env-kind";
  kind.setAttribute("aria-label", "Value or secret");
  for (const [value, text] of [
    ["literal", "Value"],
    ["secret", "Secret"],
  ]) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    kind.append(option);
  }
  kind.value = entry.secret !== undefined ? "secret" : "literal";
  const line = document.createElement("div");
  line.className = "env-line";
  const literal = textInput("env-value", entry.value, "Variable value", "value");
  const holder = document.createElement("div");
  holder.className = "env-secret";
  const removeRow = removeButton("Remove variable", () => {
    li.remove();
    envRows = envRows.filter((r) => r !== row);
  });
  line.append(keyInput, kind, literal, removeRow);
  li.append(line, holder);

  function sync() {
    const secret = kind.value === "secret";
    literal.hidden = secret;
    if (secret && !row.secret) {
      const name = entry.secret || defaultSecretName(typedName(), keyInput.value.trim() || "SECRET");
      row.secret = secretWidget(`Secret ${keyInput.value.trim() || "value"}`, name);
      holder.append(row.secret.el);
    }
    holder.hidden = !secret;
  }
  kind.addEventListener("change", sync);
  keyInput.addEventListener("input", () => {
    if (row.secret) row.secret.setLabel(`Secret ${keyInput.value.trim() || "value"}`);
  });
  sync();
  row.isSecret = () => kind.value === "secret";
  row.read = () =>
    row.isSecret() ? { key: keyInput.value, secret: row.secret.name() } : { key: keyInput.value, value: literal.value };
  envRows.push(row);
  $("env").append(li);
  return keyInput;
}

/** A secret header of the "Custom headers" auth: `{name, secret}`. */
function addAuthHeaderRow(header) {
  const li = document.createElement("li");
  li.className = "auth-header-row";
  const row = { li };
  const nameInput = textInput("auth-header-name", header.name, "Header name", "X-API-Key");
  row.secret = secretWidget(`Header ${header.name || ""}`.trim(), header.secret);
  const line = document.createElement("div");
  line.className = "env-line";
  line.append(
    nameInput,
    removeButton("Remove header", () => {
      li.remove();
      authHeaderRows = authHeaderRows.filter((r) => r !== row);
    }),
  );
  li.append(line, row.secret.el);
  row.read = () => ({ name: nameInput.value, secret: row.secret.name() });
  authHeaderRows.push(row);
  $("auth-header-rows").append(li);
}

/** "Query parameter" is offered only while Settings allow it; follows every state. */
function syncQueryOption(state) {
  const settings = (state && state.settings) || {};
  const allowed = !!settings.allowQueryParamAuth;
  const option = $("f-auth").querySelector('option[value="query"]');
  option.disabled = !allowed && $("f-auth").value !== "query";
  $("f-auth-hint").hidden = allowed;
  const origins = settings.queryParamAuthOrigins || [];
  $("query-origins").textContent = origins.length ? origins.join(", ") : "none yet (add them in Settings)";
  syncSaveGate();
}

export function renderEditor(state) {
  if (currentView() === "edit") syncQueryOption(state);
}

/** The OAuth client secret's widget shows while "The client has a secret" is ticked. */
function syncOAuthSecret() {
  $("oauth-secret").hidden = !$("f-oauth-has-secret").checked;
}

function syncAuth() {
  const type = $("f-auth").value;
  for (const part of ["bearer", "headers", "basic", "query", "oauth"]) {
    $(`auth-${part}`).hidden = part !== type;
  }
  if (type !== "query") $("f-ack").checked = false;
  syncQueryOption(store.current());
}

function syncSaveGate() {
  const needsAck = editing && needsAcknowledgement({ kind: editing.kind, authType: $("f-auth").value });
  $("save").disabled = !!needsAck && !$("f-ack").checked;
  $("save").title = $("save").disabled ? "Tick “I understand” first" : "";
}

/** Opens the form for `server` (a ServerView), or an empty one of `kind`. */
export function openEditor(server, kind) {
  const form = formFromServer(server, kind);
  editing = { kind: form.kind, original: server ? server.config || {} : {} };
  $("edit-heading").textContent = server
    ? `Edit ${form.kind === "remote" ? "remote gateway" : "local server"} “${server.name}”`
    : form.kind === "remote"
      ? "Add remote gateway"
      : "Add local server";
  $("edit-form").dataset.kind = form.kind;
  $("local-fields").hidden = form.kind !== "local";
  $("remote-fields").hidden = form.kind !== "remote";
  for (const id of ["save-error", "test-error", "test-discovery-error"]) showError($(id), null);
  $("test-result").textContent = "";
  showDiscovery(null);
  $("f-name").value = form.name;
  $("f-name").readOnly = !!server;
  for (const list of ["args", "env", "headers", "auth-header-rows"]) $(list).replaceChildren();
  envRows = [];
  authHeaderRows = [];
  for (const slot of document.querySelectorAll(".secret-slot")) slot.replaceChildren();

  // local
  $("f-command").value = form.command;
  for (const arg of form.args) addArgRow(arg);
  for (const entry of form.env) addEnvRow(entry);
  $("f-cwd").value = form.cwd;
  $("f-sharing").value = form.sharing;

  // remote
  $("f-url").value = form.url;
  $("f-transport").value = form.transport;
  for (const header of form.headers) addHeaderRow(header.name, header.value);
  $("f-auth").value = form.authType;
  const slot = (role) => document.querySelector(`.secret-slot[data-role="${role}"]`);
  const labels = { bearer: "Bearer token", basic: "Password", query: "Query key", oauth: "Client secret" };
  secretWidgets = {};
  for (const [role, label] of Object.entries(labels)) {
    secretWidgets[role] = secretWidget(label, form.secrets[role]);
    slot(role).append(secretWidgets[role].el);
  }
  $("f-basic-user").value = form.username;
  $("f-query-param").value = form.param;
  $("f-oauth-client-id").value = form.oauth.clientId;
  $("f-oauth-has-secret").checked = form.oauth.hasSecret;
  $("f-oauth-scope").value = form.oauth.scope;
  $("f-oauth-machine").checked = form.oauth.machine;
  syncOAuthSecret();
  for (const header of form.authHeaders) addAuthHeaderRow(header);
  $("f-ack").checked = false;
  syncAuth();
  showView("edit");
  (server ? (form.kind === "remote" ? $("f-url") : $("f-command")) : $("f-name")).focus();
}

/** The inputs as a plain form (see server-form.js). */
function readForm() {
  return {
    kind: editing.kind,
    name: $("f-name").value,
    command: $("f-command").value,
    args: [...$("args").querySelectorAll(".arg")].map((input) => input.value),
    env: envRows.map((row) => row.read()),
    cwd: $("f-cwd").value,
    sharing: $("f-sharing").value,
    url: $("f-url").value,
    transport: $("f-transport").value,
    headers: [...$("headers").children].map((li) => ({
      name: li.querySelector(".header-name").value,
      value: li.querySelector(".header-value").value,
    })),
    authType: $("f-auth").value,
    username: $("f-basic-user").value,
    param: $("f-query-param").value,
    secrets: Object.fromEntries(Object.entries(secretWidgets).map(([role, widget]) => [role, widget.name()])),
    authHeaders: authHeaderRows.map((row) => row.read()),
    oauth: {
      clientId: $("f-oauth-client-id").value,
      hasSecret: $("f-oauth-has-secret").checked,
      scope: $("f-oauth-scope").value,
      machine: $("f-oauth-machine").checked,
    },
  };
}

// Secrets typed but not yet stored go to the keychain before the server is saved or tested.
async function commitSecrets() {
  const widgets = [];
  if (editing.kind === "local") {
    for (const row of envRows) if (row.isSecret()) widgets.push(row.secret);
  } else if ($("f-auth").value === "headers") {
    for (const row of authHeaderRows) widgets.push(row.secret);
  } else {
    const role = authSecretRole(readForm());
    if (role && secretWidgets[role]) widgets.push(secretWidgets[role]);
  }
  for (const widget of widgets) {
    if (!(await widget.commit())) return false;
  }
  return true;
}

$("add-local").addEventListener("click", () => openEditor(null, "local"));
$("add-remote").addEventListener("click", () => openEditor(null, "remote"));
$("add-arg").addEventListener("click", () => addArgRow("").focus());
$("add-env").addEventListener("click", () => addEnvRow({ key: "", value: "" }).focus());
$("add-env-secret").addEventListener("click", () => addEnvRow({ key: "", secret: "" }).focus());
$("add-header").addEventListener("click", () => {
  addHeaderRow("", "");
  $("headers").lastElementChild.querySelector("input").focus();
});
$("add-auth-header").addEventListener("click", () => {
  addAuthHeaderRow({ name: "", secret: defaultSecretName(typedName(), "header") });
  $("auth-header-rows").lastElementChild.querySelector("input").focus();
});
$("f-auth").addEventListener("change", syncAuth);
$("f-name").addEventListener("change", () => {
  if (!editing || $("f-name").readOnly) return;
  // A new server's secrets are named after it, unless the user named them.
  const suffixes = { bearer: "token", basic: "password", query: "key", oauth: "client-secret" };
  for (const [role, suffix] of Object.entries(suffixes)) {
    if (secretWidgets[role]) secretWidgets[role].suggest(defaultSecretName(typedName(), suffix));
  }
});
$("f-ack").addEventListener("change", syncSaveGate);
$("f-oauth-has-secret").addEventListener("change", syncOAuthSecret);
$("f-oauth-machine").addEventListener("change", () => {
  // Client credentials are the client ID and its secret (or key): offer the secret at once.
  if ($("f-oauth-machine").checked && !$("f-oauth-has-secret").checked) {
    $("f-oauth-has-secret").checked = true;
    syncOAuthSecret();
  }
});

/** "Test connection" of an OAuth server lists what discovery found; null hides it. */
function showDiscovery(found) {
  $("test-discovery-part").hidden = !found;
  $("test-discovery").replaceChildren(
    ...(found ? discoveryLines(found) : []).map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }),
  );
}
$("cancel").addEventListener("click", backToServers);

$("test-connection").addEventListener("click", async () => {
  const button = $("test-connection");
  showError($("test-error"), null);
  showError($("test-discovery-error"), null);
  showDiscovery(null);
  $("test-result").textContent = "Testing…";
  button.disabled = true;
  try {
    if (!(await commitSecrets())) {
      $("test-result").textContent = "";
      return;
    }
    const form = readForm();
    const name = form.name.trim() || "test";
    const server = serverFromForm(form, editing.original);
    if (form.kind === "remote" && form.authType === "oauth") {
      // Where the person will sign in, and how Switchboard identifies itself there; the
      // connection test below then needs a sign-in (or the machine's token).
      try {
        showDiscovery(await invoke("auth_discovery", { name, server }));
      } catch (error) {
        showError($("test-discovery-error"), error);
      }
    }
    const answer = await invoke("test_server", { name, server });
    const version = answer.serverVersion ? ` ${answer.serverVersion}` : "";
    const eras = answer.eras ? `; speaks ${answer.eras}` : "";
    $("test-result").textContent =
      `Connected: ${answer.serverName || "server"}${version}, protocol ${answer.protocolVersion || "?"}${eras}`;
  } catch (error) {
    $("test-result").textContent = "";
    showError($("test-error"), error);
  } finally {
    button.disabled = false;
  }
});

$("edit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ($("save").disabled) return;
  showError($("save-error"), null);
  const problem = formProblem(readForm());
  if (problem) {
    showError($("save-error"), problem);
    $("f-name").focus();
    return;
  }
  $("save").disabled = true;
  try {
    if (!(await commitSecrets())) return;
    const form = readForm();
    const name = form.name.trim();
    const acknowledgeInsecure = needsAcknowledgement(form) && $("f-ack").checked;
    await invoke("save_server", { name, server: serverFromForm(form, editing.original), acknowledgeInsecure });
    backToServers();
    // The new card comes with the state-changed event that follows.
    focusServerCard(name);
  } catch (error) {
    showError($("save-error"), error);
  } finally {
    $("save").disabled = false;
    syncSaveGate();
  }
});
