import { test } from "node:test";
import assert from "node:assert/strict";
import {
  authSecretRole,
  defaultSecretName,
  formFromServer,
  formProblem,
  needsAcknowledgement,
  serverFromForm,
} from "../js/server-form.js";

// A ServerView as get_state sends it: `config` is the server as in the config file.
const view = (name, kind, config) => ({ name, kind, enabled: config.enabled !== false, config });

/** Opens the form for a saved server and saves it unchanged. */
const roundTrip = (server) => serverFromForm(formFromServer(server), server.config);

test("a local server survives the form unchanged, unknown fields included", () => {
  const config = {
    command: "npx",
    args: ["-y", "@modelcontextprotocol/server-github", ""],
    env: { GITHUB_TOKEN: { secret: "github.token" }, LOG_LEVEL: "debug" },
    cwd: "/srv/github",
    sharing: "shared",
    enabled: false,
    futureOption: { kept: true },
  };
  assert.deepEqual(roundTrip(view("github", "local", config)), config);
});

test("a remote gateway survives the form unchanged, for every kind of auth", () => {
  const auths = [
    { type: "bearer", secret: "maps.token" },
    { type: "basic", username: "me", secret: "maps.password" },
    { type: "query", param: "key", secret: "maps.key" },
    { type: "headers", headers: { "X-API-Key": { secret: "maps.X-API-Key" } } },
    { type: "oauth" },
    { type: "oauth", clientId: "switchboard-desktop", scope: "mcp:tools offline_access" },
    { type: "oauth", clientId: "sb", clientSecret: "maps.client-secret", grant: "client-credentials" },
    // What the form does not show is kept.
    { type: "oauth", clientKey: "maps.key.pem", clientMetadataUrl: "https://switchboard.example/client.json" },
  ];
  for (const auth of auths) {
    const config = {
      url: "https://maps.example.com/mcp",
      transport: "sse",
      headers: { "X-Client": "switchboard" },
      auth,
    };
    assert.deepEqual(roundTrip(view("maps", "remote", config)), config, auth.type);
  }
  const plain = { url: "https://maps.example.com/mcp" };
  assert.deepEqual(roundTrip(view("maps", "remote", plain)), plain);
});

test("defaults are left out, as the config file leaves them out", () => {
  const form = formFromServer(null, "local");
  Object.assign(form, { name: "tool", command: "  tool-server  ", cwd: "   " });
  assert.deepEqual(serverFromForm(form), { command: "tool-server" });

  const remote = formFromServer(null, "remote");
  Object.assign(remote, { name: "r", url: " https://r.example.com/mcp " });
  assert.deepEqual(serverFromForm(remote), { url: "https://r.example.com/mcp" });
});

test("a new server's secrets are named after it", () => {
  assert.equal(defaultSecretName("maps", "token"), "maps.token");
  assert.equal(defaultSecretName("  ", "key"), "server.key");
  const form = formFromServer(null, "remote");
  assert.deepEqual(form.secrets, {
    bearer: "server.token",
    basic: "server.password",
    query: "server.key",
    oauth: "server.client-secret",
  });
  const saved = formFromServer(view("maps", "remote", { url: "https://m.example.com", auth: { type: "bearer", secret: "t" } }));
  assert.deepEqual(saved.secrets, { bearer: "t", basic: "maps.password", query: "maps.key", oauth: "maps.client-secret" });
});

test("blank rows are dropped and names trimmed; values are kept as typed", () => {
  const form = formFromServer(null, "local");
  Object.assign(form, {
    name: "x",
    command: "run",
    env: [
      { key: " A ", value: " spaced " },
      { key: "", value: "dropped" },
      { key: "TOKEN", secret: " x.TOKEN " },
    ],
  });
  assert.deepEqual(serverFromForm(form).env, { A: " spaced ", TOKEN: { secret: "x.TOKEN" } });

  const remote = formFromServer(null, "remote");
  Object.assign(remote, {
    name: "r",
    url: "https://r.example.com",
    headers: [
      { name: " X-A ", value: "1 " },
      { name: " ", value: "dropped" },
    ],
    authType: "headers",
    authHeaders: [
      { name: "X-Key", secret: "r.key" },
      { name: "", secret: "dropped" },
    ],
  });
  const server = serverFromForm(remote);
  assert.deepEqual(server.headers, { "X-A": "1 " });
  assert.deepEqual(server.auth, { type: "headers", headers: { "X-Key": { secret: "r.key" } } });
});

