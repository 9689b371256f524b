// Switchboard's window. Talks to Rust over Tauri IPC only (invoke + the "state-changed"
// event); no network fetches, no inline scripts or styles (see the CSP in tauri.conf.json).
//
// Secret values are write-only here: a typed value goes to `set_secret` and the input is
// cleared at once. Nothing ever reads a secret back into the page; the API key is only put
// on the clipboard or, when the user presses Reveal, into a client snippet.
"use strict";

const RETRY_MS = 500;
const LOG_REFRESH_MS = 3000;
const STATE_POLL_MS = 4000;

const invoke = (cmd, args) => window.__TAURI__.core.invoke(cmd, args);

const $ = (id) => document.getElementById(id);

let state = null; // the last get_state answer
let currentView = "servers";
let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// ----------------------------------------------------------------------------- helpers ---

const FRIENDLY = {
  query_auth_off:
    "Query-parameter auth is turned off. Turn on “Allow query-parameter auth” in Settings and add this server's origin first.",
  needs_acknowledgement: "Tick “I understand” to save a key that is sent in the URL.",
  port_in_use: "Another program is using that port. Choose another one.",
  starting: "The proxy is still starting. Try again in a moment.",
};

function errorText(error) {
  if (error && typeof error === "object") {
    const friendly = FRIENDLY[error.code];
    if (friendly && error.code !== "invalid") {
      return error.message && error.code !== "needs_acknowledgement"
        ? `${friendly} (${error.message})`
        : friendly;
    }
    if (error.message) return error.message;
  }
  return String(error);
}

function showError(el, error) {
  if (!el) return;
  if (error === null || error === undefined) {
    el.hidden = true;
    el.textContent = "";
  } else {
    el.textContent = typeof error === "string" ? error : errorText(error);
    el.hidden = false;
  }
}

function flash(el, text) {
  el.textContent = text;
  clearTimeout(el.flashTimer);
  el.flashTimer = setTimeout(() => {
    el.textContent = "";
  }, 4000);
}

function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// Copies text; if the clipboard is unavailable, selects `fallbackEl` for Ctrl+C.
async function copyText(text, fallbackEl, button) {
  const label = button ? button.textContent : "";
  try {
    await navigator.clipboard.writeText(text);
    if (button) {
      button.textContent = "Copied";
      setTimeout(() => {
        button.textContent = label;
      }, 1500);
    }
    return true;
  } catch (_) {
    if (fallbackEl) {
      selectText(fallbackEl);
      if (button) {
        button.textContent = "Press Ctrl+C";
        setTimeout(() => {
          button.textContent = label;
        }, 2500);
      }
    }
    return false;
  }
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function labelFor(label, input, prefix) {
  const id = nextId(prefix);
  input.id = id;
  label.htmlFor = id;
}

// ------------------------------------------------------------------------------ views ---

function showView(name) {
  currentView = name;
  for (const view of ["servers", "logs", "edit", "connect", "settings"]) {
    $(`view-${view}`).hidden = view !== name;
  }
  const tab = name === "logs" || name === "edit" ? "servers" : name;
  for (const button of document.querySelectorAll(".tab")) {
    if (button.dataset.view === tab) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  if (name !== "logs") stopLogs();
  if (name === "connect") {
    revealKey = false;
    renderConnect();
  } else {
    // The key leaves the page with the view.
    revealKey = false;
    $("snippets").replaceChildren();
  }
  if (name === "settings") renderSettings();
  else $("auth-off-confirm").hidden = true;
}

// ------------------------------------------------------------------------------ state ---

function setPill(text, kind) {
  const pill = $("state");
  pill.textContent = text;
  pill.className = `pill pill-${kind}`;
}

function showProblem(message) {
  $("problem").hidden = false;
  $("problem-message").textContent = message;
  setPill("Not running", "error");
}

// Before get_state existed the app only had proxy_info; keep the window useful with it.
async function legacyState() {
  const info = await invoke("proxy_info");
  return {
    proxyEnabled: true,
    authRequired: true,
    listening: info.listening,
    port: Number(String(info.listening).split(":").pop()) || null,
    settings: { allowQueryParamAuth: false, queryParamAuthOrigins: [], startAtLogin: false },
    servers: info.endpoints.map((e) => ({
      name: e.server,
      kind: "local",
      enabled: true,
      state: "idle",
      sessions: 0,
      starts: 0,
      unexpectedExits: 0,
      lastError: null,
      mcpUrl: e.mcpUrl,
      sseUrl: e.sseUrl,
      config: {},
    })),
    legacy: true,
  };
}

let refreshing = false;
let refreshAgain = false;

async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    let next;
    try {
      next = await invoke("get_state");
    } catch (error) {
      if (error && error.code === "starting") throw error;
      if (/not found|unknown command/i.test(errorText(error))) next = await legacyState();
      else throw error;
    }
    state = next;
    $("problem").hidden = true;
    render();
  } catch (error) {
    if (error && error.code === "starting") {
      setPill("Starting…", "wait");
      setTimeout(refresh, RETRY_MS);
    } else {
      showProblem(errorText(error));
    }
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  }
}

