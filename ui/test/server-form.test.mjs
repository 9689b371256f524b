import { test } from "node:test";
import assert from "node:assert/strict";
import {
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
  assert.deepEqual(form.secrets, { bearer: "server.token", basic: "server.password", query: "server.key" });
  const saved = formFromServer(view("maps", "remote", { url: "https://m.example.com", auth: { type: "bearer", secret: "t" } }));
  assert.deepEqual(saved.secrets, { bearer: "t", basic: "maps.password", query: "maps.key" });
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