test("switching a server between local and remote drops the other kind's fields", () => {
  const form = formFromServer(view("s", "local", { command: "run", args: ["a"], sharing: "shared" }));
  form.kind = "remote";
  form.url = "https://s.example.com/mcp";
  assert.deepEqual(serverFromForm(form, { command: "run", args: ["a"], sharing: "shared" }), {
    url: "https://s.example.com/mcp",
  });
});

test("only a missing name stops the form; the backend judges the rest", () => {
  assert.equal(formProblem({ name: "  " }), "Give the server a name.");
  assert.equal(formProblem({ name: "not a valid name!" }), null);
});

test("query-parameter auth needs the acknowledgement", () => {
  assert.equal(needsAcknowledgement({ kind: "remote", authType: "query" }), true);
  assert.equal(needsAcknowledgement({ kind: "remote", authType: "bearer" }), false);
  assert.equal(needsAcknowledgement({ kind: "local", authType: "query" }), false);
});

test("OAuth: the form's fields become the config's auth, and back", () => {
  const form = formFromServer(null, "remote");
  assert.deepEqual(form.oauth, { clientId: "", hasSecret: false, scope: "", machine: false });
  Object.assign(form, { name: "notes", url: "https://notes.example.com/mcp", authType: "oauth" });
  // Nothing filled in: Switchboard registers itself and a person signs in.
  assert.deepEqual(serverFromForm(form).auth, { type: "oauth" });

  form.secrets.oauth = " notes.client-secret ";
  form.oauth = { clientId: "  desk-app ", hasSecret: true, scope: "  read write ", machine: true };
  assert.deepEqual(serverFromForm(form).auth, {
    type: "oauth",
    clientId: "desk-app",
    clientSecret: "notes.client-secret",
    scope: "read write",
    grant: "client-credentials",
  });
  // No secret ticked: the name is not saved.
  form.oauth.hasSecret = false;
  assert.equal(serverFromForm(form).auth.clientSecret, undefined);

  const back = formFromServer(view("notes", "remote", { url: form.url, auth: { type: "oauth", clientId: "c", clientSecret: "s", grant: "client-credentials" } }));
  assert.equal(back.authType, "oauth");
  assert.deepEqual(back.oauth, { clientId: "c", hasSecret: true, scope: "", machine: true });
  assert.equal(back.secrets.oauth, "s");
});

test("OAuth fields of another auth type are not carried over", () => {
  const config = { url: "https://n.example.com/mcp", auth: { type: "oauth", clientKey: "n.key", scope: "x" } };
  const form = formFromServer(view("n", "remote", config));
  form.authType = "bearer";
  assert.deepEqual(serverFromForm(form, config).auth, { type: "bearer", secret: "n.token" });
  // A server that was not OAuth before has nothing to keep.
  const bearer = { url: "https://n.example.com/mcp", auth: { type: "bearer", secret: "n.token" } };
  const switched = formFromServer(view("n", "remote", bearer));
  switched.authType = "oauth";
  assert.deepEqual(serverFromForm(switched, bearer).auth, { type: "oauth" });
});

test("the secret widget whose value the auth uses", () => {
  const remote = (authType, oauth) => ({ kind: "remote", authType, oauth });
  assert.equal(authSecretRole(remote("bearer")), "bearer");
  assert.equal(authSecretRole(remote("basic")), "basic");
  assert.equal(authSecretRole(remote("query")), "query");
  assert.equal(authSecretRole(remote("headers")), null);
  assert.equal(authSecretRole(remote("none")), null);
  assert.equal(authSecretRole(remote("oauth", { hasSecret: false })), null);
  assert.equal(authSecretRole(remote("oauth", { hasSecret: true })), "oauth");
  assert.equal(authSecretRole({ kind: "local", authType: "bearer" }), null);
});