function render() {
  if (!state) return;
  if (!state.proxyEnabled) setPill("Proxy off", "wait");
  else setPill("Running", "ok");
  $("proxy-enabled").checked = !!state.proxyEnabled;
  $("listening").textContent = state.listening || `127.0.0.1:${state.port}`;
  $("auth-off-banner").hidden = state.authRequired !== false;
  renderServers();
  if (currentView === "edit") syncQueryOption();
  if (currentView === "settings") renderSettings();
  if (currentView === "connect") syncConnectServers();
}

// ---------------------------------------------------------------------------- servers ---

const cards = new Map(); // name -> { el, server }

function targetOf(server) {
  const c = server.config || {};
  if (server.kind === "remote") return c.url || "";
  return [c.command, ...(c.args || [])].filter((s) => s !== undefined).join(" ");
}

function makeCard(name) {
  const el = $("server-card").content.firstElementChild.cloneNode(true);
  el.dataset.server = name;
  const toggle = el.querySelector(".enable-toggle");
  toggle.id = nextId("enable");
  el.querySelector(".server-switch").htmlFor = toggle.id;
  toggle.setAttribute("aria-label", `Enable ${name}`);
  toggle.addEventListener("change", async () => {
    const card = cards.get(name);
    const wanted = toggle.checked;
    toggle.disabled = true;
    showError(el.querySelector(".toggle-error"), null);
    try {
      await invoke("set_server_enabled", { name, enabled: wanted });
    } catch (error) {
      toggle.checked = !wanted;
      showError(el.querySelector(".toggle-error"), error);
    } finally {
      toggle.disabled = false;
      if (card) refresh();
    }
  });
  el.querySelector(".copy-url").addEventListener("click", (event) => {
    const code = el.querySelector(".endpoint-url");
    copyText(code.textContent, code, event.currentTarget);
  });
  el.querySelector(".copy-url").setAttribute("aria-label", `Copy the endpoint URL of ${name}`);
  el.querySelector(".edit").setAttribute("aria-label", `Edit ${name}`);
  el.querySelector(".show-logs").setAttribute("aria-label", `Logs of ${name}`);
  el.querySelector(".remove").setAttribute("aria-label", `Remove ${name}`);
  el.querySelector(".edit").addEventListener("click", () => openEditor(cards.get(name).server));
  el.querySelector(".show-logs").addEventListener("click", () => openLogs(name));
  el.querySelector(".remove").addEventListener("click", () => {
    el.querySelector(".remove-confirm").hidden = false;
    el.querySelector(".remove-no").focus();
  });
  el.querySelector(".remove-no").addEventListener("click", () => {
    el.querySelector(".remove-confirm").hidden = true;
    el.querySelector(".remove").focus();
  });
  el.querySelector(".remove-yes").addEventListener("click", async () => {
    try {
      await invoke("remove_server", { name });
      el.querySelector(".remove-confirm").hidden = true;
      refresh();
    } catch (error) {
      showError(el.querySelector(".toggle-error"), error);
    }
  });
  return el;
}

