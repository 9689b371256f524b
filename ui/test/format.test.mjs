import { test } from "node:test";
import assert from "node:assert/strict";
import {
  aggregateSummary,
  listeningText,
  plural,
  portOverrideText,
  serverStats,
  snippetText,
  statusPill,
  targetOf,
} from "../js/format.js";

test("plural", () => {
  assert.equal(plural(0, "session", "sessions"), "0 sessions");
  assert.equal(plural(1, "session", "sessions"), "1 session");
  assert.equal(plural(2, "time", "times"), "2 times");
});

test("a local server's target is its command line, a remote one's its URL", () => {
  assert.equal(targetOf({ kind: "local", config: { command: "npx", args: ["-y", "server"] } }), "npx -y server");
  assert.equal(targetOf({ kind: "local", config: { command: "demo" } }), "demo");
  assert.equal(targetOf({ kind: "remote", config: { url: "https://mcp.example.com/mcp" } }), "https://mcp.example.com/mcp");
  assert.equal(targetOf({ kind: "remote" }), "");
});

test("stats count processes only for local servers", () => {
  const local = { kind: "local", sessions: 1, starts: 3, unexpectedExits: 1 };
  assert.equal(serverStats(local), "1 session · started 3 times · 1 unexpected exit");
  assert.equal(serverStats({ kind: "local" }), "0 sessions · started 0 times · 0 unexpected exits");
  assert.equal(serverStats({ kind: "remote", sessions: 2, starts: 5 }), "2 sessions");
});

test("the pill and the listening address follow the state", () => {
  assert.deepEqual(statusPill({ proxyEnabled: true }), { text: "Running", kind: "ok" });
  assert.deepEqual(statusPill({ proxyEnabled: false }), { text: "Proxy off", kind: "wait" });
  assert.equal(listeningText({ listening: "http://127.0.0.1:8080", port: 8080 }), "http://127.0.0.1:8080");
  assert.equal(listeningText({ port: 9000 }), "http://127.0.0.1:9000");
});

test("snippets: a command line stays as it is, a config block is indented JSON", () => {
  assert.equal(snippetText("claude mcp add demo"), "claude mcp add demo");
  assert.equal(snippetText({ a: { b: 1 } }), '{\n  "a": {\n    "b": 1\n  }\n}');
});

test("a port given at launch is explained", () => {
  assert.equal(portOverrideText(null), null);
  assert.match(portOverrideText({ port: 9000, source: "--port" }), /^Switchboard was started with --port 9000\./);
  assert.match(portOverrideText({ port: 9000, source: "SWITCHBOARD_PORT" }), /started with SWITCHBOARD_PORT=9000\. .*uses port 9000/);
});

test("the aggregate says how many servers it holds", () => {
  assert.equal(aggregateSummary([]), "Every enabled server behind one endpoint; there are none yet.");
  assert.match(
    aggregateSummary([{ enabled: true }, { enabled: false }, { enabled: true }]),
    /^Every enabled server behind one endpoint \(2 of 3 servers\), each tool named <server>__<tool>/,
  );
});
