// The add/edit form as plain values, and the server definition the `save_server` and
// `test_server` commands take (`ServerConfig` in crates/core/src/config.rs: IDE-shaped
// `command`/`args`/`env`/`cwd` or `url`/`headers`, plus `auth`, `transport`, `sharing`).
//
// The backend validates what is saved (server names, command or url, URL rules, query-auth
// policy) and its error text is what the form shows; here is only the conversion and the one
// check the form can make before sending. Pure: no DOM, unit-tested in ui/test/.
//
// A form:
//   { kind: "local" | "remote", name,
//     command, args: [string], env: [{key, value} | {key, secret}], cwd, sharing,
//     url, transport, headers: [{name, value}],
//     authType: "none" | "bearer" | "basic" | "query" | "headers" | "oauth", username, param,
//     secrets: {bearer, basic, query, oauth}, // keychain names of the secrets per auth type
//     authHeaders: [{name, secret}],
//     oauth: {clientId, hasSecret, scope, machine} }
//
// OAuth (`{"type": "oauth", clientId?, clientSecret?, clientKey?, clientMetadataUrl?, scope?,
// grant?}`): the form edits the client ID, whether the client has a secret (its keychain name
// is `secrets.oauth`), the scope and the grant ("Machine to machine" is `client-credentials`);
// `clientKey` and `clientMetadataUrl`, which it does not show, are kept as they were.

/** The fields the form edits; every other field of a saved server (`enabled`, keys this
 * version does not know) is kept as it was. */
export const FORM_FIELDS = ["command", "args", "env", "cwd", "sharing", "url", "transport", "headers", "auth"];

export const DEFAULT_SHARING = "per-session";
export const DEFAULT_TRANSPORT = "auto";

/** The OAuth grant where no one signs in: the client's own credentials. */
export const MACHINE_GRANT = "client-credentials";

/** The keychain name offered for a new secret of `serverName`: "github.token". */
export function defaultSecretName(serverName, suffix) {
  return `${String(serverName || "").trim() || "server"}.${suffix}`;
}

const isSecretRef = (source) => !!source && typeof source === "object" && typeof source.secret === "string";

/** The form for `server` (a `ServerView` from the state), or an empty one of `kind`. */
export function formFromServer(server, kind) {
  const config = (server && server.config) || {};
  const name = server ? server.name : "";
  const auth = config.auth || { type: "none" };
  const type = auth.type || "none";
  return {
    kind: server ? server.kind : kind,
    name,
    command: config.command || "",
    args: [...(config.args || [])],
    env: Object.entries(config.env || {}).map(([key, source]) =>
      isSecretRef(source) ? { key, secret: source.secret } : { key, value: String(source) },
    ),
    cwd: config.cwd || "",
    sharing: config.sharing || DEFAULT_SHARING,
    url: config.url || "",
    transport: config.transport || DEFAULT_TRANSPORT,
    headers: Object.entries(config.headers || {}).map(([header, value]) => ({ name: header, value })),
    authType: type,
    username: type === "basic" ? auth.username || "" : "",
    param: type === "query" ? auth.param || "" : "",
    secrets: {
      bearer: type === "bearer" ? auth.secret : defaultSecretName(name, "token"),
      basic: type === "basic" ? auth.secret : defaultSecretName(name, "password"),
      query: type === "query" ? auth.secret : defaultSecretName(name, "key"),
      oauth: type === "oauth" && auth.clientSecret ? auth.clientSecret : defaultSecretName(name, "client-secret"),
    },
    authHeaders:
      type === "headers"
        ? Object.entries(auth.headers || {}).map(([header, source]) => ({
            name: header,
            secret: isSecretRef(source) ? source.secret : defaultSecretName(name, header || "header"),
          }))
        : [],
    oauth: {
      clientId: type === "oauth" ? auth.clientId || "" : "",
      hasSecret: type === "oauth" && !!auth.clientSecret,
      scope: type === "oauth" ? auth.scope || "" : "",
      machine: type === "oauth" && auth.grant === MACHINE_GRANT,
    },
  };
}

/** What the form must have before it is sent at all, or null; everything else is the
 * backend's to judge. */
export function formProblem(form) {
  if (!String(form.name || "").trim()) return "Give the server a name.";
  return null;
}

/** The server definition the form describes; `original` is the saved one when editing. */
export function serverFromForm(form, original = {}) {
  const server = { ...original };
  const savedAuth = original.auth || {};
  for (const field of FORM_FIELDS) delete server[field];
  if (form.kind === "local") {
    server.command = form.command.trim();
    if (form.args.length) server.args = [...form.args];
    const env = {};
    for (const entry of form.env) {
      const key = entry.key.trim();
      if (!key) continue;
      env[key] = entry.secret !== undefined ? { secret: entry.secret.trim() } : entry.value;
    }
    if (Object.keys(env).length) server.env = env;
    if (form.cwd.trim()) server.cwd = form.cwd.trim();
    if (form.sharing !== DEFAULT_SHARING) server.sharing = form.sharing;
    return server;
  }
  server.url = form.url.trim();
  if (form.transport !== DEFAULT_TRANSPORT) server.transport = form.transport;
  const headers = {};
  for (const header of form.headers) {
    const name = header.name.trim();
    if (name) headers[name] = header.value;
  }
  if (Object.keys(headers).length) server.headers = headers;
  const auth = authFromForm(form, savedAuth);
  if (auth) server.auth = auth;
  return server;
}

/** `savedAuth`: the auth as saved, for what the form does not show. */
function authFromForm(form, savedAuth) {
  const type = form.authType;
  const secret = (role) => String(form.secrets[role] || "").trim();
  switch (type) {
    case "bearer":
      return { type, secret: secret("bearer") };
    case "basic":
      return { type, username: form.username.trim(), secret: secret("basic") };
    case "query":
      return { type, param: form.param.trim(), secret: secret("query") };
    case "headers": {
      const headers = {};
      for (const header of form.authHeaders) {
        const name = header.name.trim();
        if (name) headers[name] = { secret: String(header.secret || "").trim() };
      }
      return { type, headers };
    }
    case "oauth": {
      const oauth = form.oauth || {};
      const auth = { type };
      const clientId = String(oauth.clientId || "").trim();
      if (clientId) auth.clientId = clientId;
      if (oauth.hasSecret) auth.clientSecret = secret("oauth");
      const kept = savedAuth.type === "oauth" ? savedAuth : {};
      if (kept.clientKey) auth.clientKey = kept.clientKey;
      if (kept.clientMetadataUrl) auth.clientMetadataUrl = kept.clientMetadataUrl;
      const scope = String(oauth.scope || "").trim();
      if (scope) auth.scope = scope;
      if (oauth.machine) auth.grant = MACHINE_GRANT;
      return auth;
    }
    default:
      return null;
  }
}

/** The role of the one secret widget whose value the form's auth uses (`secrets[role]`),
 * or null: none, or the custom headers' own rows. */
export function authSecretRole(form) {
  if (form.kind !== "remote") return null;
  switch (form.authType) {
    case "bearer":
    case "basic":
    case "query":
      return form.authType;
    case "oauth":
      return form.oauth && form.oauth.hasSecret ? "oauth" : null;
    default:
      return null;
  }
}

/** Whether saving needs the "I understand" box: query-parameter auth sends the key in URLs. */
export function needsAcknowledgement(form) {
  return form.kind === "remote" && form.authType === "query";
}