function updateCard(el, server) {
  el.querySelector(".server-name").textContent = server.name;
  const kind = el.querySelector(".kind");
  kind.textContent = server.kind === "remote" ? "remote" : "local";
  kind.className = `kind kind-${server.kind}`;
  const badge = el.querySelector(".badge");
  badge.textContent = server.state;
  badge.className = `badge badge-${server.state}`;
  const toggle = el.querySelector(".enable-toggle");
  if (!toggle.disabled) toggle.checked = !!server.enabled;
  const parts = [plural(server.sessions || 0, "session", "sessions")];
  if (server.kind !== "remote") {
    parts.push(`started ${plural(server.starts || 0, "time", "times")}`);
    parts.push(plural(server.unexpectedExits || 0, "unexpected exit", "unexpected exits"));
  }
  el.querySelector(".stats").textContent = parts.join(" · ");
  const lastError = el.querySelector(".last-error");
  lastError.hidden = !server.lastError;
  lastError.textContent = server.lastError ? `Last error: ${server.lastError}` : "";
  el.querySelector(".endpoint-url").textContent = server.mcpUrl || "";
  el.querySelector(".sse-url").textContent = server.sseUrl || "";
  el.querySelector(".target").textContent = targetOf(server);
  el.querySelector(".edit").hidden = !!state.legacy;
  el.querySelector(".remove").hidden = !!state.legacy;
}

function renderServers() {
  const list = $("servers");
  const seen = new Set();
  state.servers.forEach((server, index) => {
    seen.add(server.name);
    let entry = cards.get(server.name);
    if (!entry) {
      entry = { el: makeCard(server.name), server };
      cards.set(server.name, entry);
    }
    entry.server = server;
    updateCard(entry.el, server);
    if (list.children[index] !== entry.el) list.insertBefore(entry.el, list.children[index] || null);
  });
  for (const [name, entry] of cards) {
    if (!seen.has(name)) {
      entry.el.remove();
      cards.delete(name);
    }
  }
  $("no-servers").hidden = state.servers.length > 0;
}

$("proxy-enabled").addEventListener("change", async (event) => {
  const input = event.currentTarget;
  input.disabled = true;
  showError($("proxy-error"), null);
  try {
    await invoke("set_proxy_enabled", { enabled: input.checked });
  } catch (error) {
    input.checked = !input.checked;
    showError($("proxy-error"), error);
  } finally {
    input.disabled = false;
    refresh();
  }
});

// ------------------------------------------------------------------------------- logs ---

let logsServer = null;
let logsTimer = null;

function openLogs(name) {
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

async function loadLogs() {
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

$("logs-refresh").addEventListener("click", loadLogs);
$("logs-close").addEventListener("click", () => {
  showView("servers");
  $("tab-servers").focus();
});

// ---------------------------------------------------------------------- secret widget ---

// A write-only secret: its keychain name, "set"/"not set", a password box whose value goes
// to set_secret and is then cleared, and Replace / Remove.
function secretWidget(labelText, defaultName) {
  const el = $("secret-widget").content.firstElementChild.cloneNode(true);
  const nameInput = el.querySelector(".secret-name");
  const valueInput = el.querySelector(".secret-value");
  const status = el.querySelector(".secret-status");
  const replace = el.querySelector(".secret-replace");
  const remove = el.querySelector(".secret-remove");
  const entry = el.querySelector(".secret-entry");
  const setButton = el.querySelector(".secret-set");
  const errorEl = el.querySelector(".secret-error");
  labelFor(el.querySelector(".secret-name-label"), nameInput, "secret-name");
  labelFor(el.querySelector(".secret-value-label"), valueInput, "secret-value");
  el.querySelector(".secret-value-label").textContent = `${labelText}: new value`;
  el.querySelector(".secret-name-label").textContent = `${labelText}: name in the keychain`;
  nameInput.value = defaultName || "";
  let isSet = false;
  let touched = false;
  nameInput.addEventListener("input", () => {
    touched = true;
  });

  function show() {
    status.textContent = isSet ? "set" : "not set";
    status.className = `secret-status ${isSet ? "is-set" : "not-set"}`;
    replace.hidden = !isSet || !entry.hidden;
    remove.hidden = !isSet;
    setButton.textContent = isSet ? "Replace in keychain" : "Store in keychain";
  }

  async function refreshStatus() {
    const name = nameInput.value.trim();
    if (!name) {
      isSet = false;
      entry.hidden = false;
      show();
      return;
    }
    try {
      const answer = await invoke("secret_status", { names: [name] });
      isSet = !!(answer && answer[name]);
      entry.hidden = isSet;
      show();
      showError(errorEl, null);
    } catch (error) {
      showError(errorEl, error);
    }
  }

  async function commit() {
    const name = nameInput.value.trim();
    const value = valueInput.value;
    // Cleared before anything else can happen: the value never stays in the page.
    valueInput.value = "";
    if (!value) return true;
    if (!name) {
      showError(errorEl, "Give the secret a name first.");
      return false;
    }
    try {
      await invoke("set_secret", { name, value });
      showError(errorEl, null);
      await refreshStatus();
      return true;
    } catch (error) {
      showError(errorEl, error);
      return false;
    }
  }

  replace.addEventListener("click", () => {
    entry.hidden = false;
    show();
    valueInput.focus();
  });
  remove.addEventListener("click", async () => {
    try {
      await invoke("delete_secret", { name: nameInput.value.trim() });
      await refreshStatus();
    } catch (error) {
      showError(errorEl, error);
    }
  });
  setButton.addEventListener("click", async () => {
    if (!valueInput.value) {
      showError(errorEl, "Type the value first.");
      valueInput.focus();
      return;
    }
    await commit();
  });
  valueInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      setButton.click();
    }
  });
  nameInput.addEventListener("change", refreshStatus);
  refreshStatus();
  return {
    el,
    setLabel(text) {
      el.querySelector(".secret-value-label").textContent = `${text}: new value`;
      el.querySelector(".secret-name-label").textContent = `${text}: name in the keychain`;
    },
    name: () => nameInput.value.trim(),
    // A better default once the server has a name, unless the user chose one.
    suggest(name) {
      if (!touched && nameInput.value !== name) {
        nameInput.value = name;
        refreshStatus();
      }
    },
    setName(name) {
      nameInput.value = name;
      refreshStatus();
    },
    commit,
  };
}

// ----------------------------------------------------------------------------- editor ---

let editing = null; // { kind, originalName, original }
let secretWidgets = {}; // bearer / basic / query
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

function defaultSecretName(suffix) {
  const server = $("f-name").value.trim() || "server";
  return `${server}.${suffix}`;
}

function addEnvRow(key, source, asSecret) {
  const li = document.createElement("li");
  li.className = "env-row";
  const row = { li, secret: null };
  const keyInput = textInput("env-key", key, "Variable name", "NAME");
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
  const isSecret = asSecret || (source && typeof source === "object");
  kind.value = isSecret ? "secret" : "literal";
  const line = document.createElement("div");
  line.className = "env-line";
  const literal = textInput(
    "env-value",
    typeof source === "string" ? source : "",
    "Variable value",
    "value",
  );
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
      const name =
        source && typeof source === "object"
          ? source.secret
          : defaultSecretName(keyInput.value.trim() || "SECRET");
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
  row.key = () => keyInput.value.trim();
  row.value = () =>
    kind.value === "secret" ? { secret: row.secret.name() } : literal.value;
  row.isSecret = () => kind.value === "secret";
  envRows.push(row);
  $("env").append(li);
  return keyInput;
}

function addAuthHeaderRow(name, source) {
  const li = document.createElement("li");
  li.className = "auth-header-row";
  const row = { li };
  const nameInput = textInput("auth-header-name", name, "Header name", "X-API-Key");
  const secretName =
    source && typeof source === "object" ? source.secret : defaultSecretName(name || "header");
  row.secret = secretWidget(`Header ${name || ""}`.trim(), secretName);
  row.literal = typeof source === "string" ? source : null;
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
  row.name = () => nameInput.value.trim();
  authHeaderRows.push(row);
  $("auth-header-rows").append(li);
}

function syncQueryOption() {
  const allowed = !!(state && state.settings && state.settings.allowQueryParamAuth);
  const option = $("f-auth").querySelector('option[value="query"]');
  const current = $("f-auth").value;
  option.disabled = !allowed && current !== "query";
  $("f-auth-hint").hidden = allowed;
  const origins = (state && state.settings && state.settings.queryParamAuthOrigins) || [];
  $("query-origins").textContent = origins.length ? origins.join(", ") : "none yet (add them in Settings)";
  syncSaveGate();
}

function syncAuth() {
  const type = $("f-auth").value;
  for (const part of ["bearer", "headers", "basic", "query"]) {
    $(`auth-${part}`).hidden = part !== type;
  }
  if (type !== "query") $("f-ack").checked = false;
  syncQueryOption();
}

function syncSaveGate() {
  const needsAck = editing && editing.kind === "remote" && $("f-auth").value === "query";
  $("save").disabled = !!needsAck && !$("f-ack").checked;
  $("save").title = $("save").disabled ? "Tick “I understand” first" : "";
}

function openEditor(server, kind) {
  const config = server ? server.config || {} : {};
  kind = server ? server.kind : kind;
  editing = { kind, originalName: server ? server.name : null, original: config };
  $("edit-heading").textContent = server
    ? `Edit ${kind === "remote" ? "remote gateway" : "local server"} “${server.name}”`
    : kind === "remote"
      ? "Add remote gateway"
      : "Add local server";
  $("edit-form").dataset.kind = kind;
  $("local-fields").hidden = kind !== "local";
  $("remote-fields").hidden = kind !== "remote";
  for (const id of ["save-error", "test-error"]) showError($(id), null);
  $("test-result").textContent = "";
  $("f-name").value = server ? server.name : "";
  $("f-name").readOnly = !!server;
  $("args").replaceChildren();
  $("env").replaceChildren();
  $("headers").replaceChildren();
  $("auth-header-rows").replaceChildren();
  envRows = [];
  authHeaderRows = [];
  for (const slot of document.querySelectorAll(".secret-slot")) slot.replaceChildren();
  secretWidgets = {};

  // local
  $("f-command").value = config.command || "";
  for (const arg of config.args || []) addArgRow(arg);
  for (const [key, source] of Object.entries(config.env || {})) addEnvRow(key, source);
  $("f-cwd").value = config.cwd || "";
  $("f-sharing").value = config.sharing || "per-session";

  // remote
  $("f-url").value = config.url || "";
  $("f-transport").value = config.transport || "auto";
  for (const [name, value] of Object.entries(config.headers || {})) addHeaderRow(name, value);
  const auth = config.auth || { type: "none" };
  $("f-auth").value = auth.type || "none";
  const slot = (role) => document.querySelector(`.secret-slot[data-role="${role}"]`);
  secretWidgets.bearer = secretWidget(
    "Bearer token",
    auth.type === "bearer" ? auth.secret : defaultSecretName("token"),
  );
  slot("bearer").append(secretWidgets.bearer.el);
  secretWidgets.basic = secretWidget(
    "Password",
    auth.type === "basic" ? auth.secret : defaultSecretName("password"),
  );
  slot("basic").append(secretWidgets.basic.el);
  $("f-basic-user").value = auth.type === "basic" ? auth.username || "" : "";
  secretWidgets.query = secretWidget(
    "Query key",
    auth.type === "query" ? auth.secret : defaultSecretName("key"),
  );
  slot("query").append(secretWidgets.query.el);
  $("f-query-param").value = auth.type === "query" ? auth.param || "" : "";
  if (auth.type === "headers") {
    for (const [name, source] of Object.entries(auth.headers || {})) addAuthHeaderRow(name, source);
  }
  $("f-ack").checked = false;
  syncAuth();
  showView("edit");
  (server ? (kind === "remote" ? $("f-url") : $("f-command")) : $("f-name")).focus();
}

const KNOWN_FIELDS = ["command", "args", "env", "cwd", "sharing", "url", "transport", "headers", "auth"];

// The server definition as the form describes it (unknown fields of the original kept).
function formServer() {
  const server = { ...editing.original };
  for (const field of KNOWN_FIELDS) delete server[field];
  if (editing.kind === "local") {
    server.command = $("f-command").value.trim();
    const args = [...$("args").querySelectorAll(".arg")].map((i) => i.value);
    if (args.length) server.args = args;
    const env = {};
    for (const row of envRows) if (row.key()) env[row.key()] = row.value();
    if (Object.keys(env).length) server.env = env;
    if ($("f-cwd").value.trim()) server.cwd = $("f-cwd").value.trim();
    if ($("f-sharing").value !== "per-session") server.sharing = $("f-sharing").value;
  } else {
    server.url = $("f-url").value.trim();
    if ($("f-transport").value !== "auto") server.transport = $("f-transport").value;
    const headers = {};
    for (const li of $("headers").children) {
      const name = li.querySelector(".header-name").value.trim();
      if (name) headers[name] = li.querySelector(".header-value").value;
    }
    if (Object.keys(headers).length) server.headers = headers;
    const type = $("f-auth").value;
    if (type === "bearer") server.auth = { type, secret: secretWidgets.bearer.name() };
    else if (type === "basic")
      server.auth = { type, username: $("f-basic-user").value.trim(), secret: secretWidgets.basic.name() };
    else if (type === "query")
      server.auth = { type, param: $("f-query-param").value.trim(), secret: secretWidgets.query.name() };
    else if (type === "headers") {
      const headers = {};
      for (const row of authHeaderRows) if (row.name()) headers[row.name()] = { secret: row.secret.name() };
      server.auth = { type, headers };
    }
  }
  return server;
}

// Secrets typed but not yet stored go to the keychain before the server is saved or tested.
async function commitSecrets() {
  const widgets = [];
  if (editing.kind === "local") {
    for (const row of envRows) if (row.isSecret()) widgets.push(row.secret);
  } else {
    const type = $("f-auth").value;
    if (type === "headers") for (const row of authHeaderRows) widgets.push(row.secret);
    else if (secretWidgets[type]) widgets.push(secretWidgets[type]);
  }
  for (const widget of widgets) {
    if (!(await widget.commit())) return false;
  }
  return true;
}

$("add-local").addEventListener("click", () => openEditor(null, "local"));
$("add-remote").addEventListener("click", () => openEditor(null, "remote"));
$("add-arg").addEventListener("click", () => addArgRow("").focus());
$("add-env").addEventListener("click", () => addEnvRow("", "").focus());
$("add-env-secret").addEventListener("click", () => addEnvRow("", null, true).focus());
$("add-header").addEventListener("click", () => {
  addHeaderRow("", "");
  $("headers").lastElementChild.querySelector("input").focus();
});
$("add-auth-header").addEventListener("click", () => {
  addAuthHeaderRow("", null);
  $("auth-header-rows").lastElementChild.querySelector("input").focus();
});
$("f-auth").addEventListener("change", syncAuth);
$("f-name").addEventListener("change", () => {
  if (!editing || editing.originalName) return;
  const suffixes = { bearer: "token", basic: "password", query: "key" };
  for (const [role, suffix] of Object.entries(suffixes)) {
    if (secretWidgets[role]) secretWidgets[role].suggest(defaultSecretName(suffix));
  }
});
$("f-ack").addEventListener("change", syncSaveGate);
$("cancel").addEventListener("click", () => {
  showView("servers");
  $("tab-servers").focus();
});

$("test-connection").addEventListener("click", async () => {
  const button = $("test-connection");
  showError($("test-error"), null);
  $("test-result").textContent = "Testing…";
  button.disabled = true;
  try {
    if (!(await commitSecrets())) {
      $("test-result").textContent = "";
      return;
    }
    const name = $("f-name").value.trim() || "test";
    const answer = await invoke("test_server", { name, server: formServer() });
    const version = answer.serverVersion ? ` ${answer.serverVersion}` : "";
    $("test-result").textContent =
      `Connected: ${answer.serverName || "server"}${version}, protocol ${answer.protocolVersion || "?"}`;
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
  const name = $("f-name").value.trim();
  showError($("save-error"), null);
  if (!name) {
    showError($("save-error"), "Give the server a name.");
    $("f-name").focus();
    return;
  }
  $("save").disabled = true;
  try {
    if (!(await commitSecrets())) return;
    const acknowledgeInsecure = editing.kind === "remote" && $("f-auth").value === "query" && $("f-ack").checked;
    await invoke("save_server", { name, server: formServer(), acknowledgeInsecure });
    showView("servers");
    await refresh();
    const card = cards.get(name);
    if (card) card.el.querySelector(".enable-toggle").focus();
  } catch (error) {
    showError($("save-error"), error);
  } finally {
    $("save").disabled = false;
    syncSaveGate();
  }
});

// ---------------------------------------------------------------------------- connect ---

let revealKey = false;
const CLIENTS = [
  ["claudeCode", "Claude Code"],
  ["cursor", "Cursor"],
  ["vscode", "VS Code"],
  ["windsurf", "Windsurf"],
  ["claudeDesktop", "Claude Desktop"],
];

function snippetText(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function syncConnectServers() {
  const select = $("connect-server");
  const names = state ? state.servers.map((s) => s.name) : [];
  const current = select.value;
  const existing = [...select.options].map((o) => o.value);
  if (existing.join("\n") !== names.join("\n")) {
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
  return false;
}

async function renderConnect() {
  syncConnectServers();
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
    if (currentView !== "connect") return;
    $("snippets").replaceChildren(
      ...CLIENTS.filter(([key]) => setup[key] !== undefined && setup[key] !== null).map(([key, title]) => {
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
      }),
    );
  } catch (error) {
    showError($("connect-error"), error);
  }
}

$("connect-server").addEventListener("change", renderConnect);
$("connect-reveal").addEventListener("click", () => {
  revealKey = !revealKey;
  renderConnect();
});

// --------------------------------------------------------------------------- settings ---

let originsDirty = false;
let portDirty = false;

function renderSettings() {
  if (!state) return;
  $("set-listening").textContent = state.listening || `http://127.0.0.1:${state.port}`;
  if (!portDirty && document.activeElement !== $("set-port")) {
    $("set-port").value = state.port || "";
  }
  const override = state.settings && state.settings.portOverride;
  $("set-port-override").hidden = !override;
  if (override) {
    const given = override.source === "--port" ? `--port ${override.port}` : `${override.source}=${override.port}`;
    $("set-port-override").textContent =
      `Switchboard was started with ${given}. Saving still moves it now, but a launch with that ` +
      `setting uses port ${override.port}, not the one saved here.`;
  }
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
  const settings = state.settings || {};
  if (!$("set-query").disabled) $("set-query").checked = !!settings.allowQueryParamAuth;
  if (!originsDirty && document.activeElement !== $("set-origins")) {
    $("set-origins").value = (settings.queryParamAuthOrigins || []).join("\n");
  }
  if (!$("set-login").disabled) $("set-login").checked = !!settings.startAtLogin;
  const unsupported = settings.startAtLoginSupported === false;
  if (unsupported) $("set-login").disabled = true;
  $("set-login-hint").hidden = !unsupported;
}

$("set-origins").addEventListener("input", () => {
  originsDirty = true;
});

// The port: checked here first, then moved by the core (which binds the new port before it
// lets go of the old one, so a port in use changes nothing).
function portError() {
  const text = $("set-port").value.trim();
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port < 1024 || port > 65535) {
    return "Enter a whole number from 1024 to 65535.";
  }
  return null;
}

$("set-port").addEventListener("input", () => {
  portDirty = true;
  if (!$("set-port-error").hidden) {
    const problem = portError();
    showError($("set-port-error"), problem);
    $("set-port").setAttribute("aria-invalid", problem ? "true" : "false");
  }
});

$("port-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const problem = portError();
  showError($("set-port-error"), problem);
  $("set-port").setAttribute("aria-invalid", problem ? "true" : "false");
  if (problem) {
    $("set-port").focus();
    return;
  }
  const port = Number($("set-port").value.trim());
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
    showError($("set-port-error"), error);
    $("set-port").setAttribute("aria-invalid", "true");
  } finally {
    $("set-port-save").disabled = false;
    await refresh();
  }
});

// "Require the API key": turning it off asks first.
async function setAuthRequired(required) {
  showError($("auth-error"), null);
  $("set-auth").disabled = true;
  try {
    await invoke("set_auth_required", { required });
  } catch (error) {
    showError($("auth-error"), error);
  } finally {
    $("set-auth").disabled = false;
    await refresh();
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

async function saveQueryAuth() {
  showError($("set-query-error"), null);
  const origins = $("set-origins")
    .value.split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
  $("set-query").disabled = true;
  try {
    await invoke("save_query_auth", { enabled: $("set-query").checked, origins });
    originsDirty = false;
    flash($("set-query-result"), "Saved");
  } catch (error) {
    showError($("set-query-error"), error);
  } finally {
    $("set-query").disabled = false;
    await refresh();
  }
}

$("set-query").addEventListener("change", saveQueryAuth);
$("set-query-save").addEventListener("click", saveQueryAuth);

$("set-login").addEventListener("change", async (event) => {
  const input = event.currentTarget;
  showError($("set-login-error"), null);
  input.disabled = true;
  try {
    await invoke("set_start_at_login", { enabled: input.checked });
  } catch (error) {
    input.checked = !input.checked;
    showError($("set-login-error"), error);
  } finally {
    input.disabled = false;
    refresh();
  }
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

// ------------------------------------------------------------------------------ start ---

for (const button of document.querySelectorAll(".tab")) {
  button.addEventListener("click", () => showView(button.dataset.view));
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("auth-off-confirm").hidden) {
    $("auth-off-no").click();
    return;
  }
  if (event.key === "Escape" && (currentView === "edit" || currentView === "logs")) {
    showView("servers");
    $("tab-servers").focus();
  }
});

async function start() {
  try {
    await window.__TAURI__.event.listen("state-changed", () => {
      refresh();
      if (currentView === "logs") loadLogs();
    });
  } catch (error) {
    console.warn("no state-changed events", error);
  }
  refresh();
  // A backstop for counters (sessions, restarts) that change without an event.
  setInterval(() => {
    if (!document.hidden && state) refresh();
  }, STATE_POLL_MS);
}

start();
